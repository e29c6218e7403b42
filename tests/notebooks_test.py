"""Executes the notebooks headlessly, as a reader would run them."""

import pathlib

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
