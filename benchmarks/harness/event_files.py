"""TensorBoard event files of every run, written as it trains.

Each run (an arm of a seed) writes the numbers of each of its records (train
and held-out metrics, throughput, wall time) and its learning rate, where
the task gives it, to WORKDIR/tensorboard/ARM/seed_N, at the record's step.
A study's runs train in WORKROOT/JOB/seed_N, so one command watches them all:

  tensorboard --logdir WORKROOT

tensorboardX writes them: it needs neither TensorFlow (which clu's writers,
Flax's examples' choice, need, and the accelerator image lacks) nor a JAX
version of its own. A resumed run starts its events after its last
checkpoint (`purge_step`), so a step is never shown twice. Where tensorboardX
is not installed, a run says so once and writes none.
"""

import math
import os

from absl import logging

from benchmarks.harness import checkpoints

FOLDER = 'tensorboard'
# Record fields that place a record rather than measure it.
NOT_SCALARS = ('epoch', 'step', 'diverged')


def run_folder(workdir, arm, seed):
  """WORKDIR/tensorboard/ARM/seed_N: one run's event files."""
  return checkpoints.seed_directory(os.path.join(workdir, FOLDER, arm), seed)


def open_writer(workdir, arm, seed, first_step):
  """A writer for one run whose next record is at `first_step` (events from
  an earlier try at or after it are purged); None without tensorboardX."""
  try:
    import tensorboardX  # noqa: PLC0415 (optional)
  except ImportError:
    logging.warning('tensorboardX is not installed: no TensorBoard events.')
    return None
  return tensorboardX.SummaryWriter(
    run_folder(workdir, arm, seed), purge_step=first_step, flush_secs=3600
  )


def scalars(record, prefix=''):
  """(tag, value) of each finite number in `record`, nested ones as
  'outer/inner'."""
  found = []
  for key, value in record.items():
    if key in NOT_SCALARS:
      continue
    tag = f'{prefix}{key}'
    if isinstance(value, dict):
      found += scalars(value, f'{tag}/')
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
      if math.isfinite(value):
        found.append((tag, float(value)))
  return found


def write(writer, record, step, learning_rate=None):
  """Writes a record's numbers (and the learning rate) at `step`; flushes,
  so that a watching TensorBoard sees each record as it comes."""
  if writer is None:
    return
  for tag, value in scalars(record):
    writer.add_scalar(tag, value, step)
  if learning_rate is not None:
    writer.add_scalar('learning_rate', learning_rate, step)
  writer.flush()
