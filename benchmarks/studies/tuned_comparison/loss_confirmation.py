"""A tuned comparison on a loss task, its confirmation: what fixes it from
the sweep (its number of seeds, its target loss) and its report sections,
each shown only once every planned confirmation run is in (nothing is read
before)."""

import math
import os

import numpy as np

from benchmarks.harness import summary
from benchmarks.reporting import plots
from benchmarks.reporting import tables
from benchmarks.studies import report
from benchmarks.studies.tuned_comparison import loss_sweep

# The confirmation's size, by the rule REPORT.md states: the fewest seeds
# from 8 to 16 with 80% power to detect this difference of final test loss.
EFFECT = 0.02  # nats per character
FEWEST_SEEDS, MOST_SEEDS = 8, 16
# The steps-to-target secondary's target: the headline control's mean
# validation loss at this step of its sweep runs at its chosen rate (half the
# budget: every arm is expected to reach it, so that the ratio is defined),
# to 3 decimals.
TARGET_STEP = 1000
METRIC = 'final_test_loss'


def headline(study):
  """(arm, control) of the study's headline test."""
  (found,) = [t[1:3] for t in study.settings.tests if t[3] == 'headline']
  return found


def confirmation_seeds(spread):
  """The confirmation's number of seeds at the sweep's observed paired
  spread (std of the headline's arm − control over seeds), and its power:
  the fewest from FEWEST_SEEDS with 80% power for EFFECT, or MOST_SEEDS
  (with the power they reach) where none does."""
  return summary.seeds_for_power(EFFECT, spread, FEWEST_SEEDS, MOST_SEEDS)


def sweep_runs(study, blocks, arm, rate):
  """Seed -> records of `arm`'s sweep runs at `rate` (its grid or √2 job)."""
  for job in study.settings.sweep_jobs:
    overrides = study.jobs[job]
    if overrides['learning_rate'] == rate and arm in overrides.get(
      'arms', (arm,)
    ):
      runs = (blocks.get(job) or {'runs': {}})['runs'].get(arm, {})
      return {int(seed): records for seed, records in runs.items()}
  return {}


def sweep_complete_at_chosen(study, blocks):
  """Whether the headline's arm and control have every sweep seed at their
  chosen rates (a study in progress reports what it has)."""
  return all(
    set(study.settings.seeds)
    <= set(sweep_runs(study, blocks, arm, study.settings.chosen[arm]))
    for arm in headline(study)
  )


def statement(study, blocks):
  """What the rules fix from the sweep at the chosen rates: the paired
  spread of the headline's arm − control final validation loss over the
  sweep's seeds, the confirmation's seeds and power, and the target loss
  (the control's mean validation loss at TARGET_STEP)."""
  chosen, seeds = study.settings.chosen, study.settings.seeds
  arm, control = (
    sweep_runs(study, blocks, name, chosen[name]) for name in headline(study)
  )
  spread = summary.mean_std(
    [
      arm[s][-1]['final_val_loss'] - control[s][-1]['final_val_loss']
      for s in seeds
    ]
  )['std']
  n, power = confirmation_seeds(spread)
  at_step = [
    next(r['val_loss'] for r in control[s] if r['step'] == TARGET_STEP)
    for s in seeds
  ]
  return {
    'spread': spread,
    'seeds': n,
    'power': power,
    'target_loss': round(float(np.mean(at_step)), 3),
  }


def confirmation_runs(study):
  """Job -> (its block, its arm): the confirmation's runs."""
  runs = {}
  for job, overrides in study.jobs.items():
    if job not in study.settings.sweep_jobs:
      block = 'untuned' if job.startswith('untuned') else 'confirm'
      runs[job] = (block, overrides['arms'][0])  # one arm a job
  return runs


def runs_in(study, blocks):
  """(runs finished or diverged, runs planned) of the confirmation."""
  runs = confirmation_runs(study)
  done = sum(
    len(report.seeds_in(blocks.get(block), arm)) for block, arm in runs.values()
  )
  return done, len(runs) * len(study.settings.confirmation_seeds)


def complete(study, blocks):
  """Whether every planned confirmation run is in (there are some)."""
  done, planned = runs_in(study, blocks)
  return planned > 0 and done == planned


def reading(low, high, arm, control):
  """What a 95% interval of `arm` − `control` allows one to say."""
  if low > 0:
    return f'`{arm}` worse, by {low:.4f} to {high:.4f}'
  if high < 0:
    return f'`{arm}` better, by {-high:.4f} to {-low:.4f}'
  return (
    f'not distinguishable; `{arm}` lower by more than {-low:.4f} or higher '
    f'by more than {high:.4f} ruled out'
  )


def test_name(block, arm, control):
  """How a stated test is named in the tables (an untuned arm runs at its
  control's rate)."""
  return f'`{arm}` − `{control}`' + (
    f" at `{control}`'s rate" * (block == 'untuned')
  )


