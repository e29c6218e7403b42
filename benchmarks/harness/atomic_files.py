"""Files written whole or not at all: what a kill leaves is the old file
(and a temporary beside it, removed by the next write of that file)."""

import contextlib
import glob
import hashlib
import os
import tempfile


def write_atomically(path, data):
  """Writes `data` (bytes or text) to a temporary file beside `path`, then
  renames it over `path`; makes the directory if needed."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  mode = 'wb' if isinstance(data, bytes) else 'w'
  # Named for its target and writer, so that a kill's leftover is found.
  prefix = f'.{os.path.basename(path)}.{os.getpid()}.'
  with tempfile.NamedTemporaryFile(
    mode, dir=directory, prefix=prefix, suffix='.tmp', delete=False
  ) as file:
    try:
      file.write(data)
    except BaseException:
      file.close()
      os.remove(file.name)
      raise
  try:
    # Readable by others, as a file written with open() would be (a
    # temporary file is created private).
    os.chmod(file.name, 0o644)
    os.replace(file.name, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.remove(file.name)
    raise
  remove_leftovers(path)


def remove_leftovers(path):
  """Removes the temporaries that killed writes of `path` left behind (those
  of a writer no longer running)."""
  pattern = f'.{glob.escape(os.path.basename(path))}.*.tmp'
  for leftover in glob.glob(
    os.path.join(os.path.dirname(path) or '.', pattern)
  ):
    writer = os.path.basename(leftover)[len(os.path.basename(path)) + 2 :]
    pid = writer.split('.')[0]
    if pid.isdigit() and not running(int(pid)):
      with contextlib.suppress(OSError):
        os.remove(leftover)


def running(pid):
  """Whether a process `pid` exists (on this host)."""
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True


def sha256_of(path):
  """The SHA-256 of the file at `path`, read in blocks, as hex."""
  digest = hashlib.sha256()
  with open(path, 'rb') as file:
    for block in iter(lambda: file.read(1 << 20), b''):
      digest.update(block)
  return digest.hexdigest()
