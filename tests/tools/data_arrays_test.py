"""CIFAR-100 as a compact lossless file: the same data as TFDS, read without
TensorFlow, and cut into parts that join back under their checksums."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from benchmarks.cifar100 import input_pipeline
from benchmarks.tools import data_arrays
from tests.conftest import mock_cifar


@pytest.fixture(scope='module')
def compact_copy(tmp_path_factory):
  """The compact file of TFDS's mock CIFAR-100, and the splits it holds."""
  with mock_cifar():
    splits = {
      name: input_pipeline.load_split(name, download=False)
      for name in input_pipeline.SPLITS
    }
  path = str(tmp_path_factory.mktemp('arrays') / data_arrays.NAME)
  data_arrays.write_file(path, splits)
  return path, splits


def test_it_gives_the_images_and_labels_tfds_gives(compact_copy, monkeypatch):
  path, splits = compact_copy
  monkeypatch.setenv(input_pipeline.ENVIRONMENT_VARIABLE, path)
  for name, split in splits.items():
    got = input_pipeline.load_split(name, download=False)
    np.testing.assert_array_equal(got.images, split.images)
    np.testing.assert_array_equal(got.labels, split.labels)
    assert got.images.dtype == np.uint8 and got.labels.dtype == np.int32
  first = input_pipeline.load_split('train[:5]', limit=3)
  np.testing.assert_array_equal(first.images, splits['train'].images[:3])
  with pytest.raises(ValueError, match='takes a name and an optional'):
    input_pipeline.load_split('train[10%:]')


NO_TENSORFLOW = textwrap.dedent("""
  import sys

  class NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
      if name.split('.')[0] in ('tensorflow', 'tensorflow_datasets'):
        raise ImportError(f'{name} is made unimportable for this test')

  sys.meta_path.insert(0, NoTensorFlow())
  from benchmarks.cifar100 import input_pipeline
  split = input_pipeline.load_split('test', limit=4)
  assert split.images.shape == (4, 32, 32, 3), split.images.shape
  assert not [m for m in sys.modules if m.startswith('tensorflow')]
  print('read without tensorflow')
""")


def test_it_is_read_with_tensorflow_unimportable(compact_copy):
  path, _ = compact_copy
  environment = {**os.environ, input_pipeline.ENVIRONMENT_VARIABLE: path}
  done = subprocess.run(
    [sys.executable, '-c', NO_TENSORFLOW], env=environment,
    capture_output=True, text=True, check=False,
  )  # fmt: skip
  assert done.returncode == 0, done.stderr[-3000:]
  assert 'read without tensorflow' in done.stdout


def test_a_missing_copy_says_what_to_do(monkeypatch, tmp_path):
  monkeypatch.setenv(input_pipeline.ENVIRONMENT_VARIABLE, str(tmp_path / 'no'))
  with pytest.raises(input_pipeline.DatasetUnavailableError, match='assemble'):
    input_pipeline.load_split('train')


def test_the_parts_join_back_and_every_checksum_is_checked(
  compact_copy, tmp_path
):
  path, _ = compact_copy
  size = os.path.getsize(path)
  manifest = data_arrays.write_parts(path, tmp_path / 'parts', size // 3 + 1)
  assert len(manifest['parts']) == 3
  assert all(p['bytes'] <= size // 3 + 1 for p in manifest['parts'])
  joined = data_arrays.assemble(tmp_path / 'parts', str(tmp_path / 'joined'))
  with open(joined, 'rb') as got, open(path, 'rb') as want:
    assert got.read() == want.read()
  second = tmp_path / 'parts' / manifest['parts'][1]['name']
  second.write_bytes(b'x' + second.read_bytes()[1:])
  with pytest.raises(input_pipeline.ChecksumError, match='copy it again'):
    data_arrays.assemble(tmp_path / 'parts', str(tmp_path / 'again'))
  second.unlink()
  done = subprocess.run(
    [sys.executable, '-m', 'benchmarks.tools.data_arrays', 'assemble',
     str(tmp_path / 'parts'), str(tmp_path / 'again')],
    capture_output=True, text=True, check=False,
  )  # fmt: skip
  assert done.returncode == 1
  assert done.stderr.startswith('error: ') and 'is missing' in done.stderr
  assert not (tmp_path / 'again').exists()


def test_a_split_that_does_not_match_its_checksums_is_refused(
  compact_copy, tmp_path
):
  path, _ = compact_copy
  with np.load(path) as arrays:
    changed = dict(arrays)
  changed['test_labels'] = (changed['test_labels'] + 1) % 100
  tampered = str(tmp_path / 'tampered.npz')
  np.savez(tampered, **changed)
  with pytest.raises(input_pipeline.ChecksumError, match="'test' split"):
    input_pipeline.read_split(tampered, 'test')


@pytest.mark.parametrize(
  'damage', ['truncated', 'zeroed_middle', 'not_a_zip', 'no_checksums']
)
def test_a_damaged_copy_is_named_in_one_line(compact_copy, tmp_path, damage):
  path, _ = compact_copy
  data = open(path, 'rb').read()
  tampered = tmp_path / 'tampered.npz'
  if damage == 'truncated':
    tampered.write_bytes(data[: len(data) // 2])
  elif damage == 'zeroed_middle':
    middle = len(data) // 2
    tampered.write_bytes(data[:middle] + bytes(4096) + data[middle + 4096 :])
  elif damage == 'not_a_zip':
    tampered.write_bytes(b'garbage')
  else:
    with np.load(path) as arrays:
      kept = {k: v for k, v in arrays.items() if k != 'checksums'}
    np.savez(tampered, **kept)
  with pytest.raises(input_pipeline.ChecksumError) as error:
    input_pipeline.read_split(str(tampered), 'test')
  message = str(error.value)
  assert str(tampered) in message and '\n' not in message
  assert len(message) < 400
  # A run that reads it ends in that one line (an expected error).
  assert isinstance(error.value, input_pipeline.DatasetUnavailableError)


@pytest.mark.parametrize('text', ['{"file": "a", "sha', '{"file": "a"}'])
def test_assemble_refuses_a_manifest_that_is_not_whole(tmp_path, text):
  (tmp_path / data_arrays.MANIFEST).write_text(text)
  done = subprocess.run(
    [sys.executable, '-m', 'benchmarks.tools.data_arrays', 'assemble',
     str(tmp_path), str(tmp_path / 'joined')],
    capture_output=True, text=True, check=False,
  )  # fmt: skip
  assert done.returncode == 1
  (line,) = done.stderr.strip().splitlines()
  assert line.startswith('error: ') and 'is not a whole manifest' in line


@pytest.mark.parametrize('part_mib', ['0', '-1'])
def test_build_refuses_parts_of_no_size(tmp_path, part_mib):
  done = subprocess.run(
    [sys.executable, '-m', 'benchmarks.tools.data_arrays', 'build',
     str(tmp_path / 'copy'), '--part-mib', part_mib],
    capture_output=True, text=True, check=False,
  )  # fmt: skip
  assert done.returncode == 2
  assert f'--part-mib is {part_mib}; allowed: an int >= 1.' in done.stderr
  assert not (tmp_path / 'copy').exists()
