"""Each notebook's Colab branch, run as a Colab user runs it: in a fresh
environment, with `google.colab` faked and the install source pointed at this
checkout."""

import os
import subprocess
import venv

import nbformat

from tests.project.notebooks_test import NOTEBOOKS


def colab(tmp_path, *present):
  """A fresh environment holding `present` (what Colab has and a notebook
  uses) and a faked `google.colab`: its python and its environment."""
  environment = tmp_path / 'colab'
  venv.create(environment, with_pip=True)
  python = str(environment / 'bin' / 'python')
  pip = [python, '-m', 'pip', 'install', '--quiet']
  subprocess.run([*pip, *present], check=True, capture_output=True)
  fake = tmp_path / 'fake' / 'google' / 'colab'
  fake.mkdir(parents=True)
  for module in ('__init__.py', 'output.py'):  # jax imports the latter there
    (fake / module).write_text('')
  paths = {'PYTHONPATH': str(tmp_path / 'fake'), 'MPLBACKEND': 'Agg'}
  return python, {**os.environ, **paths}


def run_cells(python, environment, code, cwd):
  done = subprocess.run(
    [python, '-c', 'import google.colab\n' + code],
    env=environment, cwd=cwd, capture_output=True, text=True, check=False,
  )  # fmt: skip
  assert done.returncode == 0, done.stderr[-3000:]
  return done.stdout


def installed(python):
  """The names of the packages installed in `python`'s environment."""
  listed = subprocess.run(
    [python, '-m', 'pip', 'list'], capture_output=True, text=True, check=True
  ).stdout
  return {line.split()[0].lower() for line in listed.splitlines()[2:]}


def code_cells(name):
  notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
  return [c.source for c in notebook.cells if c.cell_type == 'code']


def test_quickstart_colab_branch_installs_an_uploaded_wheel_or_the_library(
  tmp_path,
):
  # One fresh environment for both of the branch's sources (each install
  # into a fresh one took a minute and a half).
  python, environment = colab(tmp_path, 'matplotlib', 'ipython')
  # A wheel uploaded beside the notebook is what the install cell finds.
  uploaded = tmp_path / 'uploaded'
  subprocess.run(
    [python, '-m', 'pip', 'wheel', '--quiet', '--no-deps', '--wheel-dir',
     str(uploaded), str(NOTEBOOKS.parent)],
    check=True, capture_output=True,
  )  # fmt: skip
  (wheel,) = uploaded.glob('optax_plp-*.whl')
  install = code_cells('quickstart.ipynb')[0]
  printed = run_cells(python, environment, install, uploaded)
  assert f'installed optax-plp from {wheel.as_uri()}' in printed
  subprocess.run(
    [python, '-m', 'pip', 'uninstall', '--yes', 'optax-plp'],
    check=True, capture_output=True,
  )  # fmt: skip
  # The install source pointed at this checkout: the branch a Colab user
  # runs today; the whole notebook, without the uploaded wheel beside it.
  environment['OPTAX_PLP_SOURCE'] = NOTEBOOKS.parent.as_uri()
  code = '\n\n'.join(code_cells('quickstart.ipynb'))
  printed = run_cells(python, environment, code, tmp_path)
  assert 'prediction =' in printed
  # It says which copy it installed and uses.
  assert f'installed optax-plp from {NOTEBOOKS.parent.as_uri()}' in printed
  assert 'using optax-plp 0.2' in printed
  assert 'from site-packages/optax_plp/' in printed
  packages = installed(python)
  assert 'optax-plp' in packages or 'optax_plp' in packages
  assert not packages & {'flax', 'tensorflow', 'tensorflow-cpu'}


def test_cifar100_colab_branch_keeps_colabs_tensorflow(tmp_path):
  # Colab's TensorFlow stands in as an empty package: the branch must not
  # install another one over it. The cell clones this checkout's commit.
  python, environment = colab(tmp_path, 'ipython')
  stand_in = tmp_path / 'fake' / 'tensorflow'
  stand_in.mkdir()
  (stand_in / '__init__.py').write_text('')
  environment['OPTAX_PLP_REPOSITORY'] = str(NOTEBOOKS.parent)
  install, *_ = code_cells('cifar100.ipynb')
  check = (
    'from benchmarks import studies\n'
    'from benchmarks.harness import experiment\n'
    'print("ok")'
  )
  printed = run_cells(python, environment, f'{install}\n{check}', tmp_path)
  assert printed.strip().endswith('ok')
  assert f'cloned {NOTEBOOKS.parent} and installed it' in printed
  assert 'using the harness in optax-plp/' in printed
  packages = installed(python)
  assert {'flax', 'tensorflow-datasets', 'orbax-checkpoint'} <= packages
  assert not packages & {'tensorflow', 'tensorflow-cpu'}
  # After a restart (a new process in Colab's folder) the cell runs again.
  again = run_cells(python, environment, f'{install}\n{check}', tmp_path)
  assert f'reused the clone of {NOTEBOOKS.parent} and installed it' in again


def test_quickstart_install_cell_says_what_to_do_when_pip_fails(tmp_path):
  python, environment = colab(tmp_path, 'pip')
  environment['OPTAX_PLP_SOURCE'] = str(tmp_path / 'optax_plp-0-none.whl')
  install = code_cells('quickstart.ipynb')[0]
  done = subprocess.run(
    [python, '-c', 'import google.colab\n' + install],
    env=environment, cwd=tmp_path, capture_output=True, text=True, check=False,
  )  # fmt: skip
  assert done.returncode != 0
  last = done.stderr.strip().splitlines()[-1]
  assert last.startswith('RuntimeError: pip could not install optax-plp')
  assert 'OPTAX_PLP_SOURCE' in last and 'make wheel' in last
  assert 'CalledProcessError' not in done.stderr
