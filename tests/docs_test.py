"""The documentation site builds with warnings as errors (as `make docs`)."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_docs_build_without_warnings(tmp_path):
  done = subprocess.run(
    [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q', '-b',
     'html', str(ROOT / 'docs'), str(tmp_path)],
    capture_output=True, text=True, check=False,
  )  # fmt: skip
  assert done.returncode == 0, done.stderr[-5000:]
  api = (tmp_path / 'api.html').read_text()
  for name in ('optax_plp.plp', 'optax_plp.with_plp', 'optax_plp.PLPState'):
    assert f'id="{name}"' in api
  assert 'How PLP works' in (tmp_path / 'index.html').read_text()
  assert (tmp_path / 'notebooks' / 'quickstart.html').exists()
