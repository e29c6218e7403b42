"""Is PLP more than a longer step? The prediction step k at a tuned AdamW rate.

Over one cycle whose last two updates are u1 and u2, PLP moves h3 by
(k/2)(u1 + u2) − u2/2. Where consecutive updates are aligned (u1 = u2 = u),
that is (k − 1/2)u: the cycle walks (5/2 + k)u instead of 3u, as AdamW would
at m(k) = 1 + (2k − 1)/6 times its rate. So each k of the grid is run twice,
on the selection seeds 0-2, in `adamw_peers`' exact setting (nanoGPT's CPU
GPT, 2,000 steps): `adamw_plp` at AdamW's confirmed rate η* with step k
(`plp_k{k}`), and `adamw` at m(k)·η* (`adamw_k{k}`, the rate PLP's cycle
walks). If PLP were only a longer step, the two would coincide.

The runs `adamw_peers` made at these exact settings (AdamW at η*, which is
m(1/2)·η*, and PLP at k = 1, seeds 0-2: its √2 point 5.66e-3) are borrowed.
The best k is the one of lowest mean final validation loss over seeds 0-2,
ties to the smaller |k − 1/2|; at an edge of the grid, the grid is widened
by 0.5 past it first. Then the confirmation, its size and its tests are
stated in REPORT.md before its first run.
"""

import dataclasses
import fractions
import math
import os

import numpy as np

from benchmarks.harness import summary
from benchmarks.reporting import plots
from benchmarks.reporting import tables
from benchmarks.studies import Borrowed
from benchmarks.studies import Study
from benchmarks.studies import adamw_peers
from benchmarks.studies import report
from benchmarks.studies.tuned_comparison import loss_confirmation
from benchmarks.studies.tuned_comparison import loss_sweep

SEEDS = (0, 1, 2)
ETA = adamw_peers.CHOSEN['adamw']  # 4e-3 * 2**0.5: AdamW's confirmed rate
K_GRID = (-1.0, -0.5, 0.0, 0.5, 1.0, 2.0)
K_STEP = 0.5  # the grid's widening past an edge
# The confirmation's size: the fewest fresh seeds, from FEWEST_SEEDS, with
# 80% power for EFFECT at the selection's paired spread, at most MOST_SEEDS.
EFFECT = 0.01  # nats per character
FEWEST_SEEDS, MOST_SEEDS = 8, 16
# adamw_peers' √2 point at η*: AdamW there is `adamw_k0.5`, PLP `plp_k1`.
PEERS_AT_ETA = 'peers_lr_0.00565685'
BORROWED_AS = {'plp_k1': 'adamw_plp', 'adamw_k0.5': 'adamw'}


@dataclasses.dataclass(frozen=True)
class Settings:
  """What the study's sections read."""

  k_grid: tuple[float, ...]


# The confirmation, entered from the complete selection by `statement`
# (REPORT.md states both before the confirmation's first run; a test holds
# them to the rule on the committed runs).
BEST_K = -0.5
CONFIRMATION_SEEDS = tuple(range(3, 16))
# Its pre-stated tests of final test loss, paired by seed: (block, arm,
# control, 'headline' or 'secondary').
TESTS = (
  ('headline', 'adamw_plp', 'adamw', 'headline'),
  ('longer_step_k1', 'adamw_plp', 'adamw', 'secondary'),
  ('longer_step_best', 'adamw_plp', 'adamw', 'secondary'),
)
# adamw_peers' confirmation: AdamW at η* and PLP at k = 1 on seeds 3-10,
# fresh for this study's choice.
PEERS_CONFIRM = 'benchmarks/results/shakespeare/adamw_peers/confirm_'
PEERS_SEEDS = tuple(range(3, 11))


def overrides(arm, rate, seeds, k=None):
  """A job training `arm` alone at `rate` (PLP with step `k`)."""
  job = {'arms': (arm,), 'learning_rate': rate, 'seeds': seeds}
  return job if k is None else {**job, 'prediction.step_size': k}


