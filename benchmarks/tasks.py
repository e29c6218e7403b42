"""The harness's tasks, by the name a config's `task` field gives.

Each task's module is imported only when a config names it: a run of one
task imports none of another's modules.
"""

import importlib

from benchmarks.harness import config_checks
from benchmarks.harness import experiment
from benchmarks.harness import results_io

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


# results.json read with its task's knowledge (the harness's `results_io`
# takes it as arguments): a results' task is its config's.


def resume_fields(config):
  """What the config's task says of its config fields on resume."""
  return task_of(config).resume_fields


def load_results(directory):
  """`results_io.load_results`, pooling seeds as their task says."""
  return results_io.load_results(directory, resume_fields)


def with_summary(results):
  """`results` with its task's summary where it has none."""
  return results_io.with_summary(results, task_of(results['config']).summarize)


def merged_block(parts, names=None):
  """`results_io.merged_block` of runs of one task (the first part's)."""
  first = next((part for part in parts if part), None)
  if first is None:
    return None
  summarize = task_of(first['config']).summarize
  return results_io.merged_block(parts, summarize, names, resume_fields)


def reproducible(results):
  """The fields of every record of `results` that its task says a rerun
  must reproduce, run by run."""
  fields = task_of(results['config']).reproducible
  return results_io.reproducible(results, fields)
