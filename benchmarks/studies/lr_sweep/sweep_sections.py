"""The learning-rate sweep's own report sections: the sweeps, the chosen
rates and the confirmations on fresh seeds."""

import dataclasses
import functools
from typing import NamedTuple

import numpy as np

from benchmarks import studies
from benchmarks.cifar100 import errors
from benchmarks.harness import summary
from benchmarks.reporting import tables


class Sweep(NamedTuple):
  """One optimizer's sweep: its arms, the config field of its rate, its jobs."""

  baseline: str
  plp: str
  matched: str  # the baseline with PLP's 7/6 longer step: the control
  field: str
  prefix: str  # of its grid points' job names
  grid: tuple[float, ...]
  wider: bool  # whether its chosen rates are also run longer and wider


@dataclasses.dataclass(frozen=True)
class SweepSettings:
  """What the sweep's sections read."""

  seeds: tuple[int, ...]  # the sweep's seeds (the confirmations' are fresh)
  sweeps: dict[str, Sweep]  # sweep name -> its `Sweep`
  # Block -> its comparisons: (arm, control, whether the headline).
  headline: dict[str, tuple[tuple[str, str, bool], ...]]


def stated_tests(sweeps):
  """Block -> its stated comparisons, (arm, control, whether the headline):
  each confirmation's PLP against its baseline (SGD's the headline) and its
  matched control; the second confirmation's own headline, and PLP at the
  baseline's rate (for the sweeps run wider)."""
  tests = {
    f'confirm_{s.baseline}': (
      (s.plp, s.baseline, name == 'SGD'),
      (s.plp, s.matched, False),
    )
    for name, s in sweeps.items()
  }
  for s in sweeps.values():
    if s.wider:
      tests[f'confirm_wider_{s.baseline}'] = ((s.plp, s.baseline, True),)
      tests[f'untuned_{s.baseline}'] = ((s.plp, s.baseline, False),)
  return tests


def complete_points(points, seeds):
  """The sweep points run on every seed: the only ones a rate is chosen among.

  `points`: (rate, arm, seed -> errors, diverged), as the sweep finds them.
  """
  return [point for point in points if len(point[2]) == len(seeds)]


def headline(study, blocks):
  """The confirmation on fresh seeds, each comparison with its 95% CI."""
  rows = []
  for block, comparisons in study.settings.headline.items():
    found = blocks.get(block, {}).get('summary', {})
    planned = planned_seeds(study, block)
    rows += confirmation_rows(block, comparisons, found, planned)
  if not rows:
    return ''
  return (
    '## The confirmation on fresh seeds\n\nEach arm at its chosen rate, '
    'seeds none of the choices saw; test errors of the validation-selected '
    'epoch, arm minus control in points of %, paired by seed: the mean with '
    'its 95% confidence interval (t, n − 1 degrees of freedom) and the '
    'two-sided paired t-test p. Rows marked headline are the tests stated '
    'before their runs (one a confirmation), each read once all its planned '
    'seeds have run; until then a row says how many have.\n\n'
    '| block | arm − control | metric | test | seeds | mean (per seed) '
    '| 95% CI | p |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n'
    + '\n'.join(sorted(rows, key=lambda row: '| headline' not in row))
    + '\n\n'
  )


def planned_seeds(study, block):
  """How many seeds the jobs of a block are to run (0 if it has none yet)."""
  jobs = study.blocks.get(block, ())
  return max((len(studies.job_config(study, j).seeds) for j in jobs), default=0)


def confirmation_rows(block, comparisons, found, planned):
  """The rows of a block's comparisons found in its summary, top-1 first."""
  rows = []
  for arm, control, is_headline in comparisons:
    difference = found.get(f'{arm} - {control}')
    for metric in errors.METRICS if difference else ():
      test = (
        'headline' if is_headline and metric == 'top1_error' else 'secondary'
      )
      rows.append(
        confirmation_row(
          block, f'{arm} − {control}', difference, metric, test, planned
        )
      )
  return rows


