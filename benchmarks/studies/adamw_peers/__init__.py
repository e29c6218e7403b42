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

A tuned comparison (`tuned_comparison`: its stages and rule): the grid
`GRID`, each arm's best grid point `GRID_BEST`, its rate chosen among its
grid and √2 points `CHOSEN`, then the confirmation on fresh seeds, its size
(`CONFIRMATION_SEEDS`), its tests (`TESTS`) and its target loss
(`TARGET_LOSS`) stated in REPORT.md before its runs; its report is the
protocol's for a loss task (`tuned_comparison.loss_sweep`,
`loss_confirmation`: the tests, the steps to the target loss, each arm at its
rate). Beside the protocol (`exploratory`): the gap of the validation curves
along the run and how straight each arm's path is.
"""

from benchmarks.shakespeare.configs import gpt_cpu
from benchmarks.studies import tuned_comparison
from benchmarks.studies.adamw_peers import exploratory
from benchmarks.studies.tuned_comparison import loss_confirmation
from benchmarks.studies.tuned_comparison import loss_sweep

ARMS = ('adamw', 'adamw_plp', 'adamw_lookahead', 'schedule_free_adamw')
SEEDS = (0, 1, 2)
GRID = (2.5e-4, 5e-4, 1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2, 3.2e-2)
GRID_BEST = {
  'adamw': 4e-3,
  'adamw_plp': 4e-3,
  'adamw_lookahead': 8e-3,
  'schedule_free_adamw': 1.6e-2,
}
CHOSEN = {
  'adamw': 4e-3 * 2**0.5,
  'adamw_plp': 4e-3 * 2**0.5,
  'adamw_lookahead': 8e-3,
  'schedule_free_adamw': 1.6e-2,
}
# From 3, as many as `confirmation.statement` gives at the selection seeds'
# paired spread at the chosen rates.
CONFIRMATION_SEEDS = tuple(range(3, 11))
# The validation loss whose first step each confirmation run reports (the
# paper's faster-convergence claim), by `confirmation.statement`.
TARGET_LOSS = 1.954
# Final test loss, paired by seed. 'untuned' is `adamw_plp` at `adamw`'s
# chosen rate: PLP added to a tuned AdamW without retuning.
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


COMPARISON = tuned_comparison.TunedComparison(
  name='adamw_peers',
  base_config=base_config,
  arms=ARMS,
  grid=GRID,
  seeds=SEEDS,
  selection=loss_sweep.sweep_points,
  grid_best=GRID_BEST,
  chosen=CHOSEN,
  confirmation_seeds=CONFIRMATION_SEEDS,
  tests=TESTS,
  target_loss=TARGET_LOSS,
  untuned=('adamw_plp', 'adamw'),
  sections=(
    loss_confirmation.tests,
    loss_confirmation.steps_to_target,
    loss_confirmation.arms,
    exploratory.curve_gaps,
    loss_confirmation.stated,
    loss_sweep.sweep,
    exploratory.path_straightness,
  ),
  figures=loss_confirmation.figures,
  results_root='benchmarks/results/shakespeare',
)
COMPARISONS = (COMPARISON,)
STUDY = COMPARISON.study()
