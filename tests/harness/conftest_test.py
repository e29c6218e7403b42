"""The shared runs' helper: computed once for all of xdist's workers."""

import pathlib
import types

import pytest

from tests.conftest import once_per_session

pytest.importorskip('fcntl')  # without POSIX locks the helper shares nothing


def worker_factory(controller, worker):
  """A stand-in for one worker's `tmp_path_factory`: its own directory."""
  own = controller / worker
  own.mkdir(exist_ok=True)
  return types.SimpleNamespace(getbasetemp=lambda: own, mktemp=None)


def test_the_first_worker_computes_and_the_others_load(tmp_path, monkeypatch):
  monkeypatch.setenv('PYTEST_XDIST_WORKER', 'gw0')
  made_in = []

  def make(directory):
    made_in.append(directory)
    (directory / 'checkpoint').write_text('trained')
    return {'top1': [0.5, 0.25]}

  first = once_per_session(worker_factory(tmp_path, 'gw0'), 'run', make)
  second = once_per_session(worker_factory(tmp_path, 'gw1'), 'run', make)
  assert first == second == {'top1': [0.5, 0.25]}
  (directory,) = made_in  # trained once, where every worker can read it
  assert directory.parent == tmp_path
  assert (directory / 'checkpoint').read_text() == 'trained'


def test_a_failed_first_try_leaves_the_next_a_fresh_directory(
  tmp_path, monkeypatch
):
  monkeypatch.setenv('PYTEST_XDIST_WORKER', 'gw0')

  def fail(directory):
    (directory / 'half').write_text('written')
    raise RuntimeError('out of memory')

  with pytest.raises(RuntimeError, match='out of memory'):
    once_per_session(worker_factory(tmp_path, 'gw0'), 'run', fail)
  value = once_per_session(
    worker_factory(tmp_path, 'gw1'), 'run', lambda d: sorted(d.iterdir())
  )
  assert value == []


def test_without_xdist_it_computes_in_a_directory_of_its_own(
  tmp_path_factory, monkeypatch
):
  monkeypatch.delenv('PYTEST_XDIST_WORKER', raising=False)
  directory = once_per_session(tmp_path_factory, 'run', lambda d: d)
  assert directory.is_dir() and directory.name.startswith('run')


def test_the_slowest_files_named_first_exist():
  import conftest

  root = pathlib.Path(conftest.__file__).parent
  missing = [p for p in conftest.SLOWEST_FILES if not (root / p).is_file()]
  assert not missing, f'conftest.SLOWEST_FILES names no file at {missing}'