def confirmation_row(block, comparison, difference, metric, test, planned):
  """One comparison's row: mean, per seed, 95% CI and p of `metric`."""
  seeds = len(difference['seeds'])
  if seeds < planned:
    test += f', {seeds} of {planned} seeds so far'
  stats = difference[f'selected_{metric}']
  interval = summary.confidence_interval(stats['per_seed'])
  return tables.markdown_row(
    [
      block,
      comparison,
      metric.replace('_error', ''),
      test,
      seeds,
      f'{100 * stats["mean"]:+.2f} ({tables.per_seed(stats)})',
      'n/a'
      if interval is None
      else '[{:+.2f}, {:+.2f}]'.format(*(100 * bound for bound in interval)),
      tables.p_value(stats),
    ]
  )


# A diverged run counts at chance: 99 of 100 classes wrong, 95 not in a top 5.
CHANCE = {'val_top1_error': 0.99, 'top1_error': 0.99, 'top5_error': 0.95}


SWEEP_METRICS = ('val_top1_error', 'top1_error', 'top5_error')


def seed_errors(block, arm, seeds):
  """Seed -> the selected epoch's errors (chance where it diverged)."""
  runs = block['runs'].get(arm, {})
  diverged = block.get('diverged', {}).get(arm, [])
  by_seed = {}
  for seed in seeds:
    if seed in diverged:
      by_seed[seed] = dict(CHANCE)
    elif str(seed) in runs:
      records = runs[str(seed)]
      by_seed[seed] = {
        m: errors.pick(records, 'selected', m) for m in SWEEP_METRICS
      }
  return by_seed


def sweep_points(study, blocks, arms, field, prefix):
  """(rate, arm, seed -> errors, diverged count) of one sweep, by rate."""
  points = []
  for name, block in blocks.items():
    if not name.startswith(prefix):
      continue
    rate = block['config'][field]
    for arm in arms:
      by_seed = seed_errors(block, arm, study.settings.seeds)
      diverged = len(block.get('diverged', {}).get(arm, []))
      if by_seed:
        points.append((rate, arm, by_seed, diverged))
  return sorted(points, key=lambda point: (point[0], arms.index(point[1])))


def study_sweep_points(study, blocks):
  """Sweep name -> its `sweep_points`, for each sweep with a point run."""
  found = {}
  for name, each in study.settings.sweeps.items():
    arms = (each.baseline, each.plp)
    points = sweep_points(study, blocks, arms, each.field, each.prefix)
    if points:
      found[name] = points
  return found


def selection(study, blocks, sweep):
  """The rule's points of one sweep: arm -> [(rate, seed -> validation
  top-1 error of the validation-selected epoch, chance where it diverged)]."""
  arms = (sweep.baseline, sweep.plp)
  found = {arm: [] for arm in arms}
  for rate, arm, by_seed, _ in sweep_points(
    study, blocks, arms, sweep.field, sweep.prefix
  ):
    found[arm].append(
      (rate, {s: e['val_top1_error'] for s, e in by_seed.items()})
    )
  return found


def chosen_rates(points, seeds):
  """Arm -> (rate, mean validation top-1) of its lowest mean, over `seeds`."""
  best = {}
  for rate, arm, by_seed, _ in complete_points(points, seeds):
    mean = summary.mean_std([e['val_top1_error'] for e in by_seed.values()])
    if arm not in best or mean['mean'] < best[arm][1]:
      best[arm] = (rate, mean['mean'])
  return best