def confirmation_jobs(best, seeds):
  """(jobs, borrowed, blocks) of the confirmation at the best k on `seeds`:
  none before the best k is entered."""
  if best is None:
    return {}, {}, {}
  borrowed = {
    f'peers_confirm_{arm}': Borrowed(
      f'{PEERS_CONFIRM}{arm}', tuple(s for s in seeds if s in PEERS_SEEDS)
    )
    for arm in ('adamw', 'adamw_plp')
  }
  jobs, more = {}, tuple(s for s in seeds if s not in PEERS_SEEDS)
  if more:  # beyond adamw_peers' seeds: both of its arms on the rest
    jobs['more_adamw'] = overrides('adamw', ETA, more)
    jobs['more_plp_k1'] = overrides('adamw_plp', ETA, more, k=1.0)
  plp_k1 = ('peers_confirm_adamw_plp', *(('more_plp_k1',) if more else ()))
  adamw_eta = ('peers_confirm_adamw', *(('more_adamw',) if more else ()))
  plp_best = plp_k1
  if best != 1:
    plp_best = (f'confirm_{plp_job(best)}',)
    jobs[plp_best[0]] = overrides('adamw_plp', ETA, seeds, k=best)
  adamw_at = {0.5: adamw_eta}  # m(1/2) = 1: AdamW at η* itself
  for k in (1.0, best):
    if k not in adamw_at:
      adamw_at[k] = (f'confirm_{adamw_job(k)}',)
      jobs[adamw_at[k][0]] = overrides('adamw', ETA * walk_factor(k), seeds)
  # AdamW's jobs first: a block's first arm is the one every other arm is
  # compared with (PLP − AdamW, as stated).
  blocks = {
    'headline': adamw_eta + plp_best,
    'longer_step_k1': adamw_at[1.0] + plp_k1,
    'longer_step_best': adamw_at[best] + plp_best,
  }
  return jobs, borrowed, blocks


def walk_factor(k):
  """m(k): the factor on AdamW's rate that walks as far as PLP's cycle."""
  return 1 + (2 * k - 1) / 6


def plp_job(k):
  return f'plp_k{k:g}'


def adamw_job(k):
  return f'adamw_k{k:g}'


def base_config():
  return adamw_peers.base_config()


def selection_jobs(grid):
  """`plp_k{k}` and `adamw_k{k}` for each k, less the borrowed ones."""
  jobs = {}
  for k in grid:
    jobs[plp_job(k)] = overrides('adamw_plp', ETA, SEEDS, k=k)
    jobs[adamw_job(k)] = overrides('adamw', ETA * walk_factor(k), SEEDS)
  return {job: c for job, c in jobs.items() if job not in BORROWED_AS}


def seed_losses(blocks, job):
  """Seed -> final validation loss of a selection job (borrowed or run)."""
  if job in BORROWED_AS:
    return loss_sweep.seed_losses(
      blocks.get(PEERS_AT_ETA), BORROWED_AS[job], SEEDS
    )
  arm = 'adamw_plp' if job.startswith('plp_') else 'adamw'
  return loss_sweep.seed_losses(blocks.get(job), arm, SEEDS)


def best_k(blocks, grid):
  """The rule: lowest mean final validation loss (4 decimals) over seeds
  0-2, ties to the smaller |k − 1/2|; None until every k has every seed."""
  means = {}
  for k in grid:
    losses = seed_losses(blocks, plp_job(k))
    if set(losses) != set(SEEDS):
      return None
    means[k] = round(float(np.mean(list(losses.values()))), 4)
  return min(grid, key=lambda k: (means[k], abs(k - 0.5)))


def selection(study, blocks):
  """The selection table: each k, PLP at η* beside AdamW at m(k)·η*."""
  grid = study.settings.k_grid
  rows = [
    '| k | m(k) | `adamw_plp`, step k, at η* | `adamw` at m(k)·η* | '
    'PLP − AdamW at m(k)·η*, paired |',
    '| --- | --- | --- | --- | --- |',
  ]
  for k in grid:
    plp = seed_losses(blocks, plp_job(k))
    adamw = seed_losses(blocks, adamw_job(k))
    paired = [plp[s] - adamw[s] for s in SEEDS if s in plp and s in adamw]
    difference = (
      f'{np.mean(paired):+.4f} (n {len(paired)})'
      if paired and all(math.isfinite(d) for d in paired)
      else ''
    )
    rows.append(
      f'| {k:g} | {walk_factor(k):.4g} | {loss_sweep.cell(plp, SEEDS)} '
      f'| {loss_sweep.cell(adamw, SEEDS)} | {difference} |'
    )
  best = best_k(blocks, grid)
  chosen = (
    f'The best k by the rule: **{best:g}**.'
    if best is not None
    else 'No k chosen until every k has run on every selection seed.'
  )
  return (
    '## Selection: the prediction step k at η*, and the longer step\n\n'
    f'Final validation loss in nats per character, mean ± std over seeds '
    f"0-2; η* = {ETA:.6g} (AdamW's confirmed rate in `adamw_peers`); k = 1 "
    "and m = 1 are `adamw_peers`' runs at η*. "
    f'{chosen}\n\n' + '\n'.join(rows) + '\n\n'
  )


