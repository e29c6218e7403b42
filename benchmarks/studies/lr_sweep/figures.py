"""The learning-rate sweep's figures: error against the base rate, per sweep."""

import os

import numpy as np

from benchmarks.cifar100 import optimizers
from benchmarks.harness import summary
from benchmarks.reporting import plots
from benchmarks.studies.lr_sweep import sweep_sections


def model_setting(config):
  """Its model, width and length in words: 'ResNet18 width 1/16, 13 epochs'."""
  width = optimizers.as_fraction(config.width)
  return f'{config.model} width {width}, {config.epochs} epochs'


def sweep_figures(study, blocks, out):
  """Draws each sweep's figure to OUT/sweep_NAME.png; their paths."""
  paths, config = [], study.base_config()
  for name, points in sweep_sections.study_sweep_points(study, blocks).items():
    each = study.settings.sweeps[name]
    # The baseline's curve shifted by its control's longer step: PLP's step
    # at the study's prediction settings (7/6 at the paper's).
    factor = optimizers.rate_scale(each.matched, config)
    title = (
      f'{name}, {model_setting(config)}: the selected epoch, mean ± std over '
      'seeds'
    )
    path = os.path.join(out, sweep_sections.sweep_figure(name))
    longer_step, seeds = (each.baseline, factor), study.settings.seeds
    paths.append(plot_sweep(path, title, points, longer_step, seeds))
  return paths


@plots.readable
def plot_sweep(path, title, points, longer_step, seeds):
  """Test and validation top-1 error against the learning rate, per arm.

  `points`: (rate, arm, seed -> errors, diverged), as
  `sweep_sections.sweep_points`
  gives them; mean and std over seeds as error bars, on a log axis.
  `longer_step`: (arm, factor): that arm's curve again at rate / factor,
  dashed: what a step `factor` times longer alone would give.
  `seeds`: those that complete a point; a point run on fewer so far has an
  open marker.
  """
  plt = plots.pyplot()

  figure, axes = plt.subplots(1, 2, figsize=plots.TWO_PANELS, sharey=True)
  arms = list(dict.fromkeys(arm for _, arm, _, _ in points))
  complete = sweep_sections.complete_points(points, seeds)
  partial = [p for p in points if p not in complete]
  for axis, metric in zip(axes, ('top1_error', 'val_top1_error'), strict=True):
    for arm in arms:
      draw_sweep_arm(axis, points, partial, arm, metric, longer_step)
    finish_sweep_axis(axis, metric, len(seeds) if partial else None)
  figure.suptitle(title)
  return plots.save(figure, path, dpi=110)


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
    'error (%)',
  )  # fmt: skip
  axis.grid(alpha=0.3)
  axis.legend(fontsize='small')


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
