"""Sphinx configuration of the optax-plp documentation (`make docs`)."""

import pathlib
import re
import socket
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import optax_plp  # noqa: E402  (after the path is set)

project = 'optax-plp'
author = 'The optax-plp developers'
copyright = '2026, The optax-plp developers'
release = optax_plp.__version__

extensions = [
  'myst_nb',
  'sphinx.ext.autodoc',
  'sphinx.ext.autosummary',
  'sphinx.ext.mathjax',
  'sphinx.ext.napoleon',
  'sphinx.ext.viewcode',
  'sphinx.ext.intersphinx',
  # MathJax served from the site itself (the package bundles it), so the
  # maths is typeset with no network.
  'sphinx-mathjax-offline',
]
autodoc_typehints = 'description'
autodoc_member_order = 'bysource'
# optax's aliases by their names, not their three-line expansions (the
# annotations are strings: `from __future__ import annotations` in _plp.py).
autodoc_type_aliases = {
  'optax.ScalarOrSchedule': 'optax.ScalarOrSchedule',
  'optax.Params': 'optax.Params',
  'optax.Updates': 'optax.Updates',
  'jax.typing.DTypeLike': 'jax.typing.DTypeLike',
}
napoleon_google_docstring = True
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence']
# The quickstart is executed at build time, so its page shows its outputs and
# figures; the CIFAR-100 one needs the dataset and TensorFlow (the tests run
# it on mock data) and is shown as stored.
nb_execution_mode = 'force'
nb_execution_excludepatterns = ['notebooks/cifar100.ipynb']
nb_execution_timeout = 600
nb_execution_raise_on_error = True
exclude_patterns = ['_build', '_generated']
html_theme = 'sphinx_book_theme'
html_title = 'optax-plp'
REPOSITORY = 'https://github.com/optax-plp/optax-plp'
html_theme_options = {
  'repository_url': REPOSITORY,
  'use_repository_button': True,
}


def reachable(host, port=443, seconds=3):
  """Whether `host` answers: intersphinx maps a project only then."""
  try:
    with socket.create_connection((host, port), timeout=seconds):
      return True
  except OSError:
    return False


# Links to optax's, JAX's and Flax's own API pages where their inventories can
# be fetched; with no network (tests, CI) the names stay plain text.
INVENTORIES = {
  'optax': 'https://optax.readthedocs.io/en/latest/',
  'jax': 'https://docs.jax.dev/en/latest/',
  'flax': 'https://flax.readthedocs.io/en/latest/',
}
intersphinx_mapping = {
  name: (url, None)
  for name, url in INVENTORIES.items()
  if reachable(url.split('/')[2])
}


def readme_section(start, end):
  """The README between two headings, its figures served from the site.

  The README links its figures absolutely (it is read on the package index
  too); here they become paths into this checkout, which Sphinx copies in.
  """
  text = (ROOT / 'README.md').read_text()
  section = text[text.index(start) + len(start) : text.index(end)]
  figure = re.escape(REPOSITORY) + r'/blob/main/([^)?]+\.png)(\?raw=true)?'
  return re.sub(figure, r'../\1', section)


GENERATED = ROOT / 'docs' / '_generated'
GENERATED.mkdir(exist_ok=True)
(GENERATED / 'readme_results.md').write_text(
  readme_section('## Results so far\n', '## Notebooks')
)


def readable_type_aliases(app, doctree, docname):
  """A type alias in a union (`jax.typing.DTypeLike | None`) by its name.

  autodoc hands it over as the repr of its forward reference, cut into
  emphasised pieces: TypeAliasForwardRef, (, 'name', ).
  """
  del app, docname
  from docutils import nodes

  for node in list(doctree.findall(nodes.emphasis)):
    parent = node.parent
    if node.astext() != 'TypeAliasForwardRef' or parent is None:
      continue
    index = parent.index(node)
    pieces = parent.children[index : index + 4]
    if len(pieces) < 4 or pieces[1].astext() != '(':
      continue
    name = pieces[2].astext().strip("'")
    tail = pieces[3].astext()[1:]  # what follows the ')' (a space)
    for piece in pieces:
      parent.remove(piece)
    parent.insert(index, nodes.emphasis(text=name + tail))


def setup(app):
  app.connect('doctree-resolved', readable_type_aliases)
