"""A short fault soak: SIGKILLs during a save and at a random moment."""

import subprocess
import sys

import pytest

from benchmarks import tasks
from benchmarks.tools.faults import fault_soak

# Their processes read the mock data's compact copy (tests/conftest.py).
pytestmark = pytest.mark.usefixtures('processes_read_mock_arrays')


def test_killed_runs_resume_to_the_uninterrupted_result(
  uninterrupted, tmp_path
):
  _, want = uninterrupted
  record = fault_soak.soak(
    str(tmp_path), kills=2, seed=0, launcher='tests.support.mock_main',
    reference=tasks.reproducible(want),
  )  # fmt: skip
  first, *_ = record['kills']
  # Aimed by the event, not by a time: this holds on a machine of any speed.
  assert first.moment == 'during a save' and first.round == 0
  assert first.partial_saves_left > 0
  assert len(record['kills']) == 2
  assert record['equal'] == [True] * record['rounds']
  # Each rerun cleans up what a killed save left.
  assert not fault_soak.partial_saves(tmp_path / 'round_0')
  assert 'Kills: 2, in ' in fault_soak.markdown(record, ['soak'])


def test_a_random_moment_is_drawn_within_the_killed_runs_time(monkeypatch):
  moments = []

  def kill_once(argv, env, workdir, moment, timeout):
    moments.append(moment)
    seconds = 40.0 if moment == 'save' else moment
    return fault_soak.Kill(0, str(moment), 0, seconds)

  monkeypatch.setattr(fault_soak, 'kill_once', kill_once)
  monkeypatch.setattr(fault_soak, 'run_to_end', lambda *args: None)
  monkeypatch.setattr(fault_soak, 'reproducible_results', lambda w: 'same')
  record = fault_soak.soak('root', 6, 0, 'launcher', {}, reference='same')
  assert moments[::2] == ['save'] * 3
  assert all(0 <= m <= 40.0 for m in moments[1::2]) and len(moments) == 6
  assert record['rounds'] == 3 and record['equal'] == [True] * 3


def test_a_stopped_process_is_told_from_an_ended_one():
  stops = 'import os, signal; os.kill(os.getpid(), signal.SIGSTOP)'
  for code, stopped in ((stops, True), ('pass', False)):
    process = subprocess.Popen([sys.executable, '-c', code])
    assert fault_soak.stopped_or_ended(process, timeout=600) == stopped
    process.kill()
    process.wait()


def test_the_rounds_are_capped_and_the_report_says_so(monkeypatch):
  # Every drawn moment misses (the rerun ends first): without a cap the soak
  # would never end.
  monkeypatch.setattr(fault_soak, 'kill_once', lambda *args: None)
  monkeypatch.setattr(fault_soak, 'run_to_end', lambda *args: None)
  monkeypatch.setattr(fault_soak, 'reproducible_results', lambda w: 'same')
  record = fault_soak.soak('root', 2, 0, 'launcher', {}, reference='same')
  assert record['rounds'] == 6 and not record['kills']
  assert record['missed'] == 6
  text = fault_soak.markdown(record, ['soak'])
  assert 'Stopped at the cap of 6 rounds with 0 kills of the 2 asked' in text
  # A soak that made every kill asked for says nothing of a cap.
  record['asked'] = 0
  assert 'Stopped at the cap' not in fault_soak.markdown(record, ['soak'])


def test_a_soak_of_no_kills_is_refused_and_writes_nothing(tmp_path):
  import subprocess
  import sys

  done = subprocess.run(
    [sys.executable, '-m', 'benchmarks.tools.faults.fault_soak',
     '--kills', '-1', '--workroot', str(tmp_path / 'soak'),
     '--out', str(tmp_path / 'r.md')],
    capture_output=True, text=True, timeout=300,
  )  # fmt: skip
  assert done.returncode == 2
  assert '--kills is -1; allowed: an int >= 1.' in done.stderr
  assert not (tmp_path / 'soak').exists() and not (tmp_path / 'r.md').exists()
