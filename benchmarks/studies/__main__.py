"""Runs or reports a study: see `benchmarks/studies/__init__.py`.

`python -m benchmarks.studies comparisons [--out DIR]` writes every study's
pre-stated comparisons as one table and forest plot (`comparisons.py`).
"""

import argparse
import sys

from absl import logging

from benchmarks import studies
from benchmarks import tasks
from benchmarks.harness import launcher
from benchmarks.harness import results_io
from benchmarks.harness import workdir_lock
from benchmarks.studies import comparisons
from benchmarks.studies import report


def run(study, workroot, jobs, seeds):
  """Trains the study's planned runs in turn (see `launch_runs`), every
  job, seed and config checked before the first trains."""
  planned = studies.planned_runs(study, jobs, seeds)
  for _, _, config in planned:
    tasks.task_of(config).validate_config(config)
  for job, seed, config in planned:
    workdir = studies.run_directory(workroot, job, seed)
    logging.info('== %s seed %d -> %s', job, seed, workdir)
    try:
      tasks.train_and_evaluate(config, workdir)
    except workdir_lock.WorkdirInUseError as error:
      # Another worker trains it: this one goes on with the next run.
      logging.warning('== %s seed %d skipped: %s', job, seed, error)
      continue
    logging.info('== %s seed %d done', job, seed)


def launch_runs(study, args):
  """`run` through the launcher `main` uses: the same logging, processes
  joined under --distributed, and expected errors in one line."""
  launcher.launch_with_options(
    lambda: run(study, args.workroot, args.jobs, args.seeds),
    {name: getattr(args, name) for name in launcher.PROCESS_OPTIONS},
  )


def add_process_options(parser):
  """main.py's options for a run of several processes, for `run`."""
  for name, (kind, default, text) in launcher.PROCESS_OPTIONS.items():
    if kind is bool:
      parser.add_argument(f'--{name}', action='store_true', help=text)
    else:
      parser.add_argument(f'--{name}', type=kind, default=default, help=text)


def main(argv=None):
  if argv is None:
    argv = sys.argv[1:]
  if argv[:1] == ['comparisons']:  # every study's pre-stated comparisons
    out = argv[2] if argv[1:2] == ['--out'] else 'benchmarks/results'
    print(comparisons.write(out))
    return
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
    try:
      print(report.write_report(study, args.workroot, args.out))
    except results_io.PoolingError as error:
      sys.exit(launcher.error_message(error))


if __name__ == '__main__':
  main()
