"""Runs every arm and seed of a config, for any task: checkpoints, resume,
results.

A task (`Task`: each task package's `train.TASK`, named in
`benchmarks/tasks.py`) supplies its data, models,
optimizers and metrics. `train_and_evaluate` loads the task's data once, then
trains each arm for each seed, checkpoints every epoch with orbax (rerunning
resumes from the latest checkpoint, to the same numbers) and writes
``results.json`` (see `results_io`).
"""

from collections.abc import Callable
import contextlib
import logging as std_logging
import math
import os
import signal
import sys
import threading
import time
from typing import NamedTuple

from absl import logging
from flax import nnx
import jax
import orbax.checkpoint as ocp
import tqdm

from benchmarks.harness import checkpoints
from benchmarks.harness import config_checks
from benchmarks.harness import distributed
from benchmarks.harness import event_files
from benchmarks.harness import results_io
from benchmarks.harness import workdir_lock

# The benchmarks' own modules (the harness and every task), whose INFO lines
# are shown (`log_progress`).
BENCHMARKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class DataUnavailableError(RuntimeError):
  """A task's data cannot be read; the message says what to run."""


class NonFiniteLossError(FloatingPointError):
  """Training diverged; the message names the arm, seed and epoch."""


class Stopped(BaseException):
  """The process was asked to stop (SIGINT or SIGTERM): `stop_on`."""


# The stops asked for by signals, by name, as they came.
STOPS_ASKED = []


def stop_on(signal_number, frame):
  """The launcher's handler of SIGINT and SIGTERM: raises `Stopped` at once.

  Python ignores an exception raised where a garbage collector's callback
  (such as JAX's) runs, and the signal can arrive there: the run then stops
  at its next epoch's end instead (`stop_if_asked`), that epoch saved.
  """
  del frame
  STOPS_ASKED.append(signal.Signals(signal_number).name)
  raise Stopped(STOPS_ASKED[-1])


# How often a wait for the device looks for a stop asked by a signal.
WAIT_POLL_SECONDS = 0.02


def fetched(array):
  """`float(array)` once the device has computed it, waiting in short
  sleeps: a stop (SIGINT, SIGTERM) asked meanwhile takes effect at once,
  not after a long computation (Python runs a signal's handler only between
  its own steps, never inside a blocking wait in XLA)."""
  while not array.is_ready():
    time.sleep(WAIT_POLL_SECONDS)
  return float(array)


def stop_if_asked():
  """Raises `Stopped` where a signal asked for a stop whose raise was lost."""
  if STOPS_ASKED:
    raise Stopped(STOPS_ASKED[-1])


def check_finite(train_loss, run, interval):
  """Raises `NonFiniteLossError` where `train_loss`, of `run`'s `interval`
  of training (such as 'epoch 3'), is not finite."""
  if not math.isfinite(train_loss):
    raise NonFiniteLossError(
      f'arm {run.arm!r}, seed {run.seed}: the training loss of {interval} '
      f'is {train_loss}.'
    )


# Library warnings that mislead here: orbax counts the harness's own wait
# for each save to finish (so that its manifest can follow) as a wait before
# the next save, and advises checkpointing less.
MISLEADING = ('Waiting for previous save to complete',)


def is_harness_log_or_warning(record):
  """The harness's lines, and libraries' warnings and errors in one line
  each: a library's traceback (orbax logs one from each of its threads when
  a save fails, ~300 lines for a full disk) is dropped, since the harness
  ends such a failure with the line that says what to do."""
  if record.pathname.startswith(BENCHMARKS):
    return True
  if record.levelno < std_logging.WARNING:
    return False
  if str(record.msg).startswith(MISLEADING):
    return False
  try:
    text = record.getMessage()  # formatted with its arguments, then cut
  except (TypeError, ValueError):
    text = str(record.msg)
  record.msg, record.args = text.split('\n', 1)[0], None
  record.exc_info, record.exc_text, record.stack_info = None, None, None
  return True


def first_line(kind, error):
  """'Kind: the message's first line', for a log of one line."""
  lines = str(error).splitlines() or ['']
  return f'{kind.__name__}: {lines[0]}'


def log_thread_error(failure):
  """threading.excepthook: a thread's uncaught error in one logged line."""
  if not issubclass(failure.exc_type, SystemExit):  # as the default hook
    name = failure.thread.name if failure.thread else 'a thread'
    logging.error(
      '%s ended with %s', name, first_line(failure.exc_type, failure.exc_value)
    )


def log_unraisable_error(failure):
  """sys.unraisablehook: an error in a finalizer in one logged line."""
  where = failure.err_msg or 'Exception ignored in'
  culprit = failure.object  # a function (a finalizer) or an object
  name = getattr(culprit, '__qualname__', type(culprit).__name__)
  logging.error(
    '%s %s: %s', where, name, first_line(failure.exc_type, failure.exc_value)
  )


