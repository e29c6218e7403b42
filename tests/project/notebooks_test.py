"""Executes the notebooks headlessly, as a reader would run them."""

import nbformat

from tests.support.notebook_outputs import NOTEBOOKS
from tests.support.notebook_outputs import execute
from tests.support.notebook_outputs import source_digest


def outputs(notebook, kind):
  return [
    output
    for cell in notebook.cells
    if cell.cell_type == 'code'
    for output in cell.get('outputs', [])
    if kind in output.get('data', {}) or output.get('name') == kind
  ]


def code_cells(name):
  notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
  nbformat.validate(notebook)
  return notebook, [c for c in notebook.cells if c.cell_type == 'code']


def test_the_quickstart_is_stored_without_outputs():
  _, cells = code_cells('quickstart.ipynb')  # the docs' build executes it
  for cell in cells:
    assert not cell.outputs and cell.execution_count is None


def test_cifar100_is_stored_with_the_outputs_of_its_cells_as_they_are():
  notebook, cells = code_cells('cifar100.ipynb')
  stored = notebook.metadata.get('optax_plp', {}).get('outputs_of_sources')
  assert stored == source_digest(notebook), (
    'a cell changed since its outputs were stored: run '
    '`python -m tests.support.notebook_outputs` with TFDS_DATA_DIR set'
  )
  # One run of every cell in order (the workdir's cell, set for the run and
  # not stored, took a number), without an error, with its figure.
  counts = [c.execution_count for c in cells]
  assert counts[0] == 1 and counts == sorted(set(counts))
  kinds = [o.output_type for c in cells for o in c.outputs]
  assert 'error' not in kinds
  assert len(outputs(notebook, 'image/png')) == 1
  printed = ''.join(o['text'] for o in outputs(notebook, 'stdout'))
  assert 'plp - sgd' in printed and 'final top-1 error' in printed


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