def comparison_row(blocks, block, arm, control, test):
  """One pre-stated test's row: final test loss, arm − control by seed."""
  difference = blocks[block]['summary'][f'{arm} - {control}'][METRIC]
  values = difference['per_seed']
  low, high = summary.confidence_interval(values)
  spread = summary.mean_std(values)['std']
  return [
    test_name(block, arm, control),
    test,
    len(values),
    tables.signed(f'{difference["mean"]:+.4f} ± {difference["std"]:.4f}'),
    tables.signed(f'[{low:+.4f}, {high:+.4f}]'),
    tables.p_value(difference),
    f'{summary.detectable_effect(spread, len(values)):.4f}',
    reading(low, high, arm, control),
  ]


def waiting(study, blocks, title):
  """A section's text until the confirmation is complete ('' before it has
  any jobs): how many of its runs are in."""
  done, planned = runs_in(study, blocks)
  if not planned:
    return ''
  return (
    f'## {title}\n\n{done} of the {planned} confirmation runs are in; read '
    'once all have run.\n\n'
  )


TEST_COLUMNS = (
  'arm − control', 'test', 'seeds', 'mean ± std', '95% CI', 'p',
  'detectable (80% power)', 'reading',
)  # fmt: skip


def tests(study, blocks):
  """The confirmation's pre-stated tests, the headline first."""
  title = 'The confirmation on fresh seeds'
  if not complete(study, blocks):
    return waiting(study, blocks, title)
  shown = distinct_tests(study)
  rows = [comparison_row(blocks, *test) for test in shown]
  table = tables.markdown(rows, TEST_COLUMNS)
  for repeat, first in repeats(study).items():
    table += (
      f'\n\n{test_name(*repeat[:3])} ({repeat[3]}) is not a row of its own: '
      f'it reads the very runs of {test_name(*first[:3])} ({first[3]}).'
    )
  return (
    f'## {title}\n\nFinal test loss (nats per character at step 2,000, '
    'every window of the test split), arm minus control paired by seed on '
    'the fresh seeds, each arm at its chosen rate: the mean ± std of the '
    'differences, their 95% confidence interval (t, n − 1 degrees of '
    'freedom), the two-sided paired t-test p, and the smallest true '
    'difference the test detects with 80% power at the spread observed. '
    'Negative: the arm lower (better). One headline; the secondaries are '
    f'not corrected for their number.\n\n{table}\n\n'
  )


def repeats(study):
  """Stated test -> the one before it whose very runs it reads (the drop-in
  secondary, where PLP's chosen rate is AdamW's)."""
  first, repeated = {}, {}
  for block, arm, control, test in study.settings.tests:
    runs = tuple(
      job
      for job in study.report_blocks[block]
      if {arm, control} & set(study.jobs[job]['arms'])
    )
    stated = first.setdefault((arm, control, runs), (block, arm, control, test))
    if stated != (block, arm, control, test):
      repeated[(block, arm, control, test)] = stated
  return repeated


def distinct_tests(study):
  """The stated tests, less any that reads the very runs of one before it."""
  repeated = repeats(study)
  return [test for test in study.settings.tests if test not in repeated]


def seed_steps(runs, target):
  """Seed -> the step at which each run first reaches `target` (None: never)."""
  return {
    int(seed): loss_sweep.steps_to_reach(summary.trained(records), target)
    for seed, records in runs.items()
  }


def ratio_row(arm, steps, baseline, control):
  """An arm's steps to the target and their ratio to the control's
  (`baseline`), by seed: the geometric mean with its 95% interval (a t
  interval of the logs)."""
  reached = {s: v for s, v in steps.items() if v is not None}
  paired = sorted(set(reached) & {s for s, v in baseline.items() if v})
  logs = [math.log(reached[s] / baseline[s]) for s in paired]
  stats = summary.mean_std(list(reached.values())) if reached else None
  row = [
    f'`{arm}`',
    f'{len(reached)} of {len(steps)}',
    f'{stats["mean"]:.0f} ± {stats["std"]:.0f}' if stats else '',
  ]
  if arm == control or len(logs) < 2:
    return row + ['', '']
  ratio, low, high = np.exp([np.mean(logs), *summary.confidence_interval(logs)])
  return row + [
    f'{ratio:.3f} [{low:.3f}, {high:.3f}]',
    tables.p_value(summary.difference_stats(logs)),
  ]


def steps_to_target(study, blocks):
  """The secondary of speed: steps to the target loss, as a ratio to the
  headline control's."""
  if not complete(study, blocks):
    return ''
  target, control = study.settings.target_loss, headline(study)[1]
  runs = blocks['confirm']['runs']
  steps = {arm: seed_steps(runs[arm], target) for arm in runs}
  rows = [ratio_row(a, steps[a], steps[control], control) for a in steps]
  ratio = f'ratio to `{control}` [95% CI]'
  table = tables.markdown(
    rows, ['arm', 'reached', 'steps (mean ± std)', ratio, 'p']
  )
  return (
    '## Steps to a fixed validation loss (secondary)\n\nThe step at which '
    f'each confirmation run first reaches a validation loss of {target:.3f} '
    f"nats per character (fixed before the runs: `{control}`'s mean at step "
    f'{TARGET_STEP:,} of its sweep runs at its chosen rate), interpolated '
    'between evaluations every 100 steps on 256 validation windows; the '
    f"ratio to `{control}`'s steps by seed, as a geometric mean with its 95% "
    'interval and the paired t-test p of the logs, over the seeds where both '
    f'reached it (below 1: faster).\n\n{table}\n\n'
  )


