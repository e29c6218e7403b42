"""A tuned comparison on a loss task, its sweep: each arm's final validation
loss at every point (the rule's points), as a table and a figure."""

import math
import os

from benchmarks.harness import summary
from benchmarks.reporting import plots
from benchmarks.reporting import tables
from benchmarks.studies import tuned_comparison


def seed_losses(block, arm, seeds):
  """Seed -> the arm's final validation loss in a block (inf: diverged)."""
  runs = block['runs'].get(arm, {}) if block else {}
  losses = {int(s): r[-1]['final_val_loss'] for s, r in runs.items()}
  diverged = (block or {}).get('diverged', {}).get(arm, [])
  losses |= {seed: math.inf for seed in diverged}
  return {s: v for s, v in losses.items() if s in seeds}


def sweep_points(study, blocks):
  """Arm -> [(rate, seed -> final validation loss)], by rate."""
  points = {arm: [] for arm in study.settings.arms}
  for job in study.settings.sweep_jobs:
    overrides = study.jobs[job]
    for arm, found in points.items():
      if arm in overrides['arms']:  # a √2 point: its arms only
        losses = seed_losses(blocks.get(job), arm, overrides['seeds'])
        found.append((overrides['learning_rate'], losses))
  return {arm: sorted(found) for arm, found in points.items()}


def cell(losses, seeds):
  """'mean ± std' of the seeds run, or how many diverged or have run."""
  if any(math.isinf(v) for v in losses.values()):
    diverged = sum(math.isinf(v) for v in losses.values())
    return f'diverged ({diverged} of {len(seeds)})'
  if not losses:
    return ''
  stats = summary.mean_std(list(losses.values()))
  done = (
    '' if len(losses) == len(seeds) else f' ({len(losses)} of {len(seeds)})'
  )
  return f'{stats["mean"]:.4f} ± {stats["std"]:.4f}{done}'


def sweep(study, blocks):
  """Each arm's final validation loss at every peak rate, best in bold."""
  points = sweep_points(study, blocks)
  seeds = study.settings.seeds
  best = {
    arm: tuned_comparison.best_rate(found, seeds)
    for arm, found in points.items()
  }
  rates = sorted({rate for found in points.values() for rate, _ in found})
  rows = []
  for rate in rates:
    row = [f'{rate:g}']
    for arm, found in points.items():
      text = cell(dict(found).get(rate, {}), seeds)  # blank: not its √2 point
      row.append(f'**{text}**' if rate == best[arm] and text else text)
    rows.append(row)
  table = tables.markdown(rows, ['peak rate', *points])
  chosen = ', '.join(f'`{arm}` {rate:g}' for arm, rate in best.items() if rate)
  return (
    '## The sweep\n\nFinal validation loss (nats per character at step '
    f'2,000, every window of the validation split), mean ± std over seeds '
    f"{', '.join(map(str, seeds))}; in bold each arm's best among the points "
    'run on every seed, by the rule (lowest mean, ties to the smaller rate).'
    f'\n\n{table}\n\nBest so far: {chosen or "none yet"}.\n\n'
  )


@plots.readable
def sweep_figure(study, blocks, out):
  """Final validation loss against the peak rate per arm (mean, seed range):
  OUT/sweep.png, compact; its path."""
  plt = plots.pyplot()
  figure, axis = plt.subplots(figsize=plots.ONE_PANEL)
  for arm, found in sweep_points(study, blocks).items():
    points = [(rate, list(losses.values())) for rate, losses in found]
    plots.finite_points_and_range(axis, points, arm)
  return plots.one_panel_saved(
    figure, axis, os.path.join(out, 'sweep.png'),
    xscale='log', xlabel='peak learning rate',
    ylabel='final validation loss (nats/char)',
    title='Shakespeare GPT: the sweep (mean, seed range)',
  )  # fmt: skip


def steps_to_reach(records, target):
  """The first step at which a run's validation loss reaches `target`,
  linearly interpolated between its evaluations (None if it never does).

  Evaluations come every `steps_per_epoch` steps; before the first one the
  run is taken to start from the loss at its first evaluation's step, so a
  run already below the target there reaches it at that step.
  """
  steps = [r['step'] for r in records]
  losses = [r['val_loss'] for r in records]
  if losses[0] <= target:
    return float(steps[0])
  for i in range(1, len(losses)):
    if losses[i] <= target:
      fraction = (losses[i - 1] - target) / (losses[i - 1] - losses[i])
      return steps[i - 1] + fraction * (steps[i] - steps[i - 1])
  return None
