"""Runs, follows and reports the studies (benchmarks/studies/).

  python -m benchmarks.studies run STUDY WORKROOT [--jobs=J,...] [--seeds=N,...]
      [--executor=local|slurm|inline] [--dry_run] [...]
  python -m benchmarks.studies status STUDY WORKROOT [--jobs=...] [--seeds=...]
  python -m benchmarks.studies report STUDY WORKROOT [--out=DIR]
  python -m benchmarks.studies figures STUDY WORKROOT [--out=RESULTS]
  python -m benchmarks.studies comparisons [--out=DIR]

Commands:
{commands}
Studies: {studies}.
Below, each option with the commands that take it (--distributed and those
with it: run; --helpfull: absl's own too).
"""

import dataclasses
import os
import sys

from absl import app
from absl import flags

from benchmarks import studies
from benchmarks.harness import launcher
from benchmarks.harness import results_io
from benchmarks.studies import comparisons
from benchmarks.studies import engine
from benchmarks.studies import report
from benchmarks.studies import run_states

COMMANDS = {
  'run': "trains the study's unfinished runs through an engine",
  'status': 'a row per job: planned, finished, diverged, running, failed, '
  'stopped, not started (exit 1 while a run has failed)',
  'report': 'copies the finished runs next to the report, writes tables.md',
  'figures': "draws every committed run's curves into WORKROOT",
  'comparisons': "every study's pre-stated comparisons: one table, one "
  'forest plot',
}
# command -> the options it takes (any other given is an error).
OPTIONS = {
  'run': (
    'jobs', 'seeds', *(f.name for f in dataclasses.fields(engine.Options)),
    *launcher.PROCESS_OPTIONS,
  ),
  'status': ('jobs', 'seeds'),
  'report': ('out',),
  'figures': ('out',),
  'comparisons': ('out',),
}  # fmt: skip


def taken_by(name):
  """The commands that take the option `name`, as its help begins."""
  return ', '.join(c for c, names in OPTIONS.items() if name in names) + ': '


_JOBS = flags.DEFINE_list('jobs', None, taken_by('jobs') + 'only these jobs.')
_SEEDS = flags.DEFINE_list(
  'seeds', None, taken_by('seeds') + 'only these seeds.'
)
_OUT = flags.DEFINE_string(
  'out', None, taken_by('out') + 'report: where to write it; figures: the '
  "results to draw from (default for both: the study's results folder); "
  'comparisons: where to write comparisons.md and .png (default: '
  'benchmarks/results).',
)  # fmt: skip
# `run`'s engine options: an `engine.Options` field each, defined with its
# default and type.
ENGINE_OPTIONS = {
  'executor': 'local: submitit processes on this machine, --parallel at a '
  'time; slurm: one SLURM job array; inline: one by one in this process.',
  'parallel': 'local: runs at a time, each pinned to its cores (0: one per '
  'core).',
  'partition': 'slurm: the partition.',
  'time_min': 'the time limit of a task, in minutes (a task that reaches it '
  'is requeued and resumes).',
  'cpus_per_task': 'slurm: CPUs a task.',
  'gpus_per_task': 'slurm: GPUs a task.',
  'mem': 'slurm: memory a node, as sbatch --mem.',
  'array_parallelism': 'slurm: tasks of the array at a time.',
  'sbatch': 'slurm: more sbatch parameters, KEY=VALUE,... (qos=high).',
  'signal_delay_s': 'SIGUSR2 this long before the time limit.',
  'requeues': 'times a task is requeued at most.',
  'detach': 'submit and return (local: in the background).',
  'dry_run': 'print what would be submitted, and submit nothing.',
}


def define_engine_option(field):
  """The flag of one `engine.Options` field, typed as its default."""
  text = taken_by(field.name) + ENGINE_OPTIONS[field.name]
  default = field.default
  if field.name == 'executor':
    return flags.DEFINE_enum(field.name, default, engine.EXECUTORS, text)
  if isinstance(default, bool):
    return flags.DEFINE_bool(field.name, default, text)
  if isinstance(default, int):
    return flags.DEFINE_integer(field.name, default, text)
  if isinstance(default, tuple):
    return flags.DEFINE_list(field.name, list(default), text)
  return flags.DEFINE_string(field.name, default, text)


