"""A study that checks an engine end to end in seconds, not a result.

Two jobs (`adamw`, `adamw_plp`) x two seeds of the tests' tiny GPT
(`gpt_tiny.py`: 2 layers, width 16, 12 steps) on a small made corpus that
ships beside this module, so that it needs neither the network nor the
Shakespeare corpus:

  python -m benchmarks.studies run smoke workdir/smoke --executor=slurm
  python -m benchmarks.studies status smoke workdir/smoke
"""

import os

from benchmarks.shakespeare import losses
from benchmarks.shakespeare.configs import gpt_tiny
from benchmarks.studies import Study

CORPUS = os.path.join(os.path.dirname(__file__), 'smoke_corpus')
SEEDS = (0, 1)


def base_config():
  config = gpt_tiny.get_config()
  config.data_dir = CORPUS
  return config


def loss_tables(study, blocks):
  """The block's table of final losses, the arms paired by seed."""
  del study
  return ''.join(
    f'## {name}\n\n{losses.format_table(block)}\n\n'
    for name, block in blocks.items()
  )


STUDY = Study(
  name='smoke',
  base_config=base_config,
  jobs={
    arm: {'arms': (arm,), 'seeds': SEEDS} for arm in ('adamw', 'adamw_plp')
  },
  blocks={'smoke': ('adamw', 'adamw_plp')},
  sections=(loss_tables,),
  results_root='workdir/reports',  # a check, not a result: never committed
)
