"""Runs shared by several test modules (each trains a tiny model once).

The benchmarks' packages (TensorFlow Datasets, flax, orbax, ...) are imported
inside the fixtures, so that the library's own tests (`tests/library/`) run
where only the library's dependencies are installed.
"""

import numpy as np
import pytest

MOCK_EXAMPLES = 40  # TFDS mock examples; tests.mock_main serves the same


def mock_cifar():
  """TFDS's mock CIFAR-100 of `MOCK_EXAMPLES` examples, as a context."""
  import tensorflow_datasets as tfds

  return tfds.testing.mock_data(num_examples=MOCK_EXAMPLES)


def write_run(directory, results, arms, seed):
  """A run directory holding `arms` of `results`' seed 0, relabelled `seed`."""
  from benchmarks.cifar100 import results_io

  part = {
    **results,
    'config': {**results['config'], 'arms': list(arms)},
    'runs': {arm: {str(seed): results['runs'][arm]['0']} for arm in arms},
  }
  part.pop('summary')
  results_io.write_json_atomically(str(directory / 'results.json'), part)


def tiny_run(workdir, **overrides):
  """A run of tiny.py on mock data: (workdir, results)."""
  from benchmarks.cifar100 import experiment
  from benchmarks.cifar100.configs import tiny

  config = tiny.get_config()
  config.update(overrides)
  with mock_cifar():
    return workdir, experiment.train_and_evaluate(config, str(workdir))


@pytest.fixture(scope='session')
def uninterrupted(tmp_path_factory):
  """tiny.py on every device, uninterrupted: (workdir, results)."""
  return tiny_run(tmp_path_factory.mktemp('uninterrupted'))


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
  from benchmarks.cifar100 import experiment
  from benchmarks.cifar100 import input_pipeline
  from benchmarks.cifar100 import train

  workdir = tmp_path_factory.mktemp('validated')
  trained_on = []
  real_train_epoch = train.train_epoch

  def recording_train_epoch(model, optimizer, split, order, *args):
    trained_on.append(np.asarray(split[0])[order.ravel()])
    return real_train_epoch(model, optimizer, split, order, *args)

  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(train, 'train_epoch', recording_train_epoch)
    with mock_cifar():
      results = experiment.train_and_evaluate(validated_config(), str(workdir))
      everything = input_pipeline.load_split('train', download=False, limit=32)
  return results, trained_on, everything