def arm_rows(study, blocks):
  """Each confirmation run's arm, rate and final losses over seeds."""
  rows = []
  for job, (block, arm) in confirmation_runs(study).items():
    runs = blocks[block]['runs'][arm].values()
    untuned = f" at `{study.settings.untuned[1]}`'s rate" * (block == 'untuned')
    label = f'`{arm}`' + untuned
    losses = [
      summary.mean_std([r[-1][metric] for r in runs])
      for metric in ('final_val_loss', 'final_test_loss', 'train_loss')
    ]
    rows.append(
      [label, f'{study.jobs[job]["learning_rate"]:g}', len(runs)]
      + [f'{loss["mean"]:.4f} ± {loss["std"]:.4f}' for loss in losses]
    )
  return rows


def arms(study, blocks):
  """Each arm at its chosen rate: final losses, mean ± std over seeds."""
  if not complete(study, blocks):
    return ''
  table = tables.markdown(
    arm_rows(study, blocks),
    [
      'arm',
      'peak rate',
      'seeds',
      'validation',
      'test',
      'train, last 100 steps (exploratory)',
    ],
  )
  return (
    '## Each arm at its chosen rate\n\nFinal losses in nats per character, '
    'mean ± std over the fresh seeds (validation and test on every window '
    'of their splits); the train loss is the mean over the last 100 steps. '
    'Their validation curves are [`confirmation.png`](confirmation.png).'
    f'\n\n{table}\n\n'
  )


def figures(study, blocks, out):
  """The sweep's figure, and once the confirmation is complete its curves
  (OUT/confirmation.png, `confirmation_figure`)."""
  loss_sweep.sweep_figure(study, blocks, out)
  if complete(study, blocks):
    confirmation_figure(blocks['confirm']['runs'], out, headline(study)[1])


def validation_curves(runs):
  """(steps, arm -> seeds × steps validation losses) of finished runs."""
  curves = {
    arm: {
      int(s): [r['val_loss'] for r in records] for s, records in by_seed.items()
    }
    for arm, by_seed in runs.items()
  }
  steps = [r['step'] for r in next(iter(next(iter(runs.values())).values()))]
  return steps, curves


@plots.readable
def confirmation_figure(runs, out, control):
  """Left: each arm's validation loss against the step (mean, seed range),
  from step 500, where the arms part. Right: each arm minus the headline's
  `control`, paired by seed (mean, range). OUT/confirmation.png, compact;
  its path."""
  plt = plots.pyplot()
  figure, (left, right) = plt.subplots(1, 2, figsize=plots.TWO_PANELS)
  steps, curves = validation_curves(runs)
  shown = np.asarray(steps) >= 500
  seeds = sorted(curves[control])
  for arm, by_seed in curves.items():
    values = np.array([by_seed[s] for s in seeds])[:, shown]
    differences = (
      values - np.array([curves[control][s] for s in seeds])[:, shown]
    )
    for axis, drawn in ((left, values), (right, differences)):
      x = np.asarray(steps)[shown]
      plots.mean_and_range(axis, x, drawn.T, label=arm)
  left.set(xlabel='step', ylabel='validation loss (nats/char)')
  right.set(xlabel='step', ylabel=f'arm − {control} (nats/char, by seed)')
  for axis in (left, right):
    axis.grid(alpha=0.3)
  left.legend()
  figure.suptitle(
    f'Shakespeare GPT, each arm at its chosen rate: mean and range over '
    f'{len(seeds)} fresh seeds'
  )
  return plots.save(figure, os.path.join(out, 'confirmation.png'), dpi=100)


def stated(study, blocks):
  """The confirmation's size and target as the rules compute them from the
  sweep, once every arm's rate is chosen (REPORT.md states them)."""
  if set(study.settings.chosen) != set(study.settings.arms):
    return ''
  if not sweep_complete_at_chosen(study, blocks):
    return (
      "## The confirmation's size and target, from the sweep\n\n"
      "Not computed yet: the sweep's runs at the chosen rates are not all "
      'in.\n\n'
    )
  fixed = statement(study, blocks)
  arm, control = headline(study)
  seeds = study.settings.confirmation_seeds
  runs = (
    f'the confirmation runs seeds {seeds[0]}-{seeds[-1]}'
    if seeds
    else "not yet entered as the confirmation's seeds"
  )
  return (
    "## The confirmation's size and target, from the sweep\n\n"
    f'At the chosen rates, `{arm}` − `{control}` final validation loss over '
    f'seeds {", ".join(map(str, study.settings.seeds))} has a spread (std) '
    f'of {fixed["spread"]:.4f} nats per character: {fixed["seeds"]} seeds '
    f'give the headline test {fixed["power"]:.0%} power to detect '
    f'{EFFECT} ({runs}). The '
    f'target loss of the steps secondary is {fixed["target_loss"]:.3f}.\n\n'
  )
