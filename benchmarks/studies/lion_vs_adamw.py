"""Does optax.lion beat a tuned AdamW on the transformer? A user's arm
(`benchmarks/examples/lion.py`), tuned as AdamW was.

The same config, rule and seeds as `adamw_peers` (whose AdamW runs it
reads): a factor-2 grid of Lion's peak rate on the selection seeds 0-2
(`GRID`, widened past an edge where the best is on it), its best grid point
by the rule (`GRID_BEST`: lowest mean final validation loss, ties to the
smaller rate), √2 points around it, the rate chosen among all points
(`CHOSEN`), then Lion at that rate on AdamW's confirmation seeds, paired
with AdamW's committed runs at its own chosen rate (`TESTS`). Each entry
is made once the stage before has all its runs, and a test holds it to the
rule. The walk-through is docs/compare_your_optimizer.md.
"""

import os

from benchmarks import studies
from benchmarks import tasks
from benchmarks.harness import summary
from benchmarks.reporting import tables
from benchmarks.studies import Borrowed
from benchmarks.studies import Study
from benchmarks.studies import adamw_peers
from benchmarks.studies.adamw_peers import confirmation
from benchmarks.studies.adamw_peers import loss_sections

ARM = 'benchmarks.examples.lion:make'
SEEDS = adamw_peers.SEEDS
# Lion's rates a factor 2 apart, about a tenth of AdamW's best (4e-3) in the
# middle, on AdamW's own grid points where they overlap; the rule's widening
# past an edge included (the first five points' best was their end, 2e-3;
# then the sixth's, 4e-3).
GRID = (1.25e-4, 2.5e-4, 5e-4, 1e-3, 2e-3, 4e-3, 8e-3)
GRID_BEST = 4e-3  # Lion's best grid point, by the rule
CHOSEN = 4e-3  # Lion's rate among its grid and √2 points, by the rule
CONFIRMATION_SEEDS = adamw_peers.CONFIRMATION_SEEDS  # AdamW's, committed
TESTS = (('confirm', ARM, 'adamw', 'headline'),)
PEERS = 'benchmarks/results/shakespeare/adamw_peers'
# AdamW's sweep runs at its chosen rate, on the selection seeds.
ADAMW_AT_CHOSEN = os.path.join(
  PEERS, adamw_peers.point_name(adamw_peers.CHOSEN['adamw'])
)


def base_config():
  config = adamw_peers.base_config()
  config.arms = (ARM,)
  return config


def sweep_jobs():
  """The grid's jobs, and the √2 points' once GRID_BEST is entered."""
  points = studies.refinement_points(
    {ARM: GRID_BEST} if GRID_BEST else {}, (ARM,), adamw_peers.point_name
  )
  rates = {adamw_peers.point_name(r): r for r in GRID} | {
    name: rate for name, (rate, _) in points.items()
  }
  return {
    name: {'learning_rate': rate, 'seeds': SEEDS}
    for name, rate in rates.items()
  }


def confirmation_jobs():
  """Lion at its chosen rate on the confirmation seeds, once it is chosen."""
  if CHOSEN is None:
    return {}
  overrides = {
    'learning_rate': CHOSEN, 'arms': (ARM,), 'seeds': CONFIRMATION_SEEDS,
  }  # fmt: skip
  return {'confirm_lion': overrides}


def selection_spread(blocks):
  """The std over the selection seeds of Lion (at CHOSEN) − AdamW (at its
  chosen rate) final validation loss, or None before both are in."""
  lion = loss_sections.seed_losses(
    blocks.get(adamw_peers.point_name(CHOSEN)), ARM, SEEDS
  )
  adamw = loss_sections.seed_losses(
    tasks.load_results(ADAMW_AT_CHOSEN), 'adamw', SEEDS
  )
  if set(lion) != set(SEEDS) or set(adamw) != set(SEEDS):
    return None
  return summary.mean_std([lion[s] - adamw[s] for s in SEEDS])['std']


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
  if not confirmation.complete(study, blocks):
    return confirmation.waiting(study, blocks, title)
  rows = [confirmation.comparison_row(blocks, *test) for test in TESTS]
  table = tables.markdown(rows, confirmation.TEST_COLUMNS)
  return (
    f'## {title}\n\nFinal test loss (nats per character at step 2,000, '
    'every window of the test split), Lion minus AdamW paired by seed, each '
    'at its chosen rate: mean ± std of the differences, their 95% interval '
    '(t, n − 1 degrees of freedom), the two-sided paired t-test p, and the '
    'smallest true difference the test detects with 80% power at the '
    f'spread observed. Negative: Lion lower (better).\n\n{table}\n\n'
  )


SWEEP_JOBS = sweep_jobs()
CONFIRMATION_JOBS = confirmation_jobs()
# AdamW's confirmation runs at its chosen rate: the control, paired by seed.
BORROWED = {
  'confirm_adamw': Borrowed(f'{PEERS}/confirm_adamw', CONFIRMATION_SEEDS)
}

STUDY = Study(
  name='lion_vs_adamw',
  base_config=base_config,
  jobs=SWEEP_JOBS | CONFIRMATION_JOBS,
  blocks={job: (job,) for job in SWEEP_JOBS}
  | ({'confirm': ('confirm_adamw', *CONFIRMATION_JOBS)} if CHOSEN else {}),
  sections=(headline, stated, loss_sections.sweep),
  borrowed=BORROWED if CHOSEN else {},
  settings=adamw_peers.Settings(
    seeds=SEEDS,
    sweep_jobs=tuple(SWEEP_JOBS),
    chosen={ARM: CHOSEN} if CHOSEN else {},
    confirmation_seeds=CONFIRMATION_SEEDS,
    tests=TESTS,
    target_loss=None,
  ),
  results_root='benchmarks/results/shakespeare',
)
