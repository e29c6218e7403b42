"""Trains the CIFAR-100 baseline and PLP arms side by side.

  python -m benchmarks.cifar100.main \
      --config=benchmarks/cifar100/configs/reference_recipe.py --workdir=DIR \
      [--config.seeds='(0, 1, 2)' ...]

Rerunning the same command resumes from the last checkpoints in DIR. On
several hosts, call it on each after `jax.distributed.initialize()` runs (set
JAX's coordinator environment, see --distributed); the batch is sharded over
every device and nothing else changes.
"""

import sys

from absl import app
from absl import flags
import jax
from ml_collections import config_flags

from benchmarks.cifar100 import experiment
from benchmarks.cifar100 import input_pipeline
from benchmarks.cifar100 import report

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Config file.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Results and checkpoints.')
_DISTRIBUTED = flags.DEFINE_bool(
  'distributed', False, 'Call jax.distributed.initialize() first (multi-host).'
)
flags.mark_flags_as_required(['config', 'workdir'])

EXPECTED_ERRORS = (
  experiment.ConfigError,
  experiment.CheckpointError,
  experiment.NonFiniteLossError,
  input_pipeline.DatasetUnavailableError,
)


def main(argv):
  del argv
  experiment.log_progress()
  if _DISTRIBUTED.value:
    jax.distributed.initialize()
  try:
    results = experiment.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
  except EXPECTED_ERRORS as error:
    sys.exit(f'error: {error}')
  print(report.format_table(results))
  print(
    f'results: {_WORKDIR.value}/results.json; plots: curves.png and '
    '(with trajectory probes) trajectory.png beside it'
  )


if __name__ == '__main__':
  app.run(main)
