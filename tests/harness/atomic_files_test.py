"""A file is replaced whole or left as it was, with nothing left behind."""

import os

import pytest

from benchmarks.harness import atomic_files


def test_text_and_bytes_are_written_readable_by_others(tmp_path):
  text, data = tmp_path / 'new' / 'a.md', tmp_path / 'b.npz'
  atomic_files.write_atomically(str(text), 'words')
  atomic_files.write_atomically(str(data), b'\x00\x01')
  assert text.read_text() == 'words' and data.read_bytes() == b'\x00\x01'
  assert text.stat().st_mode & 0o777 == 0o644
  assert sorted(p.name for p in tmp_path.rglob('*')) == ['a.md', 'b.npz', 'new']


def test_a_failed_replace_leaves_the_old_file_and_no_temporary(
  tmp_path, monkeypatch
):
  path = tmp_path / 'results.json'
  atomic_files.write_atomically(str(path), 'old')

  def full_disk(*args):
    raise OSError('No space left on device')

  monkeypatch.setattr(os, 'replace', full_disk)
  with pytest.raises(OSError, match='No space'):
    atomic_files.write_atomically(str(path), 'new')
  assert path.read_text() == 'old'
  assert [p.name for p in tmp_path.iterdir()] == ['results.json']


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
  path = tmp_path / 'results.json'
  atomic_files.write_atomically(str(path), 'old')
  with pytest.raises(TypeError):
    atomic_files.write_atomically(str(path), None)  # neither text nor bytes
  assert path.read_text() == 'old'
  assert [p.name for p in tmp_path.iterdir()] == ['results.json']


def test_a_killed_writes_temporary_is_removed_by_the_next_write(tmp_path):
  import subprocess
  import sys

  target = tmp_path / 'results.json'
  # A writer killed between its temporary and the rename: a process that is
  # gone, whose temporary is left.
  gone = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                        capture_output=True, text=True, check=True)  # fmt: skip
  leftover = tmp_path / f'.results.json.{gone.stdout.strip()}.abc.tmp'
  leftover.write_text('{"half":')
  alive = tmp_path / f'.results.json.{os.getpid()}.def.tmp'  # being written
  alive.write_text('{')
  other = tmp_path / f'.other.json.{gone.stdout.strip()}.ghi.tmp'
  other.write_text('{')
  atomic_files.write_atomically(str(target), '{}')
  assert target.read_text() == '{}'
  assert not leftover.exists()
  assert alive.exists() and other.exists()  # not this write's to remove
