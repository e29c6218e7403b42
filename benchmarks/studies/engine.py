"""A study's unfinished runs as submitit jobs: local processes or a SLURM array.

Each (job, seed) run is one task (`RunTask`) training in its own run
directory, as `run --executor=inline` would. `local` keeps at most
`parallel` tasks at a time on this machine, each pinned to its own cores
(one thread pool per core trains faster, and the thread count fixes the
rounding: `benchmarks/results/lanes_speed.md`); `slurm` submits one job
array whose tasks SLURM places, `array_parallelism` at a time, with
`--requeue` and SIGUSR2 `signal_delay_s` before the time limit.

A task interrupted by the engine (SIGUSR2: a time limit, a preemption,
submitit's local `_interrupt`) is requeued, up to `requeues` times, and
resumes from its run's last checkpoint; `scontrol requeue` restarts it the
same way. The workdir lock stays the guard: a run is never trained by two
tasks at once. What each run is doing is read from its run directory
(`run_states`), never from the engine.
"""

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from absl import logging
import ml_collections
import submitit

from benchmarks import studies
from benchmarks import tasks
from benchmarks.harness import experiment
from benchmarks.harness import launcher
from benchmarks.harness import workdir_lock
from benchmarks.studies import run_states

EXECUTORS = ('local', 'slurm', 'inline')
POLL_SECONDS = {'local': 1.0, 'slurm': 5.0}
# How often the runs' states are read while none starts or ends.
REREAD_SECONDS = 10
SUBMITIT_FOLDER = '.submitit'  # under the workroot: pickles and logs, %j


@dataclasses.dataclass(frozen=True)
class Options:
  """How the runs are submitted (the `run` command's options)."""

  executor: str = 'local'
  parallel: int = 0  # local: tasks at a time; 0: one per core
  partition: str | None = None
  time_min: int = 24 * 60
  cpus_per_task: int = 1
  gpus_per_task: int = 0
  mem: str | None = None
  array_parallelism: int = 8
  sbatch: tuple[str, ...] = ()  # extra KEY=VALUE sbatch parameters
  signal_delay_s: int = 120
  requeues: int = 3
  detach: bool = False
  dry_run: bool = False


@dataclasses.dataclass(frozen=True)
class RunTask(submitit.helpers.Checkpointable):
  """Trains one run in its directory; requeued on SIGUSR2 (`checkpoint`)."""

  config: ml_collections.ConfigDict
  workdir: str
  cores: tuple[int, ...] | None = None
  requeues: int = 0
  max_requeues: int = 3

  def __call__(self):
    if self.cores:  # before XLA sizes its thread pool
      os.sched_setaffinity(0, self.cores)
    experiment.log_progress()
    # SIGUSR2 (the engine's "requeue me") stops training as SIGINT does, at
    # once or, where Python drops the exception (raised in a garbage
    # collector's callback), at the next interval's end; submitit's own
    # handler then checkpoints and requeues from plain code.
    requeue = signal.getsignal(signal.SIGUSR2)
    for signal_number in (signal.SIGINT, signal.SIGUSR2):
      signal.signal(signal_number, experiment.stop_on)
    try:
      self.train(requeue)
    except workdir_lock.WorkdirInUseError:
      raise  # the holder's run: its record is not this task's to write
    except (experiment.Stopped, KeyboardInterrupt) as stop:
      self.record('stopped', detail=f'stopped by {stop or "SIGINT"}')
      launcher.exit_with(
        'stopped: every finished interval is saved; submit the study again '
        'to resume.',
        status=130,
      )
    except SystemExit as requeued:  # submitit's, once it requeued the task
      self.record(
        'requeued', detail=f'requeued ({self.requeues + 1} of '
        f'{self.max_requeues})',
      )  # fmt: skip
      os._exit(requeued.code if isinstance(requeued.code, int) else 1)
    except Exception as error:
      self.record('failed', error=f'{type(error).__name__}: {error}')
      raise
    self.record('finished')
    return self.workdir

  def train(self, requeue):
    """Trains the run; on SIGUSR2, hands over to submitit's `requeue`."""
    try:
      launcher.stop_as_asked(
        lambda: tasks.train_and_evaluate(self.config, self.workdir)
      )
    except experiment.Stopped as stop:
      if str(stop) != 'SIGUSR2' or not callable(requeue):
        raise
      requeue(signal.SIGUSR2, None)  # exits (SystemExit) or raises

  def checkpoint(self, *args: Any, **kwargs: Any):
    """The same run, to resume from its checkpoints; None (not requeued)
    once it has been requeued `max_requeues` times."""
    del args, kwargs
    if self.requeues >= self.max_requeues:
      return None
    again = dataclasses.replace(self, requeues=self.requeues + 1)
    return submitit.helpers.DelayedSubmission(again)

  def restarts(self):
    """Times this run's task was requeued: by submitit, or by SLURM itself
    (`scontrol requeue`, a preemption), which leaves the task as it was."""
    return max(self.requeues, int(os.environ.get('SLURM_RESTART_COUNT', 0)))

  def record(self, state, **fields):
    run_states.write_record(
      self.workdir,
      state=state,
      host=socket.gethostname(),
      pid=os.getpid(),
      at=time.strftime('%Y-%m-%dT%H:%M:%S'),
      requeues=self.restarts(),
      log=log_path(),
      **fields,
    )


