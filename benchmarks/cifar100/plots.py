"""Figures of results: the learning curves and the trajectory probes."""

import os

import numpy as np

from benchmarks.cifar100 import summary
from benchmarks.cifar100 import trajectory


def pyplot():
  """matplotlib.pyplot drawing to files (the Agg backend).

  Imported when drawing, not at the top: selecting the Agg backend on import
  would take a notebook's inline backend away.
  """
  import matplotlib

  matplotlib.use('Agg')
  import matplotlib.pyplot as plt

  return plt


def plot_curves(workdir, results):
  """Test top-1 error and train loss per epoch, mean and range over seeds.

  Where the runs were validated, a marker shows each seed's selected epoch
  and its test top-1 error.
  """
  plt = pyplot()
  from matplotlib.ticker import MaxNLocator

  figure, axes = plt.subplots(1, 2, figsize=(11, 4))
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
  for axis in axes:
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.grid(alpha=0.3)
    if axis.get_legend_handles_labels()[0]:  # none where every run diverged
      axis.legend()
  return save_figure(
    figure, results['config'], 'mean and range over seeds', workdir, 'curves'
  )


def plot_arm(axes, arm, runs):
  """One arm's mean curves and their range over seeds; returns its colour."""
  length = min(len(r) for r in runs)
  epochs = np.arange(1, length + 1)
  for axis, metric, scale in (
    (axes[0], 'top1_error', 100),
    (axes[1], 'train_loss', 1),
  ):
    values = scale * np.array([[e[metric] for e in r[:length]] for r in runs])
    (line,) = axis.plot(epochs, values.mean(axis=0), label=arm)
    axis.fill_between(
      epochs,
      values.min(axis=0),
      values.max(axis=0),
      color=line.get_color(),
      alpha=0.2,
    )
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
  plt = pyplot()

  figure.suptitle(
    f'CIFAR-100, {config["model"]} width {config["width"]}:\n{title}'
  )
  figure.tight_layout()
  path = os.path.join(workdir, f'{name}.png')
  figure.savefig(path, dpi=110)
  plt.close(figure)
  return path


def trajectory_curves(runs):
  """Steps and, per probed name, the relative errors averaged over seeds."""
  probes = [[p for r in h for p in r.get('trajectory', [])] for h in runs]
  length = min(len(p) for p in probes)
  if not length:
    return None, {}
  steps = [p['step'] for p in probes[0][:length]]
  layers = probes[0][0]['relative_error']
  return steps, {
    name: np.mean(
      [[p['relative_error'][name] for p in run[:length]] for run in probes],
      axis=0,
    )
    for name in layers
  }


def plot_trajectory(workdir, results):
  """Per layer, how far PLP's prediction lands from training's path."""
  plt = pyplot()

  probed = probed_arms(results)
  if not probed:
    return None
  figure, axes = plt.subplots(
    1, len(probed), figsize=(max(8, 6 * len(probed)), 4.4), squeeze=False
  )
  layers = trajectory.kernel_names(results['config'])
  for axis, (arm, probe) in zip(axes[0], probed.items(), strict=True):
    draw_trajectory(axis, arm, probe, layers)
  return save_figure(
    figure,
    results['config'],
    "where PLP's prediction (step size 1) lands from plain training's path",
    workdir,
    'trajectory',
  )


def probed_arms(results):
  """Arm -> (steps, layer -> errors, seeds) of its trained, probed runs."""
  probed = {}
  for arm, seeds in results['runs'].items():
    runs = [h for h in map(summary.trained, seeds.values()) if h]
    steps, errors = trajectory_curves(runs) if runs else (None, {})
    if errors:
      probed[arm] = steps, errors, len(runs)
  return probed


