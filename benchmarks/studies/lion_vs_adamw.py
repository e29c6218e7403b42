"""Does optax.lion beat a tuned AdamW on the transformer? A user's arm
(`benchmarks/examples/lion.py`), tuned as AdamW was.

The same config, rule and seeds as `adamw_peers` (whose AdamW runs it
reads): a factor-2 grid of Lion's peak rate on the selection seeds 0-2
(`GRID`, widened past an edge where the best is on it), the rate of lowest
mean final validation loss chosen (ties to the smaller), √2 points around
it, then Lion at its chosen rate on AdamW's confirmation seeds, paired with
AdamW's committed runs at its own chosen rate. The walk-through is
docs/compare_your_optimizer.md.
"""

from benchmarks.reporting import tables
from benchmarks.shakespeare.configs import gpt_cpu
from benchmarks.studies import Study

ARM = 'benchmarks.examples.lion:make'
SEEDS = (0, 1, 2)
# Lion's rates a factor 2 apart, about a tenth of AdamW's best (4e-3) in the
# middle, on AdamW's own grid points where they overlap.
GRID = (1.25e-4, 2.5e-4, 5e-4, 1e-3, 2e-3)


def point_name(rate):
  return f'lr_{rate:g}'


def losses(study, blocks):
  """Each block's final losses over seeds."""
  del study
  return ''.join(
    f'## {name}\n\n{tables.format_loss_table(block)}\n\n'
    for name, block in blocks.items()
  )


STUDY = Study(
  name='lion_vs_adamw',
  base_config=gpt_cpu.get_config,
  jobs={
    point_name(rate): {'learning_rate': rate, 'arms': (ARM,), 'seeds': SEEDS}
    for rate in GRID
  },
  sections=(losses,),
  results_root='benchmarks/results/shakespeare',
)
