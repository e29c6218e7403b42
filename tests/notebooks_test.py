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


def test_quickstart_colab_branch_installs_the_library_alone(tmp_path):
  # A fresh environment holding what Colab has that the notebook uses
  # (matplotlib, IPython), `google.colab` faked, and the install source
  # pointed at this checkout: the branch a Colab user runs.
  environment = tmp_path / 'colab'
  venv.create(environment, with_pip=True)
  python = str(environment / 'bin' / 'python')
  pip = [python, '-m', 'pip', 'install', '--quiet']
  subprocess.run(
    [*pip, 'matplotlib', 'ipython'], check=True, capture_output=True
  )
  fake = tmp_path / 'fake' / 'google' / 'colab'
  fake.mkdir(parents=True)
  for module in ('__init__.py', 'output.py'):  # jax imports the latter there
    (fake / module).write_text('')
  notebook = nbformat.read(NOTEBOOKS / 'quickstart.ipynb', as_version=4)
  code = '\n\n'.join(c.source for c in notebook.cells if c.cell_type == 'code')
  done = subprocess.run(
    [python, '-c', 'import google.colab\n' + code],
    env={
      **os.environ,
      'PYTHONPATH': str(tmp_path / 'fake'),
      'MPLBACKEND': 'Agg',
      'OPTAX_PLP_SOURCE': NOTEBOOKS.parent.as_uri(),
    },
    cwd=tmp_path, capture_output=True, text=True, check=False,
  )  # fmt: skip
  assert done.returncode == 0, done.stderr[-3000:]
  assert 'prediction =' in done.stdout
  installed = subprocess.run(
    [python, '-m', 'pip', 'list'], capture_output=True, text=True, check=True
  ).stdout
  assert 'optax-plp' in installed or 'optax_plp' in installed
  for heavy in ('flax', 'tensorflow'):
    assert heavy not in installed
