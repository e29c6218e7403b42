"""Prints the library's declared minimum versions as pip requirements.

  python tests/support/minimum_versions.py   ->   jax==0.5.0 jaxlib==0.5.0 ...

Read from pyproject.toml's `dependencies` (each `>=` bound pinned), so that
`make test-min` tests exactly what the package declares; jaxlib follows jax.
"""

import pathlib
import re

PYPROJECT = pathlib.Path(__file__).resolve().parents[2] / 'pyproject.toml'


def minimum_requirements():
  # A regular expression, not tomllib: this runs on Python 3.10 too.
  text = PYPROJECT.read_text()
  block = re.search(r'^dependencies = \[(.*?)^\]', text, re.S | re.M).group(1)
  pins = []
  for name, version in re.findall(r'"([\w-]+)>=([\w.]+)"', block):
    pins.append(f'{name}=={version}')
    if name == 'jax':
      pins.append(f'jaxlib=={version}')
  return pins


if __name__ == '__main__':
  print(' '.join(minimum_requirements()))
