"""The study engine (`benchmarks/studies/engine.py`): the `smoke` study through
submitit's local processes and a real single-node SLURM, requeued tasks,
failed ones, and what `status` reads from the run directories.

Every wait is for an event (a record written, a job gone from the queue),
bounded only as a guard against a hang. The SLURM tests need `make slurm`
and root; they skip where SLURM is missing, except under CI, where they
fail.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from benchmarks import studies
from benchmarks import tasks
from benchmarks.harness import workdir_lock
from benchmarks.studies import engine
from benchmarks.studies import run_states
from benchmarks.studies import smoke
from tests.support import single_node_slurm

TIMEOUT = 600  # seconds: a guard against a hang, never a measured moment
SMOKE = studies.load('smoke')
# A run long enough to be interrupted after its first interval is saved.
LONG = studies.Study(
  name='long',
  base_config=smoke.base_config,
  jobs={'adamw_plp': {'arms': ('adamw_plp',), 'seeds': (0,), 'epochs': 40}},
  sections=(),
)


def command(*args, check=True):
  done = subprocess.run(
    [sys.executable, '-m', 'benchmarks.studies', *args],
    capture_output=True, text=True, timeout=TIMEOUT, check=False,
  )  # fmt: skip
  if check:
    assert done.returncode == 0, done.stderr[-3000:]
  return done


def reproducible(workroot, study, jobs=None):
  """Job -> the reproducible part of its results (of `jobs`, or every job)."""
  return {
    job: tasks.reproducible(tasks.load_results(os.path.join(workroot, job)))
    for job in jobs or study.jobs
  }


def trained_one_by_one(study, workroot):
  """The study's runs trained in turn in this process: the reference."""
  for job, seed, config in studies.planned_runs(study):
    tasks.train_and_evaluate(config, studies.run_directory(workroot, job, seed))
  return reproducible(workroot, study)


@pytest.fixture(scope='module')
def smoke_alone(tmp_path_factory):
  return trained_one_by_one(SMOKE, str(tmp_path_factory.mktemp('alone')))


@pytest.fixture(scope='module')
def long_alone(tmp_path_factory):
  return trained_one_by_one(LONG, str(tmp_path_factory.mktemp('long')))


@pytest.fixture(scope='module')
def slurm(tmp_path_factory):
  reason = single_node_slurm.missing()
  if reason and os.environ.get('CI'):
    pytest.fail(f'SLURM is missing under CI: {reason}')
  if reason:
    pytest.skip(reason)
  with single_node_slurm.running(tmp_path_factory.mktemp('slurm')) as conf:
    yield conf


def wait_for(condition, what):
  deadline = time.monotonic() + TIMEOUT
  while not condition():
    assert time.monotonic() < deadline, f'{what}: not within {TIMEOUT} s'
    time.sleep(0.2)


def has_trained(workdir):
  """Whether the run in `workdir` has saved its first interval."""
  return run_states.trained_state(workdir, LONG_CONFIG) == 'stopped'


LONG_CONFIG = studies.planned_runs(LONG)[0][2]


def status_of(workroot):
  return command('status', 'smoke', str(workroot), check=False)


# Each executor runs one of smoke's jobs (two seeds, side by side): the two
# executors' tests together run the study once.
LOCAL_JOB, SLURM_JOB = 'adamw_plp', 'adamw'


def test_smoke_runs_locally_as_one_by_one_and_is_never_submitted_twice(
  smoke_alone, tmp_path
):
  only = ('--jobs', LOCAL_JOB)
  ran = command('run', 'smoke', str(tmp_path), *only, '--parallel', '2')
  assert '2 of 2 finished or diverged' in ran.stdout.splitlines()[-1]
  got = reproducible(tmp_path, SMOKE, [LOCAL_JOB])
  assert got == {LOCAL_JOB: smoke_alone[LOCAL_JOB]}
  shown = status_of(tmp_path)
  assert shown.returncode == 0
  assert '2 of 4 finished or diverged; 0 running, 0 failed' in shown.stdout
  logs = sorted((tmp_path / engine.SUBMITIT_FOLDER).iterdir())
  again = command('run', 'smoke', str(tmp_path), *only)
  assert again.stdout.strip() == (
    'smoke: every planned run is finished, diverged or running.'
  )
  assert sorted((tmp_path / engine.SUBMITIT_FOLDER).iterdir()) == logs


def test_a_dry_run_prints_the_submission_and_submits_nothing(tmp_path):
  shown = command(
    'run', 'smoke', str(tmp_path), '--executor=slurm', '--dry_run',
    '--partition', 'gpu', '--gpus_per_task', '1', '--time_min', '600',
    '--array_parallelism', '2', '--sbatch', 'qos=high',
  ).stdout  # fmt: skip
  assert 'smoke: would submit 4 runs to slurm' in shown
  assert '  adamw_plp seed 1' in shown
  for line in (
    '--array=0-3%2', '--partition=gpu', '--gpus-per-task=1', '--time=600',
    '--qos=high', '--requeue', '--signal=USR2@120', '--job-name=smoke',
  ):  # fmt: skip
    assert f'#SBATCH {line}\n' in shown + '\n', line
  assert not list(tmp_path.glob('adamw*'))


