"""Sphinx configuration of the optax-plp documentation (`make docs`)."""

import os
import pathlib
import re
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / 'docs')]

import inventories  # noqa: E402  (after the path is set)

import optax_plp  # noqa: E402

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
# Both notebooks are shown with their stored outputs (the CIFAR-100 one needs
# the dataset and TensorFlow): `python -m tests.support.notebook_outputs`
# stores them, and the tests run both and check that they are current.
nb_execution_mode = 'off'
exclude_patterns = ['_build', '_generated']
myst_heading_anchors = 3  # the reports link to their own sections
html_theme = 'sphinx_book_theme'
html_title = 'optax-plp'
html_static_path = ['_static']
html_css_files = ['custom.css']
REPOSITORY = 'https://github.com/optax-plp/optax-plp'
html_theme_options = {
  'repository_url': REPOSITORY,
  'use_repository_button': True,
}


# Links to optax's, JAX's and Flax's own pages, from their stored inventories
# (`inventories`: fetched once where the network allows, then offline too).
intersphinx_mapping = inventories.intersphinx_mapping()


# A link relative to the file it is in, as a clone reads it.
RELATIVE_LINK = re.compile(
  r'(!?)\[([^\]]*)\]\((?!https?://|#)([^)\s#]+)(#[^)\s]*)?\)'
)


def site_target(path, image):
  """A path relative to the checkout, as a link from a page of docs/: a docs
  page stays a page, a figure is served from the checkout, and any other
  file or folder links to the repository."""
  if path.startswith('docs/'):
    return path.removeprefix('docs/')
  if image:
    return f'../{path}'
  kind = 'tree' if path.endswith('/') else 'blob'
  return f'{REPOSITORY}/{kind}/main/{path}'


def checkout_links(source, text, links=RELATIVE_LINK):
  """`text` of the checkout's file `source`, its relative `links` (relative
  to its folder, as a clone reads them) made links from a page of docs/."""

  def site_link_of(match):
    bang, label, path, anchor = match.groups()
    where = (source.parent / path).resolve().relative_to(ROOT).as_posix()
    where += '/' if path.endswith('/') else ''
    return f'{bang}[{label}]({site_target(where, bang)}{anchor or ""})'

  return links.sub(site_link_of, text)


def readme_section(start, end):
  """The README between two headings, its links made the site's."""
  text = (ROOT / 'README.md').read_text()
  section = text[text.index(start) + len(start) : text.index(end)]
  return checkout_links(ROOT / 'README.md', section)


GENERATED = ROOT / 'docs' / '_generated'
GENERATED.mkdir(exist_ok=True)
# The studies' reports, and the Markdown files they link to, as pages of the
# site at their paths in the checkout under reports/ (so links between them
# stay as written); their figures are served from the checkout, and links to
# code and folders go to the repository.
REPORTS = sorted((ROOT / 'benchmarks' / 'results').glob('**/REPORT.md'))
SITE_REPORTS = ROOT / 'docs' / 'reports'
LINK = re.compile(r'(!?)\[([^\]]*)\]\(([^)#\s]*)(#[^)\s]*)?\)')
ON_GITHUB = re.escape(REPOSITORY) + r'/(?:blob|tree)/main/'


def linked_markdown(path):
  """The checkout's Markdown files that `path` links to, relatively."""
  found = []
  for _, _, target, _ in LINK.findall(path.read_text()):
    if target.endswith('.md') and '://' not in target:
      linked = (path.parent / target).resolve()
      if linked.is_relative_to(ROOT / 'docs'):  # a page of the site already
        continue
      if linked.is_file() and linked.is_relative_to(ROOT):
        found.append(linked)
  return found


def pages_to_publish():
  """The reports and every Markdown file they reach by links."""
  pages, todo = set(), list(REPORTS)
  while todo:
    page = todo.pop()
    if page not in pages:
      pages.add(page)
      todo += linked_markdown(page)
  return sorted(pages)


def site_link(source, published, match):
  """One link of `source`, as its copy in the site reads it."""
  bang, text, target, anchor = match.groups()
  anchor = anchor or ''
  if not target or '://' in target:
    return match.group(0)
  where = (source.parent / target).resolve()
  if where in published:  # a page of the site: as written
    return match.group(0)
  page_folder = SITE_REPORTS / source.parent.relative_to(ROOT)
  if where.is_relative_to(ROOT / 'docs'):  # a page of the site's own
    back = os.path.relpath(where, page_folder)
    return f'{bang}[{text}]({pathlib.Path(back).as_posix()}{anchor})'
  relative = where.relative_to(ROOT).as_posix()
  if bang or where.suffix in ('.png', '.svg'):  # served from the checkout
    back = pathlib.Path(*['..'] * len(page_folder.relative_to(ROOT).parts))
    return f'{bang}[{text}]({(back / relative).as_posix()}{anchor})'
  kind = 'tree' if where.is_dir() else 'blob'
  return f'{bang}[{text}]({REPOSITORY}/{kind}/main/{relative}{anchor})'


def publish_reports(published):
  """Writes the site's copies of `published`, the reports and what they link
  to (afresh: a page no longer published would be left outside every table of
  contents)."""
  shutil.rmtree(SITE_REPORTS, ignore_errors=True)
  for source in published:
    text = LINK.sub(
      lambda m, s=source: site_link(s, published, m), source.read_text()
    )
    if not text.startswith('# '):  # a page needs a title
      text = f'# {source.parent.name}/{source.name}\n\n{text}'
    if source not in REPORTS:  # reached by links, in no table of contents
      text = '---\norphan: true\n---\n\n' + text
    copy = SITE_REPORTS / source.relative_to(ROOT)
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(text)


def site_report_links(text, published):
  """The repository's links to `published` pages, as links within the site
  (for a page in docs/)."""
  published = {p.relative_to(ROOT).as_posix() for p in published}

  def local(match):
    path = match.group(1)
    return f'(reports/{path}' if path in published else match.group(0)

  return re.sub(r'\(' + ON_GITHUB + r'([^)#\s]*\.md)', local, text)


PUBLISHED = pages_to_publish()
publish_reports(PUBLISHED)
(GENERATED / 'readme_install.md').write_text(
  readme_section('## Install\n', '## API')
)
(GENERATED / 'readme_results.md').write_text(
  site_report_links(
    readme_section('## Results so far\n', '## Notebooks'), PUBLISHED
  )
)
BENCHMARKS_README = ROOT / 'benchmarks' / 'README.md'
(GENERATED / 'benchmarks_readme.md').write_text(
  site_report_links(
    checkout_links(BENCHMARKS_README, BENCHMARKS_README.read_text()),
    PUBLISHED,
  )
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


# A docs page's link out of docs/, as a clone reads it.
LEAVING_DOCS = re.compile(r'(!?)\[([^\]]*)\]\((\.\./[^)\s#]+)(#[^)\s]*)?\)')


def links_out_of_docs(app, docname, source):
  """A docs page's relative links out of docs/ made the site's (a published
  report's page, or the file in the repository). The copies under reports/
  are written with the site's links already."""
  del app
  page = ROOT / 'docs' / f'{docname}.md'
  if page.is_file() and page.parent == ROOT / 'docs':
    text = checkout_links(page, source[0], LEAVING_DOCS)
    source[0] = site_report_links(text, PUBLISHED)


def setup(app):
  app.connect('source-read', links_out_of_docs)
  app.connect('doctree-resolved', readable_type_aliases)
