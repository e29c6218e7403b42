"""Figures of results: the learning curves, and what every figure uses."""

import functools
import os

import numpy as np

from benchmarks.harness import summary

# Text sizes for a figure shown at a page's column width (about 700 px on
# GitHub and the docs site): the figures are 640-1,000 px wide, so this text
# shows at 8-10 px or more.
READABLE = {
  'font.size': 11,
  'axes.titlesize': 11,
  'axes.labelsize': 11,
  'xtick.labelsize': 10,
  'ytick.labelsize': 10,
  'legend.fontsize': 9.5,
  'figure.titlesize': 12,
}
# Two panels side by side, and one panel, in inches (at 110 dpi).
TWO_PANELS = (9, 3.8)
ONE_PANEL = (6.4, 4)


def readable(draw):
  """`draw`, with its figures' text at READABLE's sizes (only within it)."""

  @functools.wraps(draw)
  def draw_readably(*args, **kwargs):
    import matplotlib

    with matplotlib.rc_context(READABLE):
      return draw(*args, **kwargs)

  return draw_readably


def pyplot():
  """matplotlib.pyplot drawing to files (the Agg backend).

  Imported when drawing, not at the top: selecting the Agg backend on import
  would take a notebook's inline backend away.
  """
  import matplotlib

  matplotlib.use('Agg')
  import matplotlib.pyplot as plt

  return plt


def save(figure, path, dpi):
  """Lays `figure` out, saves it at `path`, closes it; returns `path`."""
  figure.tight_layout()
  figure.savefig(path, dpi=dpi)
  pyplot().close(figure)
  return path


def mean_and_range(axis, x, points, fmt='-', label=None):
  """Draws the mean over seeds at each x and shades the seeds' range there
  (`points`: each x's values, one a seed); returns the mean's line."""
  (line,) = axis.plot(x, [np.mean(p) for p in points], fmt, label=label)
  axis.fill_between(
    x, [np.min(p) for p in points], [np.max(p) for p in points],
    color=line.get_color(), alpha=0.2,
  )  # fmt: skip
  return line


@readable
def plot_curves(workdir, results):
  """Test top-1 error and train loss per epoch, mean and range over seeds.

  Where the runs were validated, a marker shows each seed's selected epoch
  and its test top-1 error.
  """
  plt = pyplot()
  from matplotlib import ticker

  figure, axes = plt.subplots(1, 2, figsize=TWO_PANELS)
  marked = False
  for arm, seeds in results['runs'].items():
    runs = [r for r in map(summary.trained, seeds.values()) if r]
    if runs:
      color = plot_arm(axes, arm, runs)
      marked |= mark_selected(axes[0], runs, color)
  if marked:
    axes[0].plot([], [], 'v', color='gray', label='selected by validation')
  axes[0].set(xlabel='epoch', ylabel='test top-1 error (%)')
  axes[1].set(xlabel='epoch', ylabel='train loss', yscale='log')
  # Plain numbers (4.5, not 4.5×10⁰), the minor ones where a decade or less
  # is shown.
  axes[1].yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f'{v:g}'))
  axes[1].yaxis.set_minor_formatter(ticker.LogFormatter(labelOnlyBase=False))
  for axis in axes:
    axis.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    axis.grid(alpha=0.3)
    if axis.get_legend_handles_labels()[0]:  # none where every run diverged
      axis.legend()
  return save_figure(
    figure, results['config'], over_seeds(results), workdir, 'curves'
  )


def over_seeds(results):
  """What a curve shows of the runs' seeds: their mean and range, or one."""
  seeds = max(map(len, results['runs'].values()), default=0)
  return f'mean and range over {seeds} seeds' if seeds > 1 else 'one seed'


@readable
def plot_loss_curves(workdir, results):
  """The language model's validation and train loss against the step,
  mean and range over seeds."""
  plt = pyplot()
  figure, axes = plt.subplots(1, 2, figsize=TWO_PANELS)
  for arm, seeds in results['runs'].items():
    runs = [r for r in map(summary.trained, seeds.values()) if r]
    length = min((len(r) for r in runs), default=0)
    if not length:
      continue
    steps = [e['step'] for e in runs[0][:length]]
    for axis, metric in zip(axes, ('val_loss', 'train_loss'), strict=True):
      values = np.array([[e[metric] for e in r[:length]] for r in runs])
      mean_and_range(axis, steps, values.T, label=arm)
  axes[0].set(xlabel='step', ylabel='validation loss (nats/char)')
  axes[1].set(xlabel='step', ylabel='train loss (nats/char)')
  for axis in axes:
    axis.grid(alpha=0.3)
    if axis.get_legend_handles_labels()[0]:
      axis.legend()
  figure.suptitle(f'Shakespeare, character GPT: {over_seeds(results)}')
  return save(figure, os.path.join(workdir, 'curves.png'), dpi=110)


def plot_arm(axes, arm, runs):
  """One arm's mean curves and their range over seeds; returns its colour."""
  length = min(len(r) for r in runs)
  epochs = np.arange(1, length + 1)
  for axis, metric, scale in (
    (axes[0], 'top1_error', 100),
    (axes[1], 'train_loss', 1),
  ):
    values = scale * np.array([[e[metric] for e in r[:length]] for r in runs])
    line = mean_and_range(axis, epochs, values.T, label=arm)
  return line.get_color()


def mark_selected(axis, runs, color):
  """Marks each validated run's selected epoch at its test top-1 error."""
  validated = [r for r in runs if all('val_top1_error' in e for e in r)]
  for records in validated:
    epoch = summary.selected_epoch(records)
    axis.plot(epoch, 100 * records[epoch - 1]['top1_error'], 'v', color=color)
  return bool(validated)


def save_figure(figure, config, title, workdir, name):
  """Titles `figure` with the model, saves it as workdir/name.png, closes it."""
  figure.suptitle(
    f'CIFAR-100, {config["model"]} width {config["width"]}:\n{title}'
  )
  return save(figure, os.path.join(workdir, f'{name}.png'), dpi=110)
