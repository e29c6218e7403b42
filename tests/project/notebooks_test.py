"""Executes the notebooks headlessly, as a reader would run them."""

import pathlib
import re

import nbformat
import pytest

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


# What each notebook's stored outputs show: its figures, and printed text.
STORED = {
  'quickstart.ipynb': (2, ('prediction =', 'SGD + plp()')),
  'cifar100.ipynb': (1, ('plp - sgd', 'final top-1 error')),
}
# An absolute path: a slash that begins a word (not a URL's, nor a unit's
# like images/s), then folders.
ABSOLUTE_PATH = re.compile(r'(?<![\w.:/~-])/(?:[\w.-]+/)+')


@pytest.mark.parametrize('name', sorted(STORED))
def test_each_notebook_is_stored_with_the_outputs_of_its_cells_as_they_are(
  name,
):
  notebook, cells = code_cells(name)
  stored = notebook.metadata.get('optax_plp', {}).get('outputs_of_sources')
  assert stored == source_digest(notebook), (
    'a cell changed since its outputs were stored: run '
    f'`python -m tests.support.notebook_outputs {name}` (TFDS_DATA_DIR set '
    'for cifar100.ipynb)'
  )
  # One run of every cell in order (the workdir's cell, set for the run and
  # not stored, took a number), without an error, with its figures.
  counts = [c.execution_count for c in cells]
  assert counts[0] == 1 and counts == sorted(set(counts))
  kinds = [o.output_type for c in cells for o in c.outputs]
  assert 'error' not in kinds
  figures, phrases = STORED[name]
  assert len(outputs(notebook, 'image/png')) == figures
  printed = ''.join(o['text'] for o in outputs(notebook, 'stdout'))
  assert all(phrase in printed for phrase in phrases)


@pytest.mark.parametrize('name', sorted(STORED))
def test_no_stored_output_holds_a_machines_path(name):
  notebook, cells = code_cells(name)
  texts = [
    str(output.get('text', '')) + str(output.get('data', {}).get('text/plain'))
    for cell in cells
    for output in cell.outputs
  ]
  found = [p for text in texts for p in ABSOLUTE_PATH.findall(text)]
  assert not found, found
  home = str(pathlib.Path.home())
  assert not any(home in text or str(NOTEBOOKS) in text for text in texts)


def test_quickstart_runs_and_draws_its_pictures():
  notebook = execute('quickstart.ipynb')
  assert len(outputs(notebook, 'image/png')) == 2
  printed = ''.join(o['text'] for o in outputs(notebook, 'stdout'))
  assert 'prediction =' in printed and 'SGD + plp()' in printed


def test_cifar100_runs_the_harness_on_mock_data_at_its_defaults(tmp_path):
  notebook = execute(
    'cifar100.ipynb', {'use_mock_data': True, 'workdir': str(tmp_path)}
  )
  assert len(outputs(notebook, 'image/png')) == 1
  printed = ''.join(o['text'] for o in outputs(notebook, 'stdout'))
  assert 'plp - sgd' in printed
  assert (tmp_path / 'results.json').exists()