def log_path():
  """This task's stderr log under submitit, or None outside of one."""
  try:
    return str(submitit.JobEnvironment().paths.stderr)
  except RuntimeError:
    return None


def unfinished(study, workroot, jobs=None, seeds=None):
  """(job, seed, config) of each planned run neither done nor running."""
  states = run_states.study_states(study, workroot, jobs, seeds)
  waiting = {
    (s.job, s.seed)
    for s in states
    if s.state not in (*run_states.DONE, 'running')
  }
  return [
    run
    for run in studies.planned_runs(study, jobs, seeds)
    if run[:2] in waiting
  ]


def tasks_of(runs, workroot, options):
  """A `RunTask` per run, its workdir absolute (tasks may start elsewhere)."""
  return [
    RunTask(
      config,
      os.path.abspath(studies.run_directory(workroot, job, seed)),
      max_requeues=options.requeues,
    )
    for job, seed, config in runs
  ]


def core_groups(parallel):
  """`parallel` disjoint groups of this process's cores, as even as can be
  (0: one group per core)."""
  cores = sorted(os.sched_getaffinity(0))
  parallel = parallel or len(cores)
  if parallel > len(cores):
    return [None] * parallel  # more tasks than cores: none pinned
  size = len(cores) // parallel
  return [tuple(cores[i * size : (i + 1) * size]) for i in range(parallel)]


def slurm_executor(folder, options, name):
  executor = submitit.SlurmExecutor(
    folder=folder, max_num_timeout=options.requeues
  )
  extra = dict(item.split('=', 1) for item in options.sbatch)
  executor.update_parameters(
    job_name=name,
    time=options.time_min,
    cpus_per_task=options.cpus_per_task,
    array_parallelism=options.array_parallelism,
    signal_delay_s=options.signal_delay_s,
    additional_parameters={'requeue': True, **extra},
    **{
      k: v
      for k, v in (
        ('partition', options.partition),
        ('mem', options.mem),
        ('gpus_per_task', options.gpus_per_task or None),
      )
      if v is not None
    },
  )
  return executor


def local_executor(folder, options):
  executor = submitit.LocalExecutor(
    folder=folder, max_num_timeout=options.requeues
  )
  executor.update_parameters(
    timeout_min=options.time_min, signal_delay_s=options.signal_delay_s
  )
  return executor


def submit_slurm(study, workroot, runs, options):
  """Submits every run as one task of one job array; the jobs."""
  folder = os.path.join(workroot, SUBMITIT_FOLDER)
  executor = slurm_executor(folder, options, study.name)
  with executor.batch():
    jobs = [executor.submit(task) for task in tasks_of(runs, workroot, options)]
  return jobs


def in_squeue(jobs):
  """Whether SLURM still holds any of `jobs` (queued, running, requeued)."""
  ids = sorted({job.job_id.split('_')[0] for job in jobs})
  listed = subprocess.run(
    ['squeue', '--noheader', '--format=%i', '--jobs', ','.join(ids)],
    capture_output=True,
    text=True,
    check=False,
  )
  return bool(listed.stdout.strip())


def run_local(study, workroot, runs, options):
  """Trains `runs` as local submitit jobs, `parallel` at a time, each on its
  cores; a stop (Ctrl-C) stops the running ones, their intervals saved."""
  executor = local_executor(os.path.join(workroot, SUBMITIT_FOLDER), options)
  free = core_groups(options.parallel)
  pending = list(zip(runs, tasks_of(runs, workroot, options), strict=True))
  active = {}  # submitit job -> its task (on its cores)
  shown, changed, read_at = '', True, time.monotonic()
  try:
    while pending or active:
      for job in [j for j in active if j.done()]:
        free.append(active.pop(job).cores)
        changed = True
      while pending and free:
        _, task = pending.pop(0)
        task = dataclasses.replace(task, cores=free.pop(0))
        active[executor.submit(task)] = task
      if changed or time.monotonic() > read_at + REREAD_SECONDS:
        shown = show_progress(study, workroot, runs, shown)
        changed, read_at = False, time.monotonic()
      time.sleep(POLL_SECONDS['local'])
    show_progress(study, workroot, runs, shown)
  except BaseException:
    for job, task in active.items():
      stop_local(job, task.workdir)
    raise


def stop_local(job, workdir):
  """Stops a local job's training as Ctrl-C stops a run: SIGINT to the
  process that holds the run's lock, which ends in one line, and then its
  submitit controller quietly (`job.cancel` signals the controller, which
  ends in a traceback and kills the task a second later). A task not yet
  training is cancelled: it has nothing to save."""
  holder = workdir_lock.running_holder(workdir)
  if not holder:
    job.cancel()
    return
  pid, _ = workdir_lock.holder_process(holder)
  try:
    os.kill(pid, signal.SIGINT)
  except ProcessLookupError:  # ended meanwhile
    pass


