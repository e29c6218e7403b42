"""The harness's tasks, by the name a config's `task` field gives."""

from benchmarks.cifar100 import train as cifar100
from benchmarks.harness import config_checks
from benchmarks.harness import experiment
from benchmarks.shakespeare import train as shakespeare

TASKS = {'cifar100': cifar100.TASK, 'shakespeare': shakespeare.TASK}


def task_of(config):
  """The config's task; CIFAR-100 for configs older than the field."""
  name = config.get('task', 'cifar100')
  if name not in TASKS:
    raise config_checks.ConfigError(
      f'config.task is {name!r}; allowed: {sorted(TASKS)}.'
    )
  return TASKS[name]


def train_and_evaluate(config, workdir):
  """Trains every arm and seed of `config` with its task; the results."""
  return experiment.train_and_evaluate(config, workdir, task_of(config))
