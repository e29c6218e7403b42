"""The prepared accelerator check, run at toy sizes on the CPU."""

import os
import subprocess
import sys
import textwrap

import pytest
import tensorflow_datasets as tfds

from benchmarks.tools import device_check

SECTIONS = (
  '## 1. Update overhead',
  '## 2. Training step',
  '## 3. Compiled epochs',
  '## 4. ResNet18 training',
)
# Installed here but not on the accelerator machine's image (the device
# tool's list of its packages); ml_collections travels there as a wheel.
NOT_ON_IMAGE = (
  'tensorflow', 'tensorflow_datasets', 'tensorflow_metadata', 'keras',
  'tf_keras', 'array_record', 'tree', 'optree', 'gast', 'promise',
  'immutabledict', 'simple_parsing', 'termcolor', 'nbclient', 'nbformat',
  'IPython', 'ipykernel', 'nest_asyncio',
)  # fmt: skip
# Runs the check with every module above unimportable, as on the image.
ON_IMAGE = textwrap.dedent("""
  import importlib.abc, runpy, sys

  BLOCKED = set(sys.argv[1].split(','))

  class NotOnImage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
      if name.split('.')[0] in BLOCKED:
        raise ModuleNotFoundError(f'No module named {name!r}', name=name)

  sys.meta_path.insert(0, NotOnImage())
  sys.argv = ['device_check', *sys.argv[2:]]
  runpy.run_module('benchmarks.tools.device_check', run_name='__main__')
""")


def report_text(directory):
  (written,) = directory.glob('*-tiny.md')
  return written.read_text()


def test_tiny_training_trains_on_cifar100_where_tfds_has_it():
  # The whole check runs below, without TFDS; with it, only training differs.
  with tfds.testing.mock_data(num_examples=64):
    text = device_check.training_section(device_check.TINY, 10)
  assert 'on CIFAR-100' in text  # the mock data stands in for it
  assert '| test top-1 | test top-5 |' in text
  assert '| sgd |' in text and '| plp |' in text


def test_tiny_device_check_runs_with_the_image_packages_only(tmp_path):
  environment = {**os.environ, 'TFDS_DATA_DIR': str(tmp_path / 'none')}
  process = subprocess.run(
    [sys.executable, '-c', ON_IMAGE, ','.join(NOT_ON_IMAGE), '--tiny',
     f'--out={tmp_path}'],
    capture_output=True, text=True, env=environment, check=False,
  )  # fmt: skip
  assert process.returncode == 0, process.stdout + process.stderr
  text = report_text(tmp_path)
  assert text.startswith('# Device check: ')
  for section in SECTIONS:
    assert section in text
  assert 'Failed' not in text
  assert '| ResNet18 | plp |' in text and '| step a call |' in text
  assert device_check.RANDOM_SOURCE in text and device_check.RANDOM_NOTE in text
  assert 'top-1' not in text.split('## 4.')[1]  # speed only
  assert 'TensorFlow Datasets is not installed' in process.stdout


def test_a_failing_section_keeps_the_others(tmp_path, monkeypatch):
  def broken(sizes):
    raise RuntimeError('no such kernel')

  monkeypatch.setattr(device_check, 'step_section', broken)
  monkeypatch.setattr(device_check, 'epoch_paths_section', lambda s: '## 3.')
  monkeypatch.setattr(device_check, 'training_section', lambda s, b: '## 4.')
  monkeypatch.setattr(
    sys, 'argv', ['device_check', '--tiny', f'--out={tmp_path}']
  )
  try:
    device_check.main()
    raise AssertionError('main should exit non-zero')
  except SystemExit as exit_:
    assert '1 section(s) failed' in str(exit_)
  text = report_text(tmp_path)
  assert '## 1. Update overhead' in text and '## 3.' in text
  assert 'RuntimeError: no such kernel' in text


def test_a_run_cut_short_keeps_the_earlier_report_and_says_so(
  tmp_path, monkeypatch
):
  name = f'{device_check.device_name()}-tiny'
  earlier = tmp_path / f'{name}.md'
  earlier.write_text('# Device check: the complete one before\n')

  def killed(sizes):
    raise KeyboardInterrupt  # as a time limit's signal would end the run

  monkeypatch.setattr(device_check, 'overhead_section', lambda s: '## 1. ok')
  monkeypatch.setattr(device_check, 'step_section', killed)
  monkeypatch.setattr(
    sys, 'argv', ['device_check', '--tiny', f'--out={tmp_path}']
  )
  with pytest.raises(KeyboardInterrupt):
    device_check.main()
  assert earlier.read_text() == '# Device check: the complete one before\n'
  partial = (tmp_path / f'{name}.partial.md').read_text()
  assert partial.startswith(device_check.INCOMPLETE)
  assert '## 1. ok' in partial and '## 2.' not in partial
