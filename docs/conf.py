"""Sphinx configuration of the optax-plp documentation (`make docs`)."""

import pathlib
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
]
autodoc_typehints = 'description'
autodoc_member_order = 'bysource'
napoleon_google_docstring = True
intersphinx_mapping = {}  # no network when the docs are built in tests
myst_enable_extensions = ['dollarmath', 'colon_fence']
# The maths is typeset by MathJax, which the page loads from its CDN: offline,
# a browser shows the TeX source instead.
# The notebooks are rendered as stored (without outputs), never executed
# here: the CIFAR-100 one needs the dataset, and the tests run both.
nb_execution_mode = 'off'
exclude_patterns = ['_build']
html_theme = 'sphinx_book_theme'
html_title = 'optax-plp'
html_theme_options = {
  'repository_url': 'https://github.com/optax-plp/optax-plp',
  'use_repository_button': True,
}