def log_progress():
  """Logs the harness's lines at INFO, and only warnings from libraries.

  Orbax and TFDS log every checkpoint step and read at INFO, which would drown
  the one line per epoch that the harness logs. Verbosity is global, so the
  filter sits on the handlers that print.
  """
  logging.set_verbosity(logging.INFO)
  logging.use_absl_handler()
  # Tracebacks that bypass logging: orbax's threads and finalizers may fail
  # while a run that could not save ends.
  threading.excepthook = log_thread_error
  sys.unraisablehook = log_unraisable_error
  handlers = list(std_logging.getLogger().handlers)
  # absl's handler passes records to its inner handler, past its own filters.
  handlers += [getattr(h, 'python_handler', h) for h in handlers]
  for handler in handlers:
    if is_harness_log_or_warning not in handler.filters:
      handler.addFilter(is_harness_log_or_warning)


def progress_bar(total, progress, file=None):
  """A progress bar where `progress` is set and `file` (stderr) is a terminal.

  (tqdm's disable=None: a log file or a pipe gets no bars.)
  """
  disable = None if progress else True
  return tqdm.tqdm(total=total, disable=disable, leave=False, file=file)


class Run(NamedTuple):
  """One arm and seed: what it trains and where it checkpoints."""

  arm: str
  seed: int
  model: nnx.Module
  optimizer: nnx.Optimizer
  manager: ocp.CheckpointManager


def resume_run(config, arm, seed, model, optimizer, workdir, resume_fields):
  """A run of a fresh model and optimizer, restored if checkpointed (the
  task's `resume_fields`: see `checkpoints.restore`)."""
  if distributed.is_writer():
    checkpoints.set_aside_damaged(workdir, arm, seed)
  # The checkpoint manager's first barrier is a collective.
  distributed.arrive_together(f'start of {arm}, seed {seed}')
  manager = checkpoints.checkpoint_manager(workdir, arm, seed)
  records = checkpoints.restore(
    manager, model, optimizer, config, resume_fields
  )
  return Run(arm, seed, model, optimizer, manager), records


def publish(workdir, config, runs, data, task):
  """The results so far; process 0 writes them to `workdir`.

  The other processes of a multi-process run hold the same results.
  """
  results = results_io.collect_results(config, runs, data.sizes, task.summarize)
  if distributed.is_writer():
    results_io.write_results(workdir, results)
  return results


def record_step(record):
  """The step a record is at (its epoch, where the task counts no steps)."""
  return record.get('step', record['epoch'])


def train_run(run, records, data, config, workdir, runs, task):
  """Trains `run` from its restored `records` to the config's last epoch."""
  writer = None
  if distributed.is_writer():
    first_step = record_step(records[-1]) + 1 if records else 0
    writer = event_files.open_writer(workdir, run.arm, run.seed, first_step)
  try:
    train_epochs(run, records, data, config, workdir, runs, task, writer)
  finally:
    if writer is not None:
      writer.close()
  run.manager.close()


def train_epochs(run, records, data, config, workdir, runs, task, writer):
  """`train_run`'s loop: an epoch's record, its events and its checkpoint."""
  for epoch in range(len(records) + 1, config.epochs + 1):
    try:
      record = task.train_epoch_record(run, epoch, data, config)
    except NonFiniteLossError as error:
      if config.on_divergence == 'record':
        # A sweep goes on: the run ends here, marked, and is not saved, so
        # a rerun retrains this one epoch and marks it again.
        records.append({'epoch': epoch, 'diverged': True})
        logging.warning('%s Recorded as diverged; going on.', error)
        break
      publish(workdir, config, runs, data, task)
      raise NonFiniteLossError(
        f'{error} Finished epochs are saved in {workdir}.'
      ) from error
    records.append(record)
    step = record_step(record)
    rate = task.learning_rate and task.learning_rate(config, run.arm, step)
    event_files.write(writer, record, step, rate)
    logging.info(
      '%s seed %d %s %d/%d: %s', run.arm, run.seed, task.interval_name, epoch,
      config.epochs,
      task.describe(record),
    )  # fmt: skip
    checkpoints.save(
      run.manager, epoch, run.model, run.optimizer, records, config,
      task.resume_fields,
    )  # fmt: skip
    publish(workdir, config, runs, data, task)
    stop_if_asked()


def train_and_evaluate(config, workdir, task):
  """Trains every arm and seed of `config`; returns the results dict.

  `task` (a `Task`) supplies the data, models, training and metrics. The
  workdir is locked for the whole run (by process 0 of several): a second run
  there is refused (`workdir_lock`).
  """
  task.validate_config(config)
  if os.path.isdir(workdir):
    # Refused before the lock too, so that a refused run leaves nothing (no
    # lock file) in a folder of committed results.
    check_no_run_dropped(config, workdir)
  writer = distributed.is_writer()  # process 0 holds the lock for all
  with workdir_lock.held(workdir) if writer else contextlib.nullcontext():
    if writer:
      results_io.set_aside_unreadable(workdir)
    check_no_run_dropped(config, workdir)
    return train_all(config, workdir, task)


