"""Stores the notebooks' outputs from a real run, for the docs and previews.

  TFDS_DATA_DIR=... python -m tests.support.notebook_outputs [NAME.ipynb ...]

The docs show the notebooks as stored (they are not executed when the docs
are built): the quickstart's outputs, and the CIFAR-100 notebook's on real
CIFAR-100 (it needs the dataset and TensorFlow), each notebook as committed
with its parameters as they stand (only the CIFAR-100 workdir is a fresh
temporary folder). The digest of a notebook's cells' sources is stored beside
its outputs; a test fails when a cell changes without its outputs being
stored again.
"""

import hashlib
import json
import os
import pathlib
import sys
import tempfile

import nbclient
import nbformat

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[2] / 'notebooks'
NAMES = ('quickstart.ipynb', 'cifar100.ipynb')
NEEDS_CIFAR100 = 'cifar100.ipynb'
KEY = 'optax_plp'  # the notebook metadata's entry for the stored outputs


def source_digest(notebook):
  """SHA-256 of every cell's type and source, in order."""
  cells = [(c.cell_type, c.source) for c in notebook.cells]
  return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def execute(name, parameters=None):
  """Runs a notebook, with `parameters` set in a cell after its parameters.

  Returns the executed notebook, without that cell.
  """
  notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
  index = None
  if parameters:
    index = 1 + next(
      i
      for i, cell in enumerate(notebook.cells)
      if 'parameters' in cell.metadata.get('tags', [])
    )
    lines = [f'{k} = {v!r}' for k, v in parameters.items()]
    notebook.cells.insert(index, nbformat.v4.new_code_cell('\n'.join(lines)))
  client = nbclient.NotebookClient(
    notebook,
    timeout=3600,
    kernel_name='python3',
    resources={'metadata': {'path': str(NOTEBOOKS)}},
  )
  client.execute()
  if index is not None:
    del notebook.cells[index]
  return notebook


def store(name):
  """Runs the notebook `name` and stores its outputs and sources' digest."""
  path = NOTEBOOKS / name
  notebook = nbformat.read(path, as_version=4)
  with tempfile.TemporaryDirectory() as workdir:
    parameters = {'workdir': workdir} if name == NEEDS_CIFAR100 else None
    run = execute(name, parameters)
  for cell, ran in zip(notebook.cells, run.cells, strict=True):
    if cell.cell_type == 'code':
      cell.outputs, cell.execution_count = ran.outputs, ran.execution_count
  notebook.metadata[KEY] = {'outputs_of_sources': source_digest(notebook)}
  nbformat.write(notebook, path)
  print(f'stored the outputs of {path}')


def main():
  names = sys.argv[1:] or NAMES
  if NEEDS_CIFAR100 in names and not os.environ.get('TFDS_DATA_DIR'):
    sys.exit('error: set TFDS_DATA_DIR to the prepared CIFAR-100 (the run is '
             'real data; the docs show its outputs).')  # fmt: skip
  for name in names:
    store(name)


if __name__ == '__main__':
  main()