_ENGINE = {
  f.name: define_engine_option(f) for f in dataclasses.fields(engine.Options)
}
_PROCESS = launcher.define_process_flags()
flags.adopt_module_key_flags(launcher)  # in --help
__doc__ = __doc__.format(
  commands=''.join(f'  {name}: {text}.\n' for name, text in COMMANDS.items()),
  studies=', '.join(studies.names()),
)


def usage_error(text):
  """Ends the command with `text` in one line and how to see the usage."""
  sys.exit(f'error: {text} (--help: the commands and their options)')


def parse_command(argv):
  """(command, study name or None, workroot or None) from the operands, with
  one line for a missing or unknown one or an option the command ignores."""
  command, *operands = argv[1:] or ['']
  if command not in COMMANDS:
    usage_error(f'the command is {command!r}; give one of {list(COMMANDS)}')
  wanted = 0 if command == 'comparisons' else 2
  if len(operands) != wanted:
    named = ' STUDY WORKROOT' if wanted else ''
    usage_error(f'{command} takes{named or " no operands"}: got {operands}')
  if operands and operands[0] not in studies.names():
    usage_error(
      f'the study is {operands[0]!r}; give one of {studies.names()}'
    )  # fmt: skip
  ignored = [
    f'--{name}'
    for options in OPTIONS.values()
    for name in options
    if flags.FLAGS[name].present and name not in OPTIONS[command]
  ]
  if ignored:
    usage_error(f'{command} takes no {", ".join(sorted(set(ignored)))}')
  return command, *(operands or (None, None))


def seeds_given():
  """--seeds as integers, or None."""
  if _SEEDS.value is None:
    return None
  try:
    return [int(seed) for seed in _SEEDS.value]
  except ValueError:
    usage_error(f'--seeds are {_SEEDS.value}: give integers, as --seeds=0,1')


def launch_runs(study, workroot, command_line):
  """`run` through the launcher `main` uses: the same logging, processes
  joined under --distributed (each process trains the runs in turn: give
  --executor=inline), and expected errors in one line."""
  options = engine.Options(
    **{name: flag.value for name, flag in _ENGINE.items()},
  )  # fmt: skip
  options = dataclasses.replace(options, sbatch=tuple(options.sbatch))
  if _PROCESS['distributed'].value and options.executor != 'inline':
    usage_error(
      '--distributed trains one run across processes; give '
      '--executor=inline and run the command on every host.'
    )  # fmt: skip
  return launcher.launch_with_options(
    lambda: engine.submit(
      study, workroot, options, _JOBS.value, seeds_given(), command_line
    ),
    {name: flag.value for name, flag in _PROCESS.items()},
  )


def draw_figures(study, workroot):
  results = _OUT.value or study.out
  if not os.path.isdir(results):
    sys.exit(
      f'error: no results to draw at {results}: give --out the '
      "folder of a study's results (its report's folder)."
    )
  drawn = report.draw_run_figures(study, workroot, _OUT.value)
  print(f'drew {len(drawn)} figures under {workroot}')


def run_command(argv, command_line=None):
  """The command `argv` names (absl's flags already parsed), given as
  `command_line` (default: this process's arguments); returns its status."""
  command, name, workroot = parse_command(argv)
  if command == 'comparisons':
    out = _OUT.value or comparisons.RESULTS_FOLDER
    os.makedirs(out, exist_ok=True)
    print(comparisons.write(out))
    return 0
  study = studies.load(name)
  if command == 'run':
    return launch_runs(study, workroot, command_line or sys.argv[1:])
  if command == 'status':
    states = run_states.study_states(
      study, workroot, _JOBS.value, seeds_given()
    )
    print(run_states.status_table(states))
    return int(any(s.state == 'failed' for s in states))
  if command == 'figures':
    draw_figures(study, workroot)
    return 0
  try:
    print(report.write_report(study, workroot, _OUT.value))
  except results_io.PoolingError as error:
    sys.exit(launcher.error_message(error))
  return 0


def main(argv):
  """The command line `python -m benchmarks.studies ...` as a list (no
  program name), run in this process: ends the process with its status
  where not 0, else returns 0."""
  launcher.unparse_flags()
  parsed = launcher.parse_flags(['benchmarks.studies', *argv])
  status = run_command(parsed, argv)
  if status:
    sys.exit(status)
  return status


if __name__ == '__main__':
  app.run(run_command, flags_parser=launcher.parse_flags)
