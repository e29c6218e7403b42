"""Runs or reports a study: see `benchmarks/studies/__init__.py`."""

import argparse

from absl import logging

from benchmarks import studies
from benchmarks.cifar100 import distributed
from benchmarks.cifar100 import experiment
from benchmarks.cifar100 import launcher
from benchmarks.cifar100 import workdir_lock
from benchmarks.studies import report


def run(study, workroot, jobs, seeds):
  """Trains the study's planned runs in turn (see `launch_runs`)."""
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


def launch_runs(study, args):
  """`run` through the launcher `main` uses: the same logging, processes
  joined under --distributed, and expected errors in one line."""
  cluster = tuple(getattr(args, name) for name in launcher.CLUSTER_OPTIONS)
  launcher.launch(
    lambda: run(study, args.workroot, args.jobs, args.seeds),
    args.distributed,
    cluster,
    args.heartbeat_timeout_seconds,
  )


def add_process_options(parser):
  """main.py's options for a run of several processes, for `run`."""
  parser.add_argument(
    '--distributed', action='store_true',
    help='run: as one of several processes (see distributed.py)',
  )  # fmt: skip
  parser.add_argument('--coordinator_address', help='HOST:PORT of process 0')
  parser.add_argument('--num_processes', type=int)
  parser.add_argument('--process_id', type=int)
  parser.add_argument(
    '--heartbeat_timeout_seconds', type=int,
    default=distributed.HEARTBEAT_TIMEOUT_SECONDS,
  )  # fmt: skip


def main(argv=None):
  parser = argparse.ArgumentParser(
    prog='python -m benchmarks.studies',
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
  add_process_options(parser)
  args = parser.parse_args(argv)
  study = studies.load(args.study)
  if args.action == 'run':
    launch_runs(study, args)
  elif args.action == 'figures':
    drawn = report.draw_run_figures(study, args.workroot, args.out)
    print(f'drew {len(drawn)} figures under {args.workroot}')
  else:
    print(report.write_report(study, args.workroot, args.out))


if __name__ == '__main__':
  main()
