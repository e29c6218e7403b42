"""CIFAR-100's errors as tables and learning curves (`errors` computes
them)."""

import os

import numpy as np

from benchmarks.cifar100 import errors
from benchmarks.harness import summary
from benchmarks.reporting import plots
from benchmarks.reporting import tables


def format_table(results):
  """The side-by-side table of the errors (in %), one column per kind."""

  def aligned(stats):  # a spread needs two seeds
    if stats.get('n', 2) < 2:
      return f'{100 * stats["mean"]:6.2f}'
    return f'{100 * stats["mean"]:6.2f} ± {100 * stats["std"]:4.2f}'

  entries = results['summary']
  kinds = [
    k
    for k in errors.KINDS
    if any(f'{k}_top1_error' in v for v in entries.values())
  ]
  titles = [f'{kind} {m}' for m in ('top-1', 'top-5') for kind in kinds]
  header = f'{"arm":22s} ' + ' '.join(f'{t:>15s}' for t in titles)
  header += f' {"images/s":>9s}'
  lines = [header, '-' * len(header)]
  for name, entry in entries.items():
    cells = [aligned(entry[f'{k}_{m}']) for m in errors.METRICS for k in kinds]
    rate = entry.get('images_per_second')
    rate = f'{rate["mean"]:9.0f}' if rate else ''
    lines.append(
      f'{name:22s} ' + ' '.join(f'{c:>15s}' for c in cells) + f' {rate}'
    )
  seeds = max((len(v.get('seeds', [])) for v in entries.values()), default=0)
  lines.append(
    f'errors in %, mean ± std over {seeds} seeds'
    if seeds > 1
    else 'errors in %, one seed: no spread to show (set config.seeds for more)'
  )
  if 'selected' in kinds:
    lines.append(
      'selected: test errors at the epoch of lowest validation top-1 error'
    )
  return '\n'.join(lines)


def difference_cells(difference, kinds, with_seeds):
  """Each kind and metric's paired difference and its p, as table cells.

  `with_seeds(kind, metric)`: whether the cell lists the per-seed values.
  """
  cells = []
  for kind in kinds:
    for metric in errors.METRICS:
      stats = difference[f'{kind}_{metric}']
      shown = tables.pct(stats, sign=True)
      if with_seeds(kind, metric):
        shown += f' ({tables.per_seed(stats)})'
      cells += [shown, tables.p_value(stats)]
  return cells


def arm_table(blocks, kinds):
  """Per block and arm: test errors of `kinds` (and the selected epoch)."""
  titles = [f'{kind} {m}' for kind in kinds for m in ('top-1', 'top-5')]
  selected = 'selected' in kinds
  titles += ['selected epoch'] if selected else []
  lines = [
    tables.markdown_row(['block', 'arm', 'seeds', *titles]),
    '| --- | --- | --- |' + ' --- |' * len(titles),
  ]
  for block, results in blocks.items():
    for arm in results['config']['arms']:
      entry = results['summary'].get(arm)
      if not entry:
        continue
      cells = [
        tables.pct(entry[f'{kind}_{metric}'])
        for kind in kinds
        for metric in errors.METRICS
      ]
      if selected:
        epoch = entry['selected_epoch']
        per = ', '.join(map(str, epoch['per_seed']))
        cells.append(f'{epoch["mean"]:.1f} ({per})')
      lines.append(
        tables.markdown_row([block, arm, len(entry['seeds']), *cells])
      )
  return '\n'.join(lines)


def difference_header(leading_titles, kinds, unit):
  """Header lines of a table of `difference_row`s; top-1 lists per `unit`."""
  titles = list(leading_titles)
  for kind in kinds:
    titles += [f'Δ {kind} top-1 (per {unit})', 'p', f'Δ {kind} top-5', 'p']
  return [
    tables.markdown_row(titles),
    '|' + ' --- |' * len(titles),
  ]


def difference_row(leading_cells, difference, kinds):
  """One table row: `leading_cells`, then each kind's differences and p."""
  cells = [*leading_cells] + difference_cells(
    difference, kinds, lambda _, metric: metric == 'top1_error'
  )
  return tables.markdown_row(cells)


def difference_table(blocks, kinds):
  """Arm minus control, paired by seed, with two-sided paired t-tests."""
  lines = difference_header(('block', 'arm − control', 'seeds'), kinds, 'seed')
  for block, results in blocks.items():
    # The summary's pairs, in the order its task compared them.
    for key, difference in results['summary'].items():
      if ' - ' in key:
        arm, control = key.split(' - ')
        lines.append(
          difference_row(
            (block, f'{arm} − {control}', len(difference['seeds'])),
            difference,
            kinds,
          )
        )
  return '\n'.join(lines)


@plots.readable
def plot_curves(workdir, results):
  """Test top-1 error and train loss per epoch, mean and range over seeds.

  Where the runs were validated, a marker shows each seed's selected epoch
  and its test top-1 error.
  """
  plt = plots.pyplot()
  from matplotlib import ticker

  figure, axes = plt.subplots(1, 2, figsize=plots.TWO_PANELS)
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
    plots.gridded(axis)
  return save_figure(
    figure, results['config'], plots.over_seeds(results), workdir, 'curves'
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
    line = plots.mean_and_range(axis, epochs, values.T, label=arm)
  return line.get_color()


def mark_selected(axis, runs, color):
  """Marks each validated run's selected epoch at its test top-1 error."""
  validated = [r for r in runs if all('val_top1_error' in e for e in r)]
  for records in validated:
    epoch = errors.selected_epoch(records)
    axis.plot(epoch, 100 * records[epoch - 1]['top1_error'], 'v', color=color)
  return bool(validated)


def save_figure(figure, config, title, workdir, name):
  """Titles `figure` with the model, saves it as workdir/name.png, closes it."""
  figure.suptitle(
    f'CIFAR-100, {config["model"]} width {config["width"]}:\n{title}'
  )
  return plots.save(figure, os.path.join(workdir, f'{name}.png'), dpi=110)
