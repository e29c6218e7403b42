"""optax's, JAX's and Flax's inventories, cached so that links work offline.

Sphinx links a name such as :func:`optax.masked` to optax's own page through
that project's inventory (its ``objects.inv``). A docs build that can reach a
project stores its inventory in ``docs/_inventories/`` (commit the file); a
build without a network reads the stored one, so its links are the same. A
project neither stored nor reachable is left out: its names show as code.
"""

import os
import pathlib
import socket
import tempfile
import urllib.request

PROJECTS = {
  'optax': 'https://optax.readthedocs.io/en/latest/',
  'jax': 'https://docs.jax.dev/en/latest/',
  'flax': 'https://flax.readthedocs.io/en/latest/',
}
CACHE = pathlib.Path(__file__).resolve().parent / '_inventories'


def reachable(url, seconds=3):
  """Whether the host of `url` answers on HTTPS."""
  try:
    with socket.create_connection((url.split('/')[2], 443), timeout=seconds):
      return True
  except OSError:
    return False


def fetch(url, path):
  """Stores the inventory at `url` as `path`, whole or not at all."""
  path.parent.mkdir(parents=True, exist_ok=True)
  with urllib.request.urlopen(url + 'objects.inv', timeout=30) as response:
    data = response.read()
  with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as file:
    file.write(data)
  os.replace(file.name, path)


def stored_inventory(name, url, cache=CACHE):
  """The stored inventory of project `name`, fetched first where it is
  missing and the project can be reached; None where neither."""
  path = cache / f'{name}.inv'
  if not path.exists() and reachable(url):
    try:
      fetch(url, path)
    except OSError:
      return None
  return path if path.exists() else None


def intersphinx_mapping(cache=CACHE):
  """Sphinx's intersphinx_mapping: each project with a stored inventory."""
  mapping = {}
  for name, url in PROJECTS.items():
    path = stored_inventory(name, url, cache)
    if path:
      mapping[name] = (url, str(path))
  return mapping