def draw_trajectory(axis, arm, probe, layers):
  """One arm's panel: each layer's curve, all parameters' in black."""
  steps, errors, seeds = probe
  colors = pyplot().cm.viridis(np.linspace(0, 1, len(layers)))
  for name, color in zip(layers, colors, strict=True):
    axis.plot(steps, errors[name], color=color, lw=0.8, alpha=0.8)
  axis.plot(
    steps, errors[trajectory.ALL], color='black', lw=2, label='all parameters'
  )
  axis.axhline(1, color='red', ls='--', lw=1, label='no better than h3')
  axis.set(
    xlabel='step',
    ylabel='||prediction - m34|| / ||m34 - h3||',
    ylim=(0, None),
    title=f'{arm}: {len(layers)} layers, input (purple) to output '
    f'(yellow); mean of {seeds} seed(s)',
  )
  axis.title.set_fontsize(9)
  axis.grid(alpha=0.3)
  axis.legend(fontsize=8)


def plot_sweep(path, title, points, longer_step, seeds):
  """Test and validation top-1 error against the learning rate, per arm.

  `points`: (rate, arm, seed -> errors, diverged) as `sections.sweep_points`
  gives them; mean and std over seeds as error bars, on a log axis.
  `longer_step`: (arm, factor): that arm's curve again at rate / factor,
  dashed: what a step `factor` times longer alone would give.
  `seeds`: those that complete a point; a point run on fewer so far has an
  open marker.
  """
  plt = pyplot()

  figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
  arms = list(dict.fromkeys(arm for _, arm, _, _ in points))
  complete = summary.complete_points(points, seeds)
  partial = [p for p in points if p not in complete]
  for axis, metric in zip(axes, ('top1_error', 'val_top1_error'), strict=True):
    for arm in arms:
      draw_sweep_arm(axis, points, partial, arm, metric, longer_step)
    finish_sweep_axis(axis, metric, len(seeds) if partial else None)
  figure.suptitle(title)
  figure.tight_layout()
  figure.savefig(path, dpi=110)
  plt.close(figure)
  return path


def draw_sweep_arm(axis, points, partial, arm, metric, longer_step):
  """`arm`'s error bars, its shifted curve if `longer_step` names it, and
  open markers at its `partial` points (fewer seeds so far)."""
  rates, means, stds = sweep_curve(points, arm, metric)
  bars = axis.errorbar(rates, means, stds, marker='o', capsize=3, label=arm)
  shifted_arm, factor = longer_step
  if arm == shifted_arm:
    axis.plot(
      np.array(rates) / factor, means, ls='--', color='gray',
      label=f'{arm} at rate / {factor:.3g}: a longer step alone',
    )  # fmt: skip
  open_rates, open_means, _ = sweep_curve(partial, arm, metric)
  if open_rates:  # drawn over the bar's filled marker, in its colour
    color = bars[0].get_color()
    axis.plot(open_rates, open_means, 'o', color=color, mfc='white', zorder=3)


def finish_sweep_axis(axis, metric, complete_seeds):
  """Log axis, labels and legend; `complete_seeds`: the count a point needs,
  where some point has fewer so far (None where none has)."""
  if complete_seeds:
    axis.plot(
      [], [], 'o', color='gray', mfc='white',
      label=f'fewer than {complete_seeds} seeds so far',
    )  # fmt: skip
  axis.set(
    xscale='log', xlabel='base learning rate',
    ylabel=f'{"test" if metric == "top1_error" else "validation"} top-1 '
    'error (%), selected epoch',
  )  # fmt: skip
  axis.grid(alpha=0.3)
  axis.legend(fontsize=8)


def sweep_curve(points, arm, metric):
  """Rates, mean and std (in %) over seeds of `arm`'s `metric`."""
  rates, means, stds = [], [], []
  for rate, point_arm, errors, _ in points:
    if point_arm == arm:
      stats = summary.mean_std([100 * e[metric] for e in errors.values()])
      rates.append(rate)
      means.append(stats['mean'])
      stds.append(stats['std'])
  return rates, means, stds
