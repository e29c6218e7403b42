"""The prepared accelerator check, run at toy sizes on the CPU."""

import sys

import tensorflow_datasets as tfds

from benchmarks import device_check


def test_tiny_device_check_writes_every_section(tmp_path, monkeypatch):
  monkeypatch.setattr(
    sys, 'argv', ['device_check', '--tiny', f'--out={tmp_path}']
  )
  with tfds.testing.mock_data(num_examples=64):
    device_check.main()
  (written,) = tmp_path.glob('*-tiny.md')
  text = written.read_text()
  assert text.startswith('# Device check: ')
  for section in (
    '## 1. Update overhead',
    '## 2. Training step',
    '## 3. Compiled epochs',
    '## 4. ResNet18 training',
  ):
    assert section in text
  assert '| ResNet18 | plp |' in text and '| step a call |' in text
  assert 'on CIFAR-100' in text  # the mock data stands in for it
