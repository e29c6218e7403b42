"""Executes the notebooks headlessly, as a reader would run them."""

import os
import pathlib
import subprocess
import venv

import nbclient
import nbformat

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / 'notebooks'


def execute(name, parameters=None):
  """Runs a notebook, with `parameters` injected after its parameters cell."""
  notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
  if parameters:
    index = next(
      i
      for i, cell in enumerate(notebook.cells)
      if 'parameters' in cell.metadata.get('tags', [])
    )
    lines = [f'{key} = {value!r}' for key, value in parameters.items()]
    notebook.cells.insert(
      index + 1, nbformat.v4.new_code_cell('\n'.join(lines))
    )
  client = nbclient.NotebookClient(
    notebook,
    timeout=600,
    kernel_name='python3',
    resources={'metadata': {'path': str(NOTEBOOKS)}},
  )
  client.execute()
  return notebook


def outputs(notebook, kind):
  return [
    output
    for cell in notebook.cells
    if cell.cell_type == 'code'
    for output in cell.get('outputs', [])
    if kind in output.get('data', {}) or output.get('name') == kind
  ]


def test_notebooks_are_stored_without_outputs():
  for path in NOTEBOOKS.glob('*.ipynb'):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
      if cell.cell_type == 'code':
        assert not cell.outputs and cell.execution_count is None, path.name


def test_quickstart_runs_and_draws_its_pictures():
  notebook = execute('quickstart.ipynb')
  assert len(outputs(notebook, 'image/png')) == 2
  printed = ''.join(o['text'] for o in outputs(notebook, 'stdout'))
  assert 'prediction =' in printed and 'SGD + plp()' in printed


def test_cifar100_runs_the_harness_on_mock_data(tmp_path):
  notebook = execute(
    'cifar100.ipynb',
    {
      'width': 0.0625,
      'epochs': 2,
      'train_limit': 32,
      'batch_size': 8,
      'use_mock_data': True,
      'workdir': str(tmp_path),
    },
  )
  assert len(outputs(notebook, 'image/png')) == 1
  printed = ''.join(o['text'] for o in outputs(notebook, 'stdout'))
  assert 'plp - sgd' in printed
  assert (tmp_path / 'results.json').exists()


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


def test_quickstart_colab_branch_installs_the_library_alone(tmp_path):
  # The install source pointed at this checkout: the branch a Colab user runs.
  python, environment = colab(tmp_path, 'matplotlib', 'ipython')
  environment['OPTAX_PLP_SOURCE'] = NOTEBOOKS.parent.as_uri()
  code = '\n\n'.join(code_cells('quickstart.ipynb'))
  assert 'prediction =' in run_cells(python, environment, code, tmp_path)
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
  check = 'from benchmarks.cifar100 import experiment, studies\nprint("ok")'
  printed = run_cells(python, environment, f'{install}\n{check}', tmp_path)
  assert printed.strip().endswith('ok')
  packages = installed(python)
  assert {'flax', 'tensorflow-datasets', 'orbax-checkpoint'} <= packages
  assert not packages & {'tensorflow', 'tensorflow-cpu'}