def check_no_run_dropped(config, workdir):
  """Refuses a run that would lose records the workdir's results.json holds:
  runs this config does not run, and records no checkpoint can give back
  (a committed study folder, or a workdir whose checkpoints were removed).
  """
  held = results_io.held_runs(workdir)
  planned = {(arm, str(seed)) for arm in config.arms for seed in config.seeds}
  dropped = sorted(set(held) - planned)
  if dropped:
    named = ', '.join(f'{arm} seed {seed}' for arm, seed in dropped)
    raise config_checks.ConfigError(
      f'{workdir}/results.json holds runs this config does not run ({named}) '
      'and rewriting it would drop them: include their arms and seeds in '
      'config.arms and config.seeds (finished runs only reload), or give '
      'another --workdir.'
    )
  unbacked = [
    f'{arm} seed {seed}: {count} epochs, checkpointed to {saved}'
    for (arm, seed), count in sorted(held.items())
    if (saved := checkpoints.latest_epoch(workdir, arm, seed)) < count
  ]
  if unbacked:
    raise config_checks.ConfigError(
      f'{workdir}/results.json holds records no checkpoint here can give '
      f'back ({"; ".join(unbacked)}), and training here would replace them: '
      'train into a fresh --workdir (a study: another WORKROOT), or move '
      'results.json away to discard them.'
    )


def train_all(config, workdir, task):
  """`train_and_evaluate` once the workdir is this process's."""
  mesh = distributed.data_mesh(
    jax.devices()[: config_checks.num_devices(config)]
  )
  data = task.load_data(config, mesh)
  check_same_data(workdir, data.sizes)
  for arm in config.arms:  # Fail on a bad optimizer before training any arm.
    task.arm_optimizer(arm, config, data.sizes)
    if config_checks.is_user_arm(arm):  # its first step, on the model's shapes
      task.model_and_optimizer(config, arm, config.seeds[0], data, mesh)
  runs = {arm: {} for arm in config.arms}
  for seed in config.seeds:
    for arm in config.arms:
      model, optimizer = task.model_and_optimizer(config, arm, seed, data, mesh)
      run, records = resume_run(
        config, arm, seed, model, optimizer, workdir, task.resume_fields
      )
      runs[arm][seed] = records
      train_run(run, records, data, config, workdir, runs, task)
  return publish(workdir, config, runs, data, task)


def check_same_data(workdir, sizes):
  """Refuses to resume runs on other data than they trained on: where a
  task gives its data a 'fingerprint' (a digest), the runs in
  WORKDIR/results.json must have trained on the same."""
  stored = results_io.stored_data(workdir).get('fingerprint')
  if stored and sizes.get('fingerprint') and stored != sizes['fingerprint']:
    raise DataUnavailableError(
      f'the data differ from those the runs in {workdir}/results.json '
      f'trained on (fingerprint {sizes["fingerprint"][:12]}..., theirs '
      f'{stored[:12]}...): restore their data, or give another --workdir.'
    )


class Task(NamedTuple):
  """What a task supplies to the harness: its data, models and metrics.

  Attributes:
    validate_config: raises `ConfigError` naming a bad field of a config.
    load_data: (config, mesh) -> the splits on the devices, with `.sizes`.
    arm_optimizer: (arm, config, data sizes) -> the arm's optax optimizer.
    model_and_optimizer: (config, arm, seed, data, mesh) -> a fresh model
      and `nnx.Optimizer`, the same initialisation for every arm of a seed.
    train_epoch_record: (run, epoch, data, config) -> the epoch's record.
    summarize: (runs, arms, epochs) -> the summary results.json holds:
      per arm over seeds, and the paired differences it compares.
    reproducible: the record fields a rerun, a resumed run or another
      process layout must reproduce (its speed and wall time it need not).
    describe: an epoch's record -> its log line.
    learning_rate: (config, arm, step) -> the arm's learning rate there, or
      None; shown beside the records in TensorBoard (`event_files`).
    interval_name: what the log calls the span between two records
      ('epoch'; the language model's are 'interval's of steps).
    table: results -> the text table a run prints at its end (or None).
    figures: each (workdir, results) -> the path of a figure it draws there,
      or None where it has nothing to show (trajectories without probes).
    resume_fields: what the task says of its config fields when a run
      resumes: those added since runs were made, those free to change
      (`checkpoints.ResumeFields`).
  """

  validate_config: Callable
  load_data: Callable
  arm_optimizer: Callable
  model_and_optimizer: Callable
  train_epoch_record: Callable
  summarize: Callable
  reproducible: tuple[str, ...]
  describe: Callable
  learning_rate: Callable | None = None
  interval_name: str = 'epoch'
  table: Callable | None = None
  figures: tuple[Callable, ...] = ()
  resume_fields: checkpoints.ResumeFields = checkpoints.NO_RESUME_FIELDS