def sweep_table(points):
  """One row per rate and arm: its seeds, diverged runs and errors."""
  lines = [
    '| base rate | arm | seeds | diverged | val top-1 | test top-1 '
    '| test top-5 |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ]
  for rate, arm, by_seed, diverged in points:
    cells = [
      tables.pct(summary.mean_std([e[m] for e in by_seed.values()]))
      for m in SWEEP_METRICS
    ]
    lines.append(
      tables.markdown_row([f'{rate:g}', arm, len(by_seed), diverged, *cells])
    )
  return '\n'.join(lines)


def sweep(study, blocks):
  """Each sweep's grid: errors per rate and arm, and each arm's chosen rate."""
  text = (
    '## The learning-rate sweeps\n\nAt the validation-selected epoch, in %, '
    'mean ± std over the seeds run so far; a diverged run counts at chance '
    "(99% top-1, 95% top-5). Each arm's rate is chosen by the lowest mean "
    'validation top-1 error over all three seeds.\n\n'
  )
  for name, points in study_sweep_points(study, blocks).items():
    said = chosen_so_far(points, study.settings.seeds)
    text += (
      f'### {name}\n\n![{name}: top-1 error against the learning rate]'
      f'({sweep_figure(name)})\n\n{sweep_table(points)}\n\n'
      f'Chosen so far: {said or "no point has all three seeds yet"}.\n\n'
    )
  return text


def chosen_so_far(points, seeds):
  """Each arm's chosen rate, marked where the grid is to be extended.

  That is where the rate is the lowest or highest that the arm has run on
  every seed.
  """
  said = []
  complete_runs = complete_points(points, seeds)
  for arm, (rate, error) in chosen_rates(points, seeds).items():
    complete = [p[0] for p in complete_runs if p[1] == arm]
    edge = rate in (min(complete), max(complete))
    note = ', at an edge of the complete points: extend the grid' * edge
    said.append(f'{arm} {rate:g} ({100 * error:.2f}{note})')
  return '; '.join(said)


def recalibrated(records):
  """The records with their BatchNorm-recalibrated errors as the plain ones."""
  return [{**r, **r['batch_norm_recalibrated']} for r in records]


def recalibrated_runs(runs):
  """The seeds whose every epoch has BatchNorm-recalibrated errors."""
  return {
    seed: records for seed, records in runs.items()
    if all('batch_norm_recalibrated' in r for r in records)
  }  # fmt: skip


def selected_top1(records):
  """Test top-1 error at the epoch selected on (plain) validation."""
  return errors.pick(records, 'selected', 'top1_error')


def selected_recalibrated_top1(records):
  """The same epoch's test top-1 with BatchNorm recalibrated."""
  epoch = errors.selected_epoch(records)
  return recalibrated(records)[epoch - 1]['top1_error']


def selected_top5(records):
  """Test top-5 error at the epoch selected on validation."""
  return errors.pick(records, 'selected', 'top5_error')


def last_top1(records):
  """Test top-1 error at the last epoch (no selection)."""
  return errors.pick(records, 'final', 'top1_error')


def last_three_top1(records):
  """Mean test top-1 error over the last 3 epochs (no selection)."""
  return float(np.mean([r['top1_error'] for r in records[-3:]]))


# The second confirmation's estimators: (label, test, records -> error).
ESTIMATORS = (
  ('top-1, selected epoch', 'headline', selected_top1),
  ('top-5, selected epoch', 'secondary', selected_top5),
  ('top-1, last epoch', 'secondary', last_top1),
  ('top-1, mean of the last 3 epochs', 'secondary', last_three_top1),
  ('top-1, BatchNorm recalibrated, at the selected epoch', 'exploratory',
   selected_recalibrated_top1),
  ('top-1, BatchNorm recalibrated, selected by its validation', 'exploratory',
   lambda r: selected_top1(recalibrated(r))),
)  # fmt: skip

# PLP at SGD's rate at width 1/16: its stated secondaries are the selected
# epoch's; the rest were stated for the second confirmation only. Its `sgd`
# runs predate the recalibrated errors.
UNTUNED_ESTIMATORS = (
  ('top-1, selected epoch', 'secondary', selected_top1),
  ('top-5, selected epoch', 'secondary', selected_top5),
  ('top-1, last epoch', 'exploratory', last_top1),
  ('top-1, mean of the last 3 epochs', 'exploratory', last_three_top1),
)


def estimator_row(label, test, estimate, baseline, plp):
  """One estimator's row: each arm's mean, and PLP minus SGD by seed."""
  seeds = sorted(set(baseline) & set(plp), key=int)
  arms = [[estimate(runs[s]) for s in seeds] for runs in (baseline, plp)]
  stats = summary.difference_stats(np.subtract(arms[1], arms[0]))
  interval = summary.confidence_interval(stats['per_seed'])
  return tables.markdown_row([
    label, test, len(seeds),
    *(tables.pct(summary.mean_std(values)) for values in arms),
    f'{tables.pct(stats, sign=True)} ({tables.per_seed(stats)})',
    'n/a' if interval is None
    else '[{:+.2f}, {:+.2f}]'.format(*(100 * b for b in interval)),
    tables.p_value(stats),
    'n/a' if interval is None
    else f'{100 * summary.detectable_effect(stats["std"], len(seeds)):.2f}',
  ])  # fmt: skip


ESTIMATOR_COLUMNS = (
  '"Detectable": the smallest effect, in points, that a paired t-test at this '
  'n and the observed spread detects with 80% power.\n\n'
  '| estimator | test | seeds | sgd | plp | plp − sgd (per seed) | 95% CI '
  '| p | detectable |\n'
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
)


def estimator_section(study, blocks, *, block, estimators, intro):
  """PLP minus SGD in `block` by each estimator; '' without both arms."""
  del study  # one block of this study's
  runs = blocks.get(block, {}).get('runs', {})
  if not {'sgd', 'plp'} <= set(runs):
    return ''
  rows = [estimator_row(*e, runs['sgd'], runs['plp']) for e in estimators]
  return intro + ESTIMATOR_COLUMNS + '\n'.join(rows) + '\n\n'


# The second confirmation's headline, secondaries and recalibrated errors.
second_confirmation = functools.partial(
  estimator_section,
  block='confirm_wider_sgd',
  estimators=ESTIMATORS,
  intro=(
    '## The second confirmation: longer and wider, on fresh seeds\n\n'
    '`plp` at 0.064 minus `sgd` at 0.0452548, ResNet18 at width 1/8, 26 '
    'epochs, seeds 3-10 as they finish; test errors in %, mean ± std per '
    'arm, the paired difference in points by seed with its 95% CI (t, n − 1 '
    'degrees of freedom) and two-sided paired t-test p. The headline is read '
    'once all 8 seeds have run. "BatchNorm recalibrated": the same weights '
    'with BatchNorm statistics recomputed from 50 training batches. '
  ),
)

# PLP added at SGD's tuned rate, without retuning, at width 1/16.
untuned_secondary = functools.partial(
  estimator_section,
  block='untuned_sgd',
  estimators=UNTUNED_ESTIMATORS,
  intro=(
    "## PLP added at SGD's rate, without retuning\n\n"
    "`plp` at SGD's chosen rate 0.0452548 minus the first confirmation's "
    '`sgd` at the same rate, ResNet18 at width 1/16, 13 epochs, seeds 3-10; '
    "columns as in the second confirmation's table. "
  ),
)


def recalibration_moves(study, blocks):
  """How far recalibrating BatchNorm moves each arm's selected-epoch error."""
  del study  # every block whose runs recorded recalibrated errors
  rows = []
  for name, block in blocks.items():
    for arm, runs in block['runs'].items():
      recorded = recalibrated_runs(runs)
      if recorded:
        plain = {s: selected_top1(r) for s, r in recorded.items()}
        moved = {s: selected_recalibrated_top1(r) for s, r in recorded.items()}
        rows.append(estimator_row(
          f'{name}, {arm}', 'exploratory', float, plain, moved
        ))  # fmt: skip
  if not rows:
    return ''
  return (
    '## How far recalibrating BatchNorm moves each arm\n\n'
    'Every arm whose runs recorded BatchNorm-recalibrated errors: test top-1 '
    'error in % at the epoch selected on plain validation, as evaluated '
    '("plain") and with BatchNorm statistics recomputed from 50 training '
    'batches, and recalibrated minus plain in points by seed with its 95% CI, '
    'p and detectable effect as above. Exploratory.\n\n'
    '| block, arm | test | seeds | plain | recalibrated | recalibrated − plain '
    '(per seed) | 95% CI | p | detectable |\n'
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
    + '\n'.join(rows)
    + '\n\n'
  )


def sweep_figure(name):
  """The file name of a sweep's figure, beside the report."""
  return f'sweep_{name}.png'
