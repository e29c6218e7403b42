"""Files written whole or not at all: what a kill leaves is the old file."""

import contextlib
import hashlib
import os
import tempfile


def write_atomically(path, data):
  """Writes `data` (bytes or text) to a temporary file beside `path`, then
  renames it over `path`; makes the directory if needed."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  mode = 'wb' if isinstance(data, bytes) else 'w'
  with tempfile.NamedTemporaryFile(
    mode, dir=directory, suffix='.tmp', delete=False
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


def sha256_of(path):
  """The SHA-256 of the file at `path`, read in blocks, as hex."""
  digest = hashlib.sha256()
  with open(path, 'rb') as file:
    for block in iter(lambda: file.read(1 << 20), b''):
      digest.update(block)
  return digest.hexdigest()
