"""Runs shared by several test modules (each trains a tiny model once).

The benchmarks' packages (TensorFlow Datasets, flax, orbax, ...) are imported
inside the fixtures, so that the library's own tests (`tests/library/`) run
where only the library's dependencies are installed.
"""

import contextlib
import os
import pathlib
import pickle
import shutil
import tempfile

import numpy as np
import pytest

# TFDS mock examples; tests.support.mock_main serves the same.
MOCK_EXAMPLES = 40


def mock_cifar():
  """TFDS's mock CIFAR-100 of `MOCK_EXAMPLES` examples, as a context."""
  import tensorflow_datasets as tfds

  return tfds.testing.mock_data(num_examples=MOCK_EXAMPLES)


def write_mock_arrays(directory):
  """TFDS's mock CIFAR-100 written as the harness's compact copy: its path.

  Where `OPTAX_PLP_CIFAR100` names it, a harness process reads the very same
  examples without importing TensorFlow, which took most of the start of
  each test's process (`mock_arrays`, `process_data`).
  """
  from benchmarks.cifar100 import input_pipeline
  from benchmarks.tools import data_arrays

  with mock_cifar():
    splits = {
      name: input_pipeline.load_tfds_split(name, download=False)
      for name in input_pipeline.SPLITS
    }
  path = str(directory / data_arrays.NAME)
  data_arrays.write_file(path, splits)
  return path


def process_data():
  """The data of a test's harness process: the mock examples' compact copy
  where `OPTAX_PLP_CIFAR100` names one (the harness reads it, nothing to
  mock), else TFDS's mock data."""
  from benchmarks.cifar100 import input_pipeline

  if os.environ.get(input_pipeline.ENVIRONMENT_VARIABLE):
    return contextlib.nullcontext()
  return mock_cifar()


def write_run(directory, results, arms, seed):
  """A run directory holding `arms` of `results`' seed 0, relabelled `seed`."""
  from benchmarks.harness import results_io

  part = {
    **results,
    'config': {**results['config'], 'arms': list(arms)},
    'runs': {arm: {str(seed): results['runs'][arm]['0']} for arm in arms},
  }
  part.pop('summary')
  results_io.write_json_atomically(str(directory / 'results.json'), part)


def killed_at_call(function, call):
  """`function`, but its `call`-th call (from 1) raises KeyboardInterrupt:
  a run killed there, in process."""
  calls = []

  def killed(*args, **kwargs):
    calls.append(1)
    if len(calls) == call:
      raise KeyboardInterrupt
    return function(*args, **kwargs)

  return killed


def flip_one_bit(step_directory):
  """Flips one bit in the middle of a checkpoint step's largest data file."""
  data = max(
    (p for p in (step_directory / 'state').rglob('*') if p.is_file()),
    key=lambda p: p.stat().st_size,
  )
  flipped = bytearray(data.read_bytes())
  flipped[len(flipped) // 2] ^= 1
  data.write_bytes(bytes(flipped))


def tiny_run(workdir, **overrides):
  """A run of tiny.py on mock data: (workdir, results)."""
  from benchmarks import tasks
  from benchmarks.cifar100.configs import tiny

  config = tiny.get_config()
  config.update(overrides)
  with mock_cifar():
    return workdir, tasks.train_and_evaluate(config, str(workdir))


def once_per_session(tmp_path_factory, name, make):
  """`make(directory)`'s value, computed once for the whole test session.

  A session fixture runs once per xdist worker that uses it, and four test
  files, run by different workers, train the same runs. The first worker to ask
  computes the value in a directory every worker sees and pickles it there; the
  others wait on the lock and load it (the recipe of xdist's documentation).
  Without xdist, or without POSIX locks, it is computed in place.
  """
  try:
    import fcntl
  except ImportError:
    fcntl = None
  if fcntl is None or 'PYTEST_XDIST_WORKER' not in os.environ:
    return make(tmp_path_factory.mktemp(name))
  # xdist gives each worker a directory inside the controller's, which lives
  # until the last worker ends (and goes then if every test passed).
  shared = tmp_path_factory.getbasetemp().parent
  pickled = shared / f'{name}.pickle'
  with open(shared / f'{name}.lock', 'w') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # blocks until the first worker is done
    if pickled.exists():
      return pickle.loads(pickled.read_bytes())
    # A fresh directory, should an earlier worker have failed half-way.
    value = make(pathlib.Path(tempfile.mkdtemp(prefix=name, dir=shared)))
    pickled.write_bytes(pickle.dumps(value))
    return value


@pytest.fixture(scope='session')
def mock_arrays(tmp_path_factory):
  """The path of the mock examples' compact copy (`write_mock_arrays`)."""
  return once_per_session(tmp_path_factory, 'mock_arrays', write_mock_arrays)


@pytest.fixture(scope='module')
def processes_read_mock_arrays(mock_arrays):
  """The harness processes a module's tests start read the mock examples'
  compact copy: the same examples as TFDS's mock, without TensorFlow."""
  from benchmarks.cifar100 import input_pipeline

  with pytest.MonkeyPatch.context() as patch:
    patch.setenv(input_pipeline.ENVIRONMENT_VARIABLE, mock_arrays)
    yield


@pytest.fixture(scope='session')
def uninterrupted(tmp_path_factory):
  """tiny.py on every device, uninterrupted: (workdir, results).

  Shared by every test that asks: tests read its workdir, never change it.
  """
  return once_per_session(tmp_path_factory, 'uninterrupted', tiny_run)


@pytest.fixture
def uninterrupted_copy(uninterrupted, tmp_path):
  """A copy of the `uninterrupted` work directory (the nearest one: CIFAR's
  or the language model's), for a test to damage."""
  copy = tmp_path / 'copy'
  shutil.copytree(uninterrupted[0], copy)
  return copy


def validated_config():
  """tiny.py with the paper's arms, a validation split and a cyclic rate."""
  from benchmarks.cifar100.configs import tiny

  config = tiny.get_config()
  config.arms = ('sgd', 'plp', 'sgd_matched', 'demon')
  config.validation_fraction = 0.25  # 32 examples: 24 to train, 8 held out
  config.lr_schedule = 'cyclic'
  config.learning_rate, config.max_learning_rate = 0.05, 0.1
  return config


@pytest.fixture(scope='session')
def validated(tmp_path_factory):
  """A validated run on mock data: results, the batches trained on, the data.

  Every epoch's trained images are recorded, to check what was held out.
  """
  return once_per_session(tmp_path_factory, 'validated', _train_validated)


def _train_validated(workdir):
  """The `validated` fixture's run, trained in `workdir`."""
  from benchmarks import tasks
  from benchmarks.cifar100 import input_pipeline
  from benchmarks.cifar100 import steps

  trained_on = []
  real_train_epoch = steps.train_epoch

  def recording_train_epoch(model, optimizer, split, order, *args):
    trained_on.append(np.asarray(split[0])[order.ravel()])
    return real_train_epoch(model, optimizer, split, order, *args)

  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(steps, 'train_epoch', recording_train_epoch)
    with mock_cifar():
      results = tasks.train_and_evaluate(validated_config(), str(workdir))
      everything = input_pipeline.load_split('train', download=False, limit=32)
  return results, trained_on, everything