def wider_grid(blocks, grid):
  """The grid, widened by K_STEP past an edge where the best k is on it."""
  best = best_k(blocks, grid)
  if best == grid[0]:
    return (best - K_STEP, *grid)
  if best == grid[-1]:
    return (*grid, best + K_STEP)
  return grid


def statement(blocks, grid):
  """What the rules fix from the selection, once its best k is interior:
  the best k, the paired spread over seeds 0-2 of the headline's difference
  (`adamw_plp` at the best k − `adamw`, both at η*, final validation loss),
  and the confirmation's seeds and power there. None before."""
  best = best_k(blocks, grid)
  if best is None or wider_grid(blocks, grid) != grid:
    return None
  plp, adamw = seed_losses(blocks, plp_job(best)), seed_losses(
    blocks, adamw_job(0.5))  # fmt: skip
  spread = summary.mean_std([plp[s] - adamw[s] for s in SEEDS])['std']
  n, power = summary.seeds_for_power(EFFECT, spread, FEWEST_SEEDS, MOST_SEEDS)
  return {'best_k': best, 'spread': spread, 'seeds': n, 'power': power}


def stated(study, blocks):
  """The confirmation as the rules fix it from the selection."""
  fixed = statement(blocks, study.settings.k_grid)
  if fixed is None:
    return ''
  best = fixed['best_k']
  return (
    "## The confirmation's size, from the selection\n\n"
    f'Best k {best:g}. Over seeds 0-2, `adamw_plp` at k = {best:g} − `adamw`'
    f', both at η*, final validation loss has a paired spread (std) of '
    f'{fixed["spread"]:.4f} nats per character: {fixed["seeds"]} fresh '
    f'seeds give the headline test {fixed["power"]:.0%} power to detect '
    f'{EFFECT} (the rule: the fewest from {FEWEST_SEEDS} with 80%, at most '
    f'{MOST_SEEDS}).\n\n'
  )


def confirmation_count(study, blocks):
  """How many of the confirmation's new runs are in; nothing of them is read
  before all are."""
  jobs = [job for job in study.jobs if job not in selection_jobs(K_GRID)]
  if not jobs or confirmation_complete(blocks):
    return ''
  planned = sum(len(study.jobs[job]['seeds']) for job in jobs)
  done = sum(
    len(report.seeds_in(blocks.get(job), study.jobs[job]['arms'][0]))
    for job in jobs
  )
  return (
    '## The confirmation\n\n'
    f"{done} of its {planned} new runs are in (and `adamw_peers`' borrowed "
    'ones); nothing of them is read until all are.\n\n'
  )


def confirmation_complete(blocks):
  """Whether each stated test's arm and control have every confirmation
  seed (the new runs and `adamw_peers`' borrowed ones)."""
  wanted = set(CONFIRMATION_SEEDS)
  return all(
    wanted <= set(report.seeds_in(blocks.get(block), arm))
    for block, *arms, _ in TESTS
    for arm in arms
  )


def rate_factor(k):
  """m(k) as a fraction of η*, for the tables: '7/6', '2/3', '1'."""
  return str(fractions.Fraction(walk_factor(k)).limit_denominator(12))


def test_names():
  """Each stated test's name, by its block."""
  best = f'{BEST_K:g}'.replace('-', '−')
  return {
    'headline': f'PLP k = {best} − AdamW, both at η*',
    'longer_step_k1': f'PLP k = 1 at η* − AdamW at {rate_factor(1)}·η*',
    'longer_step_best': (
      f'PLP k = {best} at η* − AdamW at {rate_factor(BEST_K)}·η*'
    ),
  }


