"""Runs the jobs of a study config, one run directory per job and seed.

  python -m benchmarks.cifar100.study STUDY WORKROOT [--jobs JOB ...] \
      [--seeds N ...]

STUDY names a module of `benchmarks/cifar100/configs` that defines `JOBS`
(job name -> config overrides, including its seeds) and `get_config(job)`.
Each seed of each job trains into WORKROOT/JOB/seed_N, so that a finished
seed can be committed on its own; rerunning resumes every unfinished run from
its checkpoints. Two shells with different --seeds fill two cores.
"""

import argparse
import importlib
import os

from absl import logging

from benchmarks.cifar100 import experiment


def study_module(name):
  return importlib.import_module(f'benchmarks.cifar100.configs.{name}')


def run_directory(workroot, job, seed):
  return os.path.join(workroot, job, f'seed_{seed}')


def planned_runs(study, jobs=None, seeds=None):
  """(job, seed, config) of every run, in the jobs' order, seed by seed."""
  module = study_module(study)
  for job in jobs or module.JOBS:
    config = module.get_config(job)
    for seed in config.seeds:
      if seeds is None or seed in seeds:
        single = config.copy_and_resolve_references()
        single.seeds = (seed,)
        yield job, seed, single


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('study', help='e.g. sci_rep_study')
  parser.add_argument('workroot')
  parser.add_argument('--jobs', nargs='+')
  parser.add_argument('--seeds', nargs='+', type=int)
  args = parser.parse_args()
  experiment.log_progress()
  for job, seed, config in planned_runs(args.study, args.jobs, args.seeds):
    workdir = run_directory(args.workroot, job, seed)
    logging.info('== %s seed %d -> %s', job, seed, workdir)
    experiment.train_and_evaluate(config, workdir)
    logging.info('== %s seed %d done', job, seed)


if __name__ == '__main__':
  main()
