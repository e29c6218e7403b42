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
(`CHOSEN`), its headline test stated in REPORT.md before its runs.
"""

import dataclasses

from benchmarks import studies
from benchmarks.harness import summary
from benchmarks.shakespeare.configs import gpt_cpu
from benchmarks.studies import Study
from benchmarks.studies.adamw_peers import loss_sections

ARMS = ('adamw', 'adamw_plp', 'adamw_lookahead', 'schedule_free_adamw')
SEEDS = (0, 1, 2)
GRID = (2.5e-4, 5e-4, 1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2)
# Arm -> its best grid point by the rule, entered once the grid has run.
GRID_BEST = {}
# Arm -> its rate re-chosen among its grid and √2 points: the confirmation's.
CHOSEN = {}


# The confirmation's size, by the rule REPORT.md states: the fewest seeds
# from 8 to 16 with 80% power to detect this difference of final test loss.
EFFECT = 0.02  # nats per character
FEWEST_SEEDS, MOST_SEEDS = 8, 16


def confirmation_seeds(spread):
  """The confirmation's number of seeds at the sweep's observed paired
  spread (std of `adamw_plp` − `adamw` over seeds), and its power there:
  the fewest from FEWEST_SEEDS with 80% power for EFFECT, or MOST_SEEDS
  (with the power they reach) where none does."""
  for n in range(FEWEST_SEEDS, MOST_SEEDS + 1):
    power = summary.paired_power(EFFECT, spread, n)
    if power >= 0.8:
      return n, power
  return MOST_SEEDS, summary.paired_power(EFFECT, spread, MOST_SEEDS)


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


JOBS = {
  point_name(rate): {'learning_rate': rate, 'seeds': SEEDS} for rate in GRID
} | refinement_jobs(GRID_BEST)


@dataclasses.dataclass(frozen=True)
class Settings:
  """What the study's sections read."""

  seeds: tuple[int, ...]  # the sweep's (the confirmation's are fresh)


STUDY = Study(
  name='adamw_peers',
  base_config=base_config,
  jobs=JOBS,
  sections=(loss_sections.sweep, loss_sections.path_straightness),
  figures=loss_sections.sweep_figure,
  results_root='benchmarks/results/shakespeare',
  settings=Settings(seeds=SEEDS),
)
