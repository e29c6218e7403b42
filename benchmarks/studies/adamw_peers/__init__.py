"""Does PLP help AdamW train a transformer? Tuned, with lookahead and
schedule-free AdamW beside it.

nanoGPT's character-level Shakespeare model at its CPU setting
(`benchmarks/shakespeare/configs/gpt_cpu.py`: 4 layers, 4 heads, width 128,
context 64, batch 12, 2,000 steps, warm-up 100, cosine decay to a tenth of
the peak, β2 0.99, weight decay 0.1, dropout 0), four arms: `adamw`,
`adamw_plp`, `adamw_lookahead` (sync period 5, slow step 0.5, evaluated at
its slow weights) and `schedule_free_adamw` (its warm-up, no decay,
evaluated at its averaged weights). Each grid point is one job training all
four arms at that peak rate on the selection seeds 0-2; a run whose loss
turns non-finite is recorded as diverged and counts as an infinite loss.

The study grows in stages, each fixed by the choices entered below once the
stage before has all its runs, by the rule REPORT.md states (each arm's rate
of lowest mean final validation loss over seeds 0-2, ties to the smaller):
the factor-2 grid `GRID` (widened by a factor 2 past an edge where an arm's
best is on it); √2 points around each arm's best (`GRID_BEST`); then the
confirmation on fresh seeds at the rates chosen among all points
(`CHOSEN`), its size (`CONFIRMATION_SEEDS`), its tests (`TESTS`) and its
target loss (`TARGET_LOSS`) stated in REPORT.md before its runs. A test
checks every entry against the rule applied to the committed runs.
"""

import dataclasses

from benchmarks import studies
from benchmarks.shakespeare.configs import gpt_cpu
from benchmarks.studies import Study
from benchmarks.studies.adamw_peers import confirmation
from benchmarks.studies.adamw_peers import loss_sections

ARMS = ('adamw', 'adamw_plp', 'adamw_lookahead', 'schedule_free_adamw')
SEEDS = (0, 1, 2)
# The rule's widening past an edge included: schedule-free's best of the
# first seven points was their end, 1.6e-2.
GRID = (2.5e-4, 5e-4, 1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2, 3.2e-2)
# Arm -> its best grid point by the rule, entered once all 24 point-seeds of
# the grid had run.
GRID_BEST = {
  'adamw': 4e-3,
  'adamw_plp': 4e-3,
  'adamw_lookahead': 8e-3,
  'schedule_free_adamw': 1.6e-2,
}
# Arm -> its rate re-chosen among its grid and √2 points, entered once all 12
# √2 point-seeds had run: the confirmation's.
CHOSEN = {
  'adamw': 4e-3 * 2**0.5,
  'adamw_plp': 4e-3 * 2**0.5,
  'adamw_lookahead': 8e-3,
  'schedule_free_adamw': 1.6e-2,
}
# The confirmation's fresh seeds: from 3, as many as
# `confirmation.statement` gives at the sweep's paired spread at the chosen
# rates; entered with CHOSEN.
CONFIRMATION_SEEDS = tuple(range(3, 11))
# The validation loss whose first step each confirmation run reports (the
# paper's faster-convergence claim), fixed with CHOSEN by
# `confirmation.statement`.
TARGET_LOSS = 1.954
# The confirmation's pre-stated tests of final test loss, paired by seed:
# (block, arm, control, 'headline' or 'secondary'). 'untuned' is `adamw_plp`
# at `adamw`'s chosen rate: PLP added to a tuned AdamW without retuning.
TESTS = (
  ('confirm', 'adamw_plp', 'adamw', 'headline'),
  ('confirm', 'adamw_lookahead', 'adamw', 'secondary'),
  ('confirm', 'schedule_free_adamw', 'adamw', 'secondary'),
  ('confirm', 'adamw_plp', 'adamw_lookahead', 'secondary'),
  ('confirm', 'adamw_plp', 'schedule_free_adamw', 'secondary'),
  ('untuned', 'adamw_plp', 'adamw', 'secondary'),
)


def base_config():
  config = gpt_cpu.get_config()
  config.arms = ARMS
  config.on_divergence = 'record'
  config.progress = False
  return config


def point_name(rate):
  return f'lr_{rate:g}'


def refinement_jobs(grid_best):
  """A point a factor √2 on each side of each arm's best grid point, seeds
  0-2: one job a rate (by name), training the arms whose point it is."""
  points = studies.refinement_points(grid_best, ARMS, point_name)
  return {
    name: {'learning_rate': rate, 'arms': arms, 'seeds': SEEDS}
    for name, (rate, arms) in points.items()
  }


def confirmation_jobs(chosen, seeds):
  """Each arm at its chosen rate, one run a job (a lost work tree costs one
  run), and `adamw_plp` at `adamw`'s rate where that differs from its own:
  job -> its overrides; none before every arm's rate is chosen."""
  if set(chosen) != set(ARMS):
    return {}
  jobs = {
    f'confirm_{arm}': {
      'learning_rate': chosen[arm], 'arms': (arm,), 'seeds': seeds,
    }
    for arm in ARMS
  }  # fmt: skip
  if chosen['adamw_plp'] != chosen['adamw']:
    jobs['untuned_adamw_plp'] = {
      **jobs['confirm_adamw_plp'], 'learning_rate': chosen['adamw'],
    }  # fmt: skip
  return jobs


def confirmation_blocks(jobs):
  """'confirm': the four arms at their chosen rates; 'untuned': `adamw` and
  `adamw_plp` at `adamw`'s rate (the confirmation's own runs where PLP's
  chosen rate is AdamW's). None before the confirmation has jobs."""
  if not jobs:
    return {}
  untuned = 'untuned_adamw_plp' if 'untuned_adamw_plp' in jobs else None
  return {
    'confirm': tuple(f'confirm_{arm}' for arm in ARMS),
    'untuned': ('confirm_adamw', untuned or 'confirm_adamw_plp'),
  }


SWEEP_JOBS = {
  point_name(rate): {'learning_rate': rate, 'seeds': SEEDS} for rate in GRID
} | refinement_jobs(GRID_BEST)
CONFIRMATION_JOBS = confirmation_jobs(CHOSEN, CONFIRMATION_SEEDS)


@dataclasses.dataclass(frozen=True)
class Settings:
  """What the study's sections read."""

  seeds: tuple[int, ...]  # the sweep's (the confirmation's are fresh)
  sweep_jobs: tuple[str, ...]  # the grid's and √2 points' jobs
  chosen: dict[str, float]
  confirmation_seeds: tuple[int, ...]
  tests: tuple[tuple[str, str, str, str], ...]
  target_loss: float | None


STUDY = Study(
  name='adamw_peers',
  base_config=base_config,
  jobs=SWEEP_JOBS | CONFIRMATION_JOBS,
  blocks={job: (job,) for job in SWEEP_JOBS}
  | confirmation_blocks(CONFIRMATION_JOBS),
  sections=(
    confirmation.tests,
    confirmation.steps_to_target,
    confirmation.arms,
    confirmation.curve_gaps,
    confirmation.stated,
    loss_sections.sweep,
    loss_sections.path_straightness,
  ),
  figures=confirmation.figures,
  results_root='benchmarks/results/shakespeare',
  settings=Settings(
    seeds=SEEDS,
    sweep_jobs=tuple(SWEEP_JOBS),
    chosen=CHOSEN,
    confirmation_seeds=CONFIRMATION_SEEDS,
    tests=TESTS,
    target_loss=TARGET_LOSS,
  ),
)
