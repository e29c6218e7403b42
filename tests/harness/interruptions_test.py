"""A run stopped from outside, or whose workdir is tampered with while it
runs or between runs: the lock's file deleted, SIGTERM, Ctrl-C inside a save,
a checkpoint with a flipped bit. Each case runs the real command
(`tests.support.mock_main`) as a subprocess and waits for events.
"""

import shutil
import signal
import subprocess

import pytest

from benchmarks import tasks
from benchmarks.harness import workdir_lock
from benchmarks.tools.faults import fault_soak
from tests.conftest import flip_one_bit
from tests.support.processes import LAUNCHER
from tests.support.processes import TIMEOUT
from tests.support.processes import finish
from tests.support.processes import lock_holder
from tests.support.processes import start
from tests.support.processes import wait_until_locked

# Their processes read the mock data's compact copy (tests/conftest.py).
pytestmark = pytest.mark.usefixtures('processes_read_mock_arrays')


def test_the_lock_holds_when_its_file_is_deleted(uninterrupted, tmp_path):
  _, alone = uninterrupted
  first = start(tmp_path)
  wait_until_locked(first, tmp_path)
  (tmp_path / workdir_lock.LOCK_NAME).unlink()
  code, stderr = finish(start(tmp_path))
  assert code == 1
  line = stderr.strip().splitlines()[-1]
  assert 'is in use by another process (its lock file was deleted)' in line
  assert finish(first)[0] == 0
  assert fault_soak.reproducible_results(tmp_path) == tasks.reproducible(alone)


def test_sigterm_stops_a_run_in_one_line_and_it_resumes(
  uninterrupted, tmp_path
):
  # SIGINT (Ctrl-C) is sent in a save, below: the harder moment.
  signal_number = signal.SIGTERM
  _, alone = uninterrupted
  first = start(tmp_path)
  wait_until_locked(first, tmp_path)
  first.send_signal(signal_number)
  code, stderr = finish(first)
  name = signal.Signals(signal_number).name
  assert code == 128 + signal_number, stderr[-2000:]
  assert stderr.strip().splitlines()[-1] == (
    f'stopped by {name}: every checkpoint written is kept (one per finished '
    'epoch, or interval of steps); rerun the same command to resume.'
  )
  assert lock_holder(tmp_path) == ''  # released
  assert finish(start(tmp_path))[0] == 0
  assert fault_soak.reproducible_results(tmp_path) == tasks.reproducible(alone)


def test_ctrl_c_during_a_save_ends_in_one_line_and_the_run_resumes(
  uninterrupted, tmp_path
):
  _, alone = uninterrupted
  argv = fault_soak.command(tmp_path, LAUNCHER)
  argv = [argv[0], '-m', 'benchmarks.tools.faults.stop_in_save', *argv[2:]]
  process = subprocess.Popen(
    argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
  )
  # It stops itself with a save open; Ctrl-C reaches it there.
  assert fault_soak.stopped_or_ended(process, TIMEOUT), 'no save was open'
  assert fault_soak.partial_saves(tmp_path)
  process.send_signal(signal.SIGINT)
  process.send_signal(signal.SIGCONT)
  code, stderr = finish(process)
  assert code == 128 + signal.SIGINT, stderr[-3000:]
  lines = stderr.strip().splitlines()
  assert lines[-1].startswith('stopped by SIGINT: every checkpoint written')
  assert not any('Event loop is closed' in line for line in lines)
  assert lock_holder(tmp_path) == ''
  assert finish(start(tmp_path))[0] == 0
  assert fault_soak.reproducible_results(tmp_path) == tasks.reproducible(alone)
  assert not fault_soak.partial_saves(tmp_path)


def test_a_damaged_checkpoint_is_set_aside_and_the_run_resumes_before_it(
  uninterrupted, tmp_path
):
  source, alone = uninterrupted
  shutil.copytree(source, tmp_path, dirs_exist_ok=True)
  latest = tmp_path / 'checkpoints' / 'sgd' / 'seed_0' / '3'
  flip_one_bit(latest)
  code, stderr = finish(start(tmp_path))
  assert code == 0, stderr[-2000:]
  assert f'The checkpoint {latest} is damaged' in stderr
  assert (latest.parent / '3.damaged').is_dir()  # set aside, not deleted
  assert fault_soak.reproducible_results(tmp_path) == tasks.reproducible(alone)


def test_a_stop_a_library_turned_into_its_error_is_still_the_stop(monkeypatch):
  # Ctrl-C can arrive while jax compares a jitted function's static
  # arguments, which raises its own ValueError from the Stopped.
  from benchmarks.harness import experiment
  from benchmarks.harness import launcher

  def stopped_inside_jax():
    try:
      experiment.stop_on(signal.SIGINT, None)
    except experiment.Stopped as stop:
      raise ValueError('static arguments should be comparable') from stop

  monkeypatch.setattr(experiment, 'STOPS_ASKED', [])
  with pytest.raises(experiment.Stopped, match='SIGINT'):
    launcher.stop_as_asked(stopped_inside_jax)
  experiment.STOPS_ASKED.clear()
  with pytest.raises(ValueError):  # no stop asked: the error stands
    launcher.stop_as_asked(lambda: int('x'))