def confirmation_tests(study, blocks):
  """The stated tests on the fresh seeds, once every run is in."""
  if not confirmation_complete(blocks):
    return ''
  names = test_names()
  rows = [
    [names[test[0]], *loss_confirmation.comparison_row(blocks, *test)[1:]]
    for test in TESTS
  ]
  return (
    '## The confirmation on fresh seeds\n\n'
    f'Final test loss (nats per character at step 2,000), PLP minus AdamW '
    f'paired by seed on seeds {CONFIRMATION_SEEDS[0]}-'
    f'{CONFIRMATION_SEEDS[-1]}: the mean ± std of the differences, their '
    '95% confidence interval (t, n − 1 degrees of freedom), the two-sided '
    'paired t-test p, and the smallest true difference the test detects '
    'with 80% power at the spread observed. Negative: PLP lower (better). '
    'One headline; the secondaries are not corrected for their number.\n\n'
    f'{tables.markdown(rows, loss_confirmation.TEST_COLUMNS)}\n\n'
  )


def figures(study, blocks, out):
  """Final validation loss against the walk factor m: PLP's k points at
  m(k) and AdamW's at m·η* (mean, seed range); OUT/walk.png."""
  plt = plots.pyplot()
  figure, axis = plt.subplots(figsize=plots.ONE_PANEL)
  for label, job in (('adamw_plp, step k, at η*', plp_job),
                     ('adamw at m·η*', adamw_job)):  # fmt: skip
    points = [
      (walk_factor(k), list(seed_losses(blocks, job(k)).values()))
      for k in study.settings.k_grid
    ]
    plots.finite_points_and_range(axis, points, label)
  return plots.one_panel_saved(
    figure, axis, os.path.join(out, 'walk.png'),
    xlabel='walk factor m (k = 3m − 5/2 for PLP)',
    ylabel='final validation loss (nats/char)',
    title='PLP against the longer step it walks (seeds 0-2)',
  )  # fmt: skip


def path_cosines(study, blocks):
  """Exploratory: the cosine of each cycle's last two moves, per job."""
  rows = []
  for k in study.settings.k_grid:
    for job in (plp_job(k), adamw_job(k)):
      block = blocks.get(PEERS_AT_ETA if job in BORROWED_AS else job)
      arm = BORROWED_AS.get(job, 'adamw_plp' if job.startswith('plp_') else
                            'adamw')  # fmt: skip
      runs = (block or {'runs': {}})['runs'].get(arm, {})
      values = [r['path_cosine'] for rs in runs.values() for r in rs
                if r.get('path_cosine') is not None]  # fmt: skip
      if values:
        rows.append(f'| `{job}` | {np.mean(values):.3f} |')
  if not rows:
    return ''
  return (
    '## Exploratory: how straight each path is\n\n'
    'The cosine of the last two moves of each cycle of 3 steps, mean over '
    'the intervals and seeds run.\n\n| job | path cosine |\n| --- | --- |\n'
    + '\n'.join(rows)
    + '\n\n'
  )


CONFIRMATION_JOBS, CONFIRMATION_BORROWED, CONFIRMATION_BLOCKS = (
  confirmation_jobs(BEST_K, CONFIRMATION_SEEDS)
)

STUDY = Study(
  name='prediction_step',
  base_config=base_config,
  jobs=selection_jobs(K_GRID) | CONFIRMATION_JOBS,
  blocks={job: (job,) for job in selection_jobs(K_GRID)}
  | {PEERS_AT_ETA: (PEERS_AT_ETA,)}
  | CONFIRMATION_BLOCKS
  | {job: (job,) for job in CONFIRMATION_JOBS},
  sections=(
    selection,
    stated,
    confirmation_count,
    confirmation_tests,
    path_cosines,
  ),
  figures=figures,
  borrowed={
    PEERS_AT_ETA: Borrowed(
      'benchmarks/results/shakespeare/adamw_peers/lr_0.00565685', SEEDS
    ),
  }
  | CONFIRMATION_BORROWED,
  settings=Settings(k_grid=K_GRID),
  results_root='benchmarks/results/shakespeare',
)
