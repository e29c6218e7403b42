"""The one way into training, for `main` and the study runner alike.

`launch` sets the harness's logging, joins the other processes of a
multi-process run, stops every process when one fails (`distributed`), and
ends an expected failure (a bad config, an unusable workdir, a full disk,
missing data, a checkpoint that cannot be read or written) in one line and
status 1, at once.
"""

import logging as std_logging
import os
import signal
import sys

from absl import flags
from absl import logging

from benchmarks.harness import checkpoints
from benchmarks.harness import config_checks
from benchmarks.harness import distributed
from benchmarks.harness import experiment
from benchmarks.harness import workdir_lock

EXPECTED_ERRORS = (
  config_checks.ConfigError,
  checkpoints.CheckpointError,
  experiment.NonFiniteLossError,
  experiment.DataUnavailableError,  # each task's, saying what to run
  workdir_lock.WorkdirError,
  OSError,  # a full disk or a lost directory while writing results
)
CLUSTER_OPTIONS = ('coordinator_address', 'num_processes', 'process_id')
# The options of a run of several processes, the flags of main.py and of the
# study runner's `run`: name -> (type, default, help).
PROCESS_OPTIONS = {
  'distributed': (
    bool, False, 'Run as one of several processes (multi-host; see '
    'distributed.py).',
  ),
  'coordinator_address': (
    str, None, 'HOST:PORT of process 0 (with --distributed).',
  ),
  'num_processes': (int, None, 'Number of processes (with --distributed).'),
  'process_id': (
    int, None, "This process's index, 0 to N - 1 (with --distributed).",
  ),
  'heartbeat_timeout_seconds': (
    int, distributed.HEARTBEAT_TIMEOUT_SECONDS,
    'With --distributed: how long the others outlive a silent process.',
  ),
}  # fmt: skip


def define_process_flags():
  """PROCESS_OPTIONS as absl flags (defined once in a process, for whichever
  command imports this first); returns name -> its flag holder."""
  define = {
    bool: flags.DEFINE_bool,
    str: flags.DEFINE_string,
    int: flags.DEFINE_integer,
  }
  return {
    name: flags.FlagHolder(flags.FLAGS, flags.FLAGS[name])
    if name in flags.FLAGS
    else define[kind](name, default, text)
    for name, (kind, default, text) in PROCESS_OPTIONS.items()
  }


def parse_flags(argv):
  """absl's parsing of `argv`; a bad, unknown or missing value ends the
  command in one line."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as error:
    sys.exit(f'error: {one_line(error)} (--help: the options)')


def unparse_flags():
  """absl's flags back to unparsed, for parsing again in this process, with
  absl's logger at the level it had (unparsing sets -v's default, WARNING,
  which would silence the INFO log after it)."""
  absl_logger = std_logging.getLogger('absl')
  level = absl_logger.level
  flags.FLAGS.unparse_flags()
  absl_logger.setLevel(level)


def one_line(error):
  """An error's text on one line (a config file's has several)."""
  return ' '.join(str(error).split())


def join_processes(distributed_run, cluster, heartbeat_timeout_seconds):
  """Joins the other processes where asked; says a lone option's fix.

  `cluster`: the values of `CLUSTER_OPTIONS` (None where not given).
  """
  if not distributed_run:
    given = [
      f'--{n}'
      for n, v in zip(CLUSTER_OPTIONS, cluster, strict=True)
      if v is not None
    ]
    if given:
      sys.exit(
        f'error: {", ".join(given)} given without --distributed; add '
        '--distributed to join the other processes, or drop them.'
      )
    return
  distributed.initialize(
    *cluster, heartbeat_timeout_seconds=heartbeat_timeout_seconds
  )


def launch(
  train,
  distributed_run=False,
  cluster=(None, None, None),
  heartbeat_timeout_seconds=distributed.HEARTBEAT_TIMEOUT_SECONDS,
):
  """Runs `train()` as a launched run does; returns what it returns.

  SIGINT (Ctrl-C) and SIGTERM stop it in one line: the save under way is
  abandoned (a rerun removes what it left), the workdir's lock is released
  as the stack unwinds, and the finished epochs stay saved.
  """
  experiment.log_progress()
  join_processes(distributed_run, cluster, heartbeat_timeout_seconds)
  for signal_number in (signal.SIGINT, signal.SIGTERM):
    signal.signal(signal_number, experiment.stop_on)
  with distributed.failing_fast(distributed_run):
    try:
      return stop_as_asked(train)
    except EXPECTED_ERRORS as error:
      exit_with(error_message(error))
    except (experiment.Stopped, KeyboardInterrupt) as stop:
      name = str(stop) or 'SIGINT'
      exit_with(
        f'stopped by {name}: every checkpoint written is kept (one per '
        'finished epoch, or interval of steps); rerun the same command to '
        'resume.',
        status=128 + getattr(signal, name, signal.SIGINT),
      )


def stop_as_asked(train):
  """`train()`; after a stop was asked, any error is that stop: a library
  may raise its own error from it (jax, comparing a jitted function's
  static arguments)."""
  try:
    return train()
  except Exception as error:
    if experiment.STOPS_ASKED and not isinstance(error, experiment.Stopped):
      raise experiment.Stopped(experiment.STOPS_ASKED[-1]) from error
    raise


def launch_with_options(train, options):
  """`launch` with `options`: name -> value of each of PROCESS_OPTIONS."""
  return launch(
    train,
    options['distributed'],
    tuple(options[name] for name in CLUSTER_OPTIONS),
    options['heartbeat_timeout_seconds'],
  )


def exit_with(message, status=1):
  """Prints `message` as stderr's last line and ends the process (status 1).

  Not `sys.exit`: after a failed save, orbax's background threads would hold
  the interpreter's exit for minutes, and print tracebacks meanwhile, so
  stderr is closed to them first. Nothing is left to write: results.json and
  every finished checkpoint are already on disk.
  """
  logging.flush()
  sys.stderr.flush()
  stderr = os.dup(2)
  devnull = os.open(os.devnull, os.O_WRONLY)
  os.dup2(devnull, 2)  # other threads' writes go nowhere from here on
  # On a line of its own: a thread may have left a line unfinished.
  os.write(stderr, f'\n{message}\n'.encode())
  os._exit(status)


def error_message(error):
  """One line for an expected error; an OS error names its path."""
  if isinstance(error, OSError) and error.filename:
    return f'error: {error.strerror}: {error.filename}'
  return f'error: {error}'
