"""A small corpus the tests make (never the network), and runs on it."""

import pytest

LINES = (
  'First Citizen:\nBefore we proceed any further, hear me speak.\n\n'
  'All:\nSpeak, speak.\n\n'
  'First Citizen:\nYou are all resolved rather to die than to famish?\n\n'
)


def write_corpus(directory):
  """train.txt, validation.txt and test.txt of a made corpus in `directory`."""
  directory.mkdir(parents=True, exist_ok=True)
  for split, repeats in (('train', 40), ('validation', 8), ('test', 8)):
    text = ''.join(f'{LINES}{i}\n' for i in range(repeats))
    (directory / f'{split}.txt').write_text(text)
  return directory


@pytest.fixture
def corpus(tmp_path):
  return write_corpus(tmp_path / 'corpus')


def tiny_config(corpus, **overrides):
  from benchmarks.shakespeare.configs import gpt_tiny

  config = gpt_tiny.get_config()
  config.data_dir = str(corpus)
  config.update(overrides)
  return config


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
  """All four arms of the tiny config on the made corpus: (workdir, results)."""
  from benchmarks import tasks
  from benchmarks.shakespeare import train

  root = tmp_path_factory.mktemp('uninterrupted')
  config = tiny_config(write_corpus(root / 'corpus'), arms=train.ARMS)
  workdir = root / 'workdir'
  return workdir, tasks.train_and_evaluate(config, str(workdir))
