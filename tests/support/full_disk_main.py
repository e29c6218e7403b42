"""`tests.support.mock_main` whose disk fills up just before epoch 2's
checkpoint.

  python -m tests.support.full_disk_main --config=... --workdir=DIR \
      [main.py's flags]

Before the save of epoch 2, a ballast file takes every free block of the
workdir's filesystem, so that save meets a real `No space left on device` at
the same point in every run, whatever orbax's files weigh on this machine.
Run it only on a small filesystem made for it (a tmpfs), never on a real disk.
"""

import errno
import os

from absl import app
from absl import flags

from benchmarks import main
from benchmarks.harness import checkpoints
from tests.conftest import process_data

FULL_BEFORE_EPOCH = 2
BALLAST = 'ballast'
_save = checkpoints.save


def fill(directory):
  """Writes zeros into `directory`/BALLAST until its filesystem is full."""
  path = os.path.join(directory, BALLAST)
  descriptor = os.open(path, os.O_WRONLY | os.O_CREAT)
  chunk = bytes(1 << 16)
  try:
    while True:
      os.write(descriptor, chunk)
  except OSError as error:
    if error.errno != errno.ENOSPC:
      raise
  finally:
    os.close(descriptor)


def save_onto_a_full_disk(manager, epoch, *args, **kwargs):
  if epoch == FULL_BEFORE_EPOCH:
    fill(flags.FLAGS.workdir)
  return _save(manager, epoch, *args, **kwargs)


if __name__ == '__main__':
  checkpoints.save = save_onto_a_full_disk
  with process_data():
    app.run(main.main, flags_parser=main.parse_flags)