def states_of(study, workroot, runs):
  """The `RunState` of each of `runs`."""
  keys = {(job, seed) for job, seed, _ in runs}
  return [
    s
    for s in run_states.study_states(study, workroot)
    if (s.job, s.seed) in keys
  ]


def show_progress(study, workroot, runs, shown):
  """Prints the runs' progress line where it changed; returns it."""
  line = run_states.progress_line(states_of(study, workroot, runs))
  if line != shown:
    print(f'{time.strftime("%H:%M:%S")} {study.name}: {line}', flush=True)
  return line


def run_inline(runs, workroot):
  """Trains `runs` one by one in this process (what --distributed needs:
  every host runs the same command); a run another process holds is left to
  it."""
  for job, seed, config in runs:
    workdir = studies.run_directory(workroot, job, seed)
    logging.info('== %s seed %d -> %s', job, seed, workdir)
    try:
      tasks.train_and_evaluate(config, workdir)
    except workdir_lock.WorkdirInUseError as error:
      logging.warning('== %s seed %d skipped: %s', job, seed, error)
      continue
    logging.info('== %s seed %d done', job, seed)


def dry_run_text(study, workroot, runs, options):
  """What `submit` would do: the runs, and the executor's settings (for
  SLURM, the sbatch script's header that submitit writes)."""
  lines = [
    f'{study.name}: would submit {len(runs)} runs to {options.executor} '
    '(finished, diverged and running ones left out):',
    *(f'  {job} seed {seed}' for job, seed, _ in runs),
  ]
  if options.executor == 'local':
    groups = core_groups(options.parallel)
    lines.append(f'{len(groups)} at a time, pinned to cores {groups}')
  elif options.executor == 'slurm' and runs:
    folder = os.path.join(os.path.abspath(workroot), SUBMITIT_FOLDER)
    executor = slurm_executor(folder, options, study.name)
    header = submitit.slurm.slurm._make_sbatch_string(  # noqa: SLF001
      command=executor._submitit_command_str,  # noqa: SLF001
      folder=folder,
      map_count=len(runs),
      **executor.parameters,
    )
    lines += [
      line for line in header.splitlines() if line.startswith('#SBATCH')
    ]
  return '\n'.join(lines)


def detach_local(argv, workroot):
  """Runs the same command, not detached, in a session of its own, its
  output in a log beside the runs; returns (process id, log path)."""
  folder = os.path.join(workroot, SUBMITIT_FOLDER)
  os.makedirs(folder, exist_ok=True)
  log = os.path.join(folder, f'local-{time.strftime("%Y%m%d-%H%M%S")}.log')
  command = [
    sys.executable,
    '-m',
    'benchmarks.studies',
    *argv,
    '--nodetach',  # absl: the last value given holds
  ]
  with open(log, 'a') as output:
    process = subprocess.Popen(
      command,
      stdout=output,
      stderr=subprocess.STDOUT,
      stdin=subprocess.DEVNULL,
      start_new_session=True,
    )
  return process.pid, log


def wait_slurm(study, workroot, runs, jobs):
  shown = ''
  while in_squeue(jobs):
    shown = show_progress(study, workroot, runs, shown)
    time.sleep(POLL_SECONDS['slurm'])
  show_progress(study, workroot, runs, shown)


def submit(study, workroot, options, jobs=None, seeds=None, argv=()):
  """Submits the study's unfinished runs; waits for them unless detached.

  Returns 1 where a submitted run failed (`status` says which), else 0.
  """
  planned = studies.planned_runs(study, jobs, seeds)
  for _, _, config in planned:
    tasks.task_of(config).validate_config(config)
  runs = unfinished(study, workroot, jobs, seeds)
  if options.dry_run:
    print(dry_run_text(study, workroot, runs, options))
    return 0
  if not runs:
    print(f'{study.name}: every planned run is finished, diverged or running.')
    return 0
  if options.executor == 'inline':
    run_inline(runs, workroot)
  elif options.executor == 'local' and options.detach:
    pid, log = detach_local(argv, workroot)
    print(
      f'{study.name}: {len(runs)} runs in process {pid} (log: {log}); '
      f'stop it with `kill -INT {pid}`.'
    )
    return 0
  elif options.executor == 'local':
    run_local(study, workroot, runs, options)
  else:
    submitted = submit_slurm(study, workroot, runs, options)
    print(
      f'{study.name}: {len(runs)} runs submitted as SLURM job(s) '
      f'{sorted({j.job_id.split("_")[0] for j in submitted})}.'
    )
    if options.detach:
      return 0
    wait_slurm(study, workroot, runs, submitted)
  failed = [s for s in states_of(study, workroot, runs) if s.state == 'failed']
  return int(bool(failed))