def test_a_local_task_interrupted_is_requeued_and_resumes(long_alone, tmp_path):
  runs = studies.planned_runs(LONG)
  options = engine.Options(requeues=2)
  task = engine.tasks_of(runs, str(tmp_path), options)[0]
  executor = engine.local_executor(str(tmp_path / 'logs'), options)
  job = executor.submit(task)
  wait_for(lambda: has_trained(task.workdir), 'the first interval')
  # What submitit's local controller sends a task before its time limit, and
  # SLURM with --signal (submitit 1.5.4's `_interrupt` signals the controller,
  # which does not pass it on).
  holder = workdir_lock.running_holder(task.workdir)
  os.kill(workdir_lock.holder_process(holder)[0], signal.SIGUSR2)
  job.result()
  record = run_states.read_record(task.workdir)
  assert (record['state'], record['requeues']) == ('finished', 1)
  assert reproducible(tmp_path, LONG) == long_alone


# The study command's way to the engine (studies/__main__.py), for LONG.
RUN_LONG_LOCALLY = """
import sys
from benchmarks.harness import launcher
from benchmarks.studies import engine
from tests.harness.engine_test import LONG
options = engine.Options(parallel=1)
sys.exit(launcher.launch(lambda: engine.submit(LONG, sys.argv[1], options)))
"""


def test_ctrl_c_stops_a_local_study_in_one_line(tmp_path):
  # Each training process is stopped as Ctrl-C stops a run, and its
  # submitit controller ends quietly: no traceback after the last line.
  engine_process = subprocess.Popen(
    [sys.executable, '-c', RUN_LONG_LOCALLY, str(tmp_path)],
    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
  )  # fmt: skip
  workdir = studies.run_directory(str(tmp_path), 'adamw_plp', 0)
  wait_for(lambda: has_trained(workdir), 'the first interval')
  engine_process.send_signal(signal.SIGINT)
  out, err = engine_process.communicate(timeout=TIMEOUT)  # the tasks' too
  assert 'Traceback' not in out + err, err[-3000:]
  assert err.strip().splitlines()[-1].startswith('stopped by SIGINT: ')
  record = run_states.read_record(workdir)
  assert (record['state'], record['detail']) == ('stopped', 'stopped by SIGINT')


def test_a_task_that_fails_shows_in_status_and_is_not_finished(tmp_path):
  not_a_folder = tmp_path / 'corpus'
  not_a_folder.write_text('a file where the corpus folder should be')
  study = studies.Study(
    name='broken',
    base_config=smoke.base_config,
    jobs={'adamw': {'arms': ('adamw',), 'seeds': (0,), 'data_dir': str(
      not_a_folder)}},
    sections=(),
  )  # fmt: skip
  root = tmp_path / 'runs'
  assert engine.submit(study, str(root), engine.Options(parallel=1)) == 1
  [state] = run_states.study_states(study, str(root))
  assert state.state == 'failed'
  assert state.detail.startswith('FileExistsError: ')
  log = state.detail.split('(log: ')[1].rstrip(')')
  assert os.path.exists(log) and 'FileExistsError' in open(log).read()
  table = run_states.status_table([state])
  assert 'adamw seed 0 failed: FileExistsError' in table


def test_status_reads_each_state_from_the_run_directory(tmp_path, capsys):
  from benchmarks.studies import __main__ as main

  root = tmp_path / 'runs'
  config = studies.planned_runs(SMOKE)[0][2]
  workdir = studies.run_directory(str(root), 'adamw', 0)
  assert run_states.state_of(workdir, config) == ('not started', '')
  with workdir_lock.held(workdir):
    state, holder = run_states.state_of(workdir, config)
    assert state == 'running' and f'process {os.getpid()} on ' in holder
  run_states.write_record(workdir, state='failed', error='E: x', log='L')
  assert run_states.state_of(workdir, config) == ('failed', 'E: x (log: L)')
  with pytest.raises(SystemExit) as exit_status:
    main.main(['status', 'smoke', str(root)])
  assert exit_status.value.code == 1  # while a run has failed
  assert 'adamw seed 0 failed: E: x (log: L)' in capsys.readouterr().out


def test_the_cores_are_split_evenly_among_the_tasks():
  cores = sorted(os.sched_getaffinity(0))
  assert engine.core_groups(0) == [(c,) for c in cores]
  assert engine.core_groups(1) == [tuple(cores)]
  assert engine.core_groups(len(cores) + 1) == [None] * (len(cores) + 1)


