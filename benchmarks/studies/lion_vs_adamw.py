"""Does optax.lion beat a tuned AdamW on the transformer? A user's arm
(`benchmarks/examples/lion.py`), tuned as AdamW was.

A tuned comparison (`tuned_comparison`) with `adamw_peers`' config, rule
and seeds: Lion's grid `GRID` (about a tenth of AdamW's best rate in the
middle, on AdamW's own grid points where they overlap), its best grid point,
its rate chosen among its points, then Lion at that rate on AdamW's
confirmation seeds, paired with AdamW's committed runs at its own chosen
rate (`TESTS`). The walk-through is docs/compare_your_optimizer.md.
"""

import os

from benchmarks import studies
from benchmarks import tasks
from benchmarks.harness import summary
from benchmarks.reporting import tables
from benchmarks.studies import adamw_peers
from benchmarks.studies import tuned_comparison
from benchmarks.studies.tuned_comparison import loss_confirmation
from benchmarks.studies.tuned_comparison import loss_sweep

ARM = 'benchmarks.examples.lion:make'
GRID = (1.25e-4, 2.5e-4, 5e-4, 1e-3, 2e-3, 4e-3, 8e-3)
GRID_BEST = 4e-3
CHOSEN = 4e-3
CONFIRMATION_SEEDS = adamw_peers.CONFIRMATION_SEEDS  # AdamW's, committed
TESTS = (('confirm', ARM, 'adamw', 'headline'),)
PEERS = adamw_peers.STUDY.out
# AdamW's sweep runs at its chosen rate, on the selection seeds.
ADAMW_AT_CHOSEN = os.path.join(
  PEERS, tuned_comparison.point_name(adamw_peers.CHOSEN['adamw'])
)


def base_config():
  config = adamw_peers.base_config()
  config.arms = (ARM,)
  return config


def selection_spread(blocks):
  """The std over the selection seeds of Lion (at CHOSEN) − AdamW (at its
  chosen rate) final validation loss, or None before both are in."""
  seeds = adamw_peers.SEEDS
  lion = loss_sweep.seed_losses(
    blocks.get(tuned_comparison.point_name(CHOSEN)), ARM, seeds
  )
  adamw = loss_sweep.seed_losses(
    tasks.load_results(ADAMW_AT_CHOSEN), 'adamw', seeds
  )
  if set(lion) != set(seeds) or set(adamw) != set(seeds):
    return None
  return summary.mean_std([lion[s] - adamw[s] for s in seeds])['std']


def stated(study, blocks):
  """The headline test's size and power, from the selection seeds."""
  del study
  spread = CHOSEN and selection_spread(blocks)
  if not spread:
    return ''
  n = len(CONFIRMATION_SEEDS)
  detectable = summary.detectable_effect(spread, n)
  return (
    '## The headline test, as stated before its runs\n\n'
    f'Lion at {CHOSEN:g} − AdamW at {adamw_peers.CHOSEN["adamw"]:.6g}, '
    'final test loss paired by seed on seeds '
    f"{CONFIRMATION_SEEDS[0]}-{CONFIRMATION_SEEDS[-1]} (n = {n}: AdamW's "
    'committed confirmation), two-sided paired t-test at 5%. On the '
    f'selection seeds the paired spread (std) is {spread:.4f} nats per '
    f'character: the test detects {detectable:.4f} with 80% power there.'
    '\n\n'
  )


def headline(study, blocks):
  """The stated test's row, once every confirmation run is in (its control's
  runs are borrowed, so adamw_peers' own tests section cannot read it)."""
  title = 'The headline test on the confirmation seeds'
  if not loss_confirmation.complete(study, blocks):
    return loss_confirmation.waiting(study, blocks, title)
  rows = [loss_confirmation.comparison_row(blocks, *test) for test in TESTS]
  table = tables.markdown(rows, loss_confirmation.TEST_COLUMNS)
  return (
    f'## {title}\n\nFinal test loss (nats per character at step 2,000, '
    'every window of the test split), Lion minus AdamW paired by seed, each '
    'at its chosen rate: mean ± std of the differences, their 95% interval '
    '(t, n − 1 degrees of freedom), the two-sided paired t-test p, and the '
    'smallest true difference the test detects with 80% power at the '
    f'spread observed. Negative: Lion lower (better).\n\n{table}\n\n'
  )


COMPARISON = tuned_comparison.TunedComparison(
  name='lion_vs_adamw',
  base_config=base_config,
  arms=(ARM,),
  grid=GRID,
  seeds=adamw_peers.SEEDS,
  selection=loss_sweep.sweep_points,
  grid_best={ARM: GRID_BEST},
  chosen={ARM: CHOSEN},
  confirmation_seeds=CONFIRMATION_SEEDS,
  tests=TESTS,
  labels={ARM: 'lion'},
  # AdamW's confirmation runs at its chosen rate: the control, paired by
  # seed.
  borrowed={
    'confirm_adamw': studies.Borrowed(
      f'{PEERS}/confirm_adamw', CONFIRMATION_SEEDS
    )
  },
  sections=(headline, stated, loss_sweep.sweep),
  results_root='benchmarks/results/shakespeare',
)
COMPARISONS = (COMPARISON,)
STUDY = COMPARISON.study()
