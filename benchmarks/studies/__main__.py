"""Runs or reports a study: see `benchmarks/studies/__init__.py`.

`python -m benchmarks.studies comparisons [--out DIR]` writes every study's
pre-stated comparisons as one table and forest plot (`comparisons.py`).
"""

import argparse
import dataclasses
import os
import sys

from benchmarks import studies
from benchmarks.harness import launcher
from benchmarks.harness import results_io
from benchmarks.studies import comparisons
from benchmarks.studies import engine
from benchmarks.studies import report
from benchmarks.studies import run_states


def launch_runs(study, args, argv):
  """`run` through the launcher `main` uses: the same logging, processes
  joined under --distributed (each process trains the runs in turn: give
  --executor=inline), and expected errors in one line."""
  if args.distributed and args.executor != 'inline':
    sys.exit(
      'error: --distributed trains one run across processes; give '
      '--executor=inline and run the command on every host.'
    )
  options = engine.Options(
    **{
      f.name: getattr(args, f.name) for f in dataclasses.fields(engine.Options)
    }
  )
  status = launcher.launch_with_options(
    lambda: engine.submit(
      study, args.workroot, options, args.jobs, args.seeds, argv
    ),
    {name: getattr(args, name) for name in launcher.PROCESS_OPTIONS},
  )
  sys.exit(status)


# `run`'s engine options, each an `engine.Options` field (its default):
# name -> argparse's settings.
ENGINE_OPTIONS = {
  'executor': {
    'choices': engine.EXECUTORS,
    'help': 'local: submitit processes on this machine, --parallel at a '
    'time; slurm: one SLURM job array; inline: one by one in this process',
  },
  'parallel': {
    'type': int,
    'help': 'local: runs at a time, each pinned to its cores (default: one '
    'per core)',
  },
  'partition': {'help': 'slurm: the partition'},
  'time_min': {
    'type': int,
    'help': 'the time limit of a task, in minutes (a task that reaches it '
    'is requeued and resumes)',
  },
  'cpus_per_task': {'type': int, 'help': 'slurm: CPUs a task'},
  'gpus_per_task': {'type': int, 'help': 'slurm: GPUs a task'},
  'mem': {'help': 'slurm: memory a node, as sbatch --mem'},
  'array_parallelism': {
    'type': int, 'help': 'slurm: tasks of the array at a time',
  },
  'sbatch': {
    'nargs': '+', 'metavar': 'KEY=VALUE',
    'help': 'slurm: more sbatch parameters (qos=high ...)',
  },
  'signal_delay_s': {
    'type': int, 'help': 'SIGUSR2 this long before the time limit',
  },
  'requeues': {'type': int, 'help': 'times a task is requeued at most'},
  'detach': {
    'action': 'store_true',
    'help': 'submit and return (local: in the background)',
  },
  'dry_run': {
    'action': 'store_true',
    'help': 'print what would be submitted, and submit nothing',
  },
}  # fmt: skip
ALSO_SPELT = {'dry_run': ('--dry-run',)}


def add_engine_options(parser):
  """`run`'s choice of engine and its settings (`engine.Options`)."""
  default = engine.Options()
  group = parser.add_argument_group('run: the engine')
  for name, settings in ENGINE_OPTIONS.items():
    group.add_argument(
      f'--{name}', *ALSO_SPELT.get(name, ()), default=getattr(default, name),
      **settings,
    )  # fmt: skip


def add_process_options(parser):
  """main.py's options for a run of several processes, for `run`."""
  for name, (kind, default, text) in launcher.PROCESS_OPTIONS.items():
    if kind is bool:
      parser.add_argument(f'--{name}', action='store_true', help=text)
    else:
      parser.add_argument(f'--{name}', type=kind, default=default, help=text)


COMMANDS = {
  'run': "trains the study's unfinished runs through an engine",
  'status': 'a row per job: planned, finished, diverged, running, failed, '
  'stopped, not started (exit 1 while a run has failed)',
  'report': 'copies the finished runs next to the report, writes tables.md',
  'figures': "draws every committed run's curves into a folder",
  'comparisons': "every study's pre-stated comparisons: one table, one "
  'forest plot',
}


def command_parser():
  """The command line: a sub-command each, each with its own options."""
  parser = argparse.ArgumentParser(
    prog='python -m benchmarks.studies',
    description='Runs, follows and reports the studies (benchmarks/studies/).',
  )
  commands = parser.add_subparsers(dest='action', required=True)
  for action, text in COMMANDS.items():
    command = commands.add_parser(action, help=text, description=text)
    if action == 'comparisons':
      command.add_argument(
        '--out', default='benchmarks/results',
        help='where to write comparisons.md and .png',
      )  # fmt: skip
      continue
    command.add_argument('study', choices=studies.names())
    command.add_argument(
      'workroot',
      help='where the runs are, as WORKROOT/JOB/ (figures: where to draw them)',
    )
    if action in ('run', 'status'):
      command.add_argument('--jobs', nargs='+', help='only these jobs')
      command.add_argument('--seeds', nargs='+', type=int, help='only these')
    if action in ('report', 'figures'):
      command.add_argument(
        '--out', help='report: where to write it; figures: the results to '
        "draw from (default for both: the study's results folder)",
      )  # fmt: skip
    if action == 'run':
      add_engine_options(command)
      add_process_options(command)
  return parser


def main(argv=None):
  if argv is None:
    argv = sys.argv[1:]
  args = command_parser().parse_args(argv)
  if args.action == 'comparisons':
    os.makedirs(args.out, exist_ok=True)
    print(comparisons.write(args.out))
    return
  study = studies.load(args.study)
  if args.action == 'run':
    launch_runs(study, args, argv)
  elif args.action == 'status':
    states = run_states.study_states(
      study, args.workroot, args.jobs, args.seeds
    )
    print(run_states.status_table(states))
    sys.exit(int(any(s.state == 'failed' for s in states)))
  elif args.action == 'figures':
    results = args.out or study.out
    if not os.path.isdir(results):
      sys.exit(
        f'error: no results to draw at {results}: give --out the '
        "folder of a study's results (its report's folder)."
      )
    drawn = report.draw_run_figures(study, args.workroot, args.out)
    print(f'drew {len(drawn)} figures under {args.workroot}')
  else:
    try:
      print(report.write_report(study, args.workroot, args.out))
    except results_io.PoolingError as error:
      sys.exit(launcher.error_message(error))


if __name__ == '__main__':
  main()
