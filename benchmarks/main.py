"""Trains every arm of a config side by side on CIFAR-100, seed by seed.

  python -m benchmarks.main \
      --config=benchmarks/cifar100/configs/reference_recipe.py --workdir=DIR \
      [--config.seeds='(0, 1, 2)' ...]

Rerunning the same command resumes from the last checkpoints in DIR.

On several hosts, run the same command on each with --distributed (see
`distributed.py`; DIR must be one directory that every host sees):

  python -m benchmarks.main --config=... --workdir=DIR --distributed \
      --coordinator_address=HOST0:PORT --num_processes=N --process_id=I

Under SLURM (and on TPU pods) --distributed alone finds the other processes.
"""

import os
import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from benchmarks import tasks
from benchmarks.harness import distributed
from benchmarks.harness import launcher

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Config file.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Results and checkpoints.')
_PROCESS_OPTIONS = launcher.define_process_flags()
flags.adopt_module_key_flags(launcher)  # in --help
REQUIRED = ('config', 'workdir')


def parse_flags(argv):
  """The launcher's flag parsing, with a config field that does not exist and
  a missing flag in one line each. (ml_collections raises an AttributeError
  deep in absl's parser for the first; the second is checked here, not by
  absl, whose check would hold every command of the process to it.)
  """
  try:
    rest = launcher.parse_flags(argv)
  except (AttributeError, KeyError) as error:
    overrides = [a.split('=')[0] for a in argv if a.startswith('--config.')]
    # ml_collections's message, "'name'\nDid you mean ...?", arrives quoted
    # and escaped again by KeyError's str: undo both.
    text = str(error).strip('"')
    text = text.encode().decode('unicode_escape').replace("\\'", "'")
    field, _, hint = text.strip("'").partition('\n')
    hint = f' {hint}' if hint else ''
    sys.exit(
      f'error: the config has no field {field.strip(chr(39) + chr(34))!r} '
      f'(overrides given: {", ".join(overrides)}).{hint} See the config file '
      'for its fields.'
    )
  missing = [
    f'--{name}' for name in REQUIRED if flags.FLAGS[name].value is None
  ]
  if missing:
    sys.exit(f'error: give {" and ".join(missing)} (--help: the options)')
  try:
    _CONFIG.value.keys()  # a config file that failed to load raises here
  except OSError as error:
    sys.exit(f'error: {launcher.one_line(error)}')
  return rest


def main(argv):
  del argv
  results = launcher.launch_with_options(
    lambda: tasks.train_and_evaluate(_CONFIG.value, _WORKDIR.value),
    {name: flag.value for name, flag in _PROCESS_OPTIONS.items()},
  )
  if not distributed.is_writer():
    return
  task = tasks.task_of(_CONFIG.value)
  if task.table:
    print(task.table(results))
  drawn = [draw(_WORKDIR.value, results) for draw in task.figures]
  names = ', '.join(os.path.basename(path) for path in drawn if path)
  print(f'results: {_WORKDIR.value}/results.json; figures beside it: {names}')


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)
