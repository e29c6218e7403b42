"""Runs or reports a study: see `benchmarks/cifar100/studies/__init__.py`."""

import argparse

from absl import logging

from benchmarks.cifar100 import experiment
from benchmarks.cifar100 import studies
from benchmarks.cifar100 import workdir_lock
from benchmarks.cifar100.studies import report


def run(study, workroot, jobs, seeds):
  experiment.log_progress()
  for job, seed, config in studies.planned_runs(study, jobs, seeds):
    workdir = studies.run_directory(workroot, job, seed)
    logging.info('== %s seed %d -> %s', job, seed, workdir)
    try:
      experiment.train_and_evaluate(config, workdir)
    except workdir_lock.WorkdirInUseError as error:
      # Another worker trains it: this one goes on with the next run.
      logging.warning('== %s seed %d skipped: %s', job, seed, error)
      continue
    logging.info('== %s seed %d done', job, seed)


def main(argv=None):
  parser = argparse.ArgumentParser(
    prog='python -m benchmarks.cifar100.studies',
    description='Runs or reports a study.',
  )
  parser.add_argument('action', choices=('run', 'report', 'figures'))
  parser.add_argument('study', choices=studies.names())
  parser.add_argument(
    'workroot',
    help='where the runs are, as WORKROOT/JOB/ (figures: where to draw them)',
  )
  parser.add_argument('--jobs', nargs='+', help='run: only these jobs')
  parser.add_argument('--seeds', nargs='+', type=int, help='run: only these')
  parser.add_argument(
    '--out',
    help='report: where to write it; figures: the results to draw from '
    '(default for both: benchmarks/results/cifar100/NAME)',
  )
  args = parser.parse_args(argv)
  study = studies.load(args.study)
  if args.action == 'run':
    run(study, args.workroot, args.jobs, args.seeds)
  elif args.action == 'figures':
    drawn = report.draw_run_figures(study, args.workroot, args.out)
    print(f'drew {len(drawn)} figures under {args.workroot}')
  else:
    print(report.write_report(study, args.workroot, args.out))


if __name__ == '__main__':
  main()
