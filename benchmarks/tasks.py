"""The harness's tasks, by the name a config's `task` field gives.

Each task's module is imported only when a config names it: a run of one
task imports none of another's modules.
"""

import importlib

from benchmarks.harness import config_checks
from benchmarks.harness import experiment

# Task name -> the module whose `TASK` it is.
TASKS = {
  'cifar100': 'benchmarks.cifar100.train',
  'shakespeare': 'benchmarks.shakespeare.train',
}


def task_of(config):
  """The config's task; CIFAR-100 for configs older than the field."""
  name = config.get('task', 'cifar100')
  if name not in TASKS:
    raise config_checks.ConfigError(
      f'config.task is {name!r}; allowed: {sorted(TASKS)}.'
    )
  return importlib.import_module(TASKS[name]).TASK


def train_and_evaluate(config, workdir):
  """Trains every arm and seed of `config` with its task; the results."""
  return experiment.train_and_evaluate(config, workdir, task_of(config))