def test_smoke_runs_through_slurm_as_one_by_one(slurm, smoke_alone, tmp_path):
  del slurm
  ran = command(
    'run', 'smoke', str(tmp_path), '--jobs', SLURM_JOB, '--executor=slurm',
    '--array_parallelism=2', '--time_min=10',
  )  # fmt: skip
  assert 'smoke: 2 runs submitted as SLURM job(s)' in ran.stdout
  got = reproducible(tmp_path, SMOKE, [SLURM_JOB])
  assert got == {SLURM_JOB: smoke_alone[SLURM_JOB]}
  assert '2 of 4 finished or diverged' in status_of(tmp_path).stdout


def squeue_state(job_id):
  listed = subprocess.run(
    ['squeue', '--noheader', '--format=%T', '--jobs', job_id],
    capture_output=True, text=True, check=False,
  )  # fmt: skip
  return listed.stdout.strip()


def test_a_slurm_task_requeued_resumes(slurm, long_alone, tmp_path):
  del slurm
  runs = studies.planned_runs(LONG)
  options = engine.Options(executor='slurm', time_min=10)
  [job] = engine.submit_slurm(LONG, str(tmp_path), runs, options)
  workdir = studies.run_directory(str(tmp_path), 'adamw_plp', 0)
  wait_for(lambda: has_trained(workdir), 'the first interval')
  subprocess.run(['scontrol', 'requeue', job.job_id], check=True)
  wait_for(lambda: squeue_state(job.job_id) == 'PENDING', 'the requeue')
  # SLURM holds a requeued job back for a while (its BeginTime): release it.
  subprocess.run(
    ['scontrol', 'update', f'JobId={job.job_id}', 'StartTime=now'], check=True
  )
  wait_for(lambda: not engine.in_squeue([job]), 'the requeued task')
  record = run_states.read_record(workdir)
  assert (record['state'], record['requeues']) == ('finished', 1)
  assert reproducible(tmp_path, LONG) == long_alone


def test_a_requeue_asked_during_training_goes_to_submitit_from_plain_code(
  monkeypatch,
):
  # SIGUSR2 raises Stopped('SIGUSR2') at once, or at the interval's end where
  # Python drops it (raised in a garbage collector's callback); either way
  # submitit's handler then runs outside the signal: it checkpoints and
  # requeues (SystemExit), never lost.
  from benchmarks.harness import experiment

  def stopped(config, workdir):
    raise experiment.Stopped('SIGUSR2')

  asked = []

  def submitits_handler(signum, frame):
    asked.append(signum)
    raise SystemExit(144)

  monkeypatch.setattr(engine.tasks, 'train_and_evaluate', stopped)
  task = engine.RunTask(LONG_CONFIG, '/nonexistent')
  with pytest.raises(SystemExit):
    task.train(submitits_handler)
  assert asked == [signal.SIGUSR2]
  monkeypatch.setattr(
    engine.tasks, 'train_and_evaluate',
    lambda c, w: (_ for _ in ()).throw(experiment.Stopped('SIGINT')),
  )  # fmt: skip
  with pytest.raises(experiment.Stopped, match='SIGINT'):
    task.train(submitits_handler)  # a stop, not a requeue
  assert asked == [signal.SIGUSR2]


def test_a_requeue_a_library_turned_into_its_error_is_still_a_requeue(
  monkeypatch,
):
  # SIGUSR2 can arrive while jax compares a jitted function's static
  # arguments, which raises its own ValueError from the Stopped.
  from benchmarks.harness import experiment

  def stopped_inside_jax(config, workdir):
    try:
      experiment.stop_on(signal.SIGUSR2, None)
    except experiment.Stopped as stop:
      raise ValueError('static arguments should be comparable') from stop

  asked = []

  def submitits_handler(signum, frame):
    asked.append(signum)
    raise SystemExit(144)

  monkeypatch.setattr(engine.tasks, 'train_and_evaluate', stopped_inside_jax)
  monkeypatch.setattr(experiment, 'STOPS_ASKED', [])
  with pytest.raises(SystemExit):
    engine.RunTask(LONG_CONFIG, '/nonexistent').train(submitits_handler)
  assert asked == [signal.SIGUSR2]


def test_a_detached_local_study_reruns_its_command_not_detached(
  tmp_path, monkeypatch
):
  started = []

  class Process:
    pid = 7

  def popen(command, **kwargs):
    started.append((command, kwargs))
    return Process()

  monkeypatch.setattr(engine.subprocess, 'Popen', popen)
  argv = ['run', 'smoke', str(tmp_path), '--detach', '--seeds=1']
  pid, log = engine.detach_local(argv, str(tmp_path))
  ((command, kwargs),) = started
  assert command[1:] == ['-m', 'benchmarks.studies', *argv, '--nodetach']
  assert kwargs['start_new_session'] and pid == 7
  assert log.startswith(str(tmp_path / engine.SUBMITIT_FOLDER / 'local-'))
