"""The documentation site builds with warnings as errors (as `make docs`)."""

import importlib.util
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_docs_build_without_warnings(tmp_path):
  done = subprocess.run(
    [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q', '-b',
     'html', str(ROOT / 'docs'), str(tmp_path)],
    capture_output=True, text=True, check=False,
  )  # fmt: skip
  assert done.returncode == 0, done.stderr[-5000:]
  api = (tmp_path / 'api.html').read_text()
  for name in ('optax_plp.plp', 'optax_plp.with_plp', 'optax_plp.PLPState'):
    assert f'id="{name}"' in api
  assert 'How PLP works' in (tmp_path / 'index.html').read_text()
  assert (tmp_path / 'notebooks' / 'quickstart.html').exists()


def test_the_site_shows_its_maths_figures_and_outputs_offline(tmp_path):
  done = subprocess.run(
    [sys.executable, '-m', 'sphinx', '-q', '-b', 'html', str(ROOT / 'docs'),
     str(tmp_path)],
    capture_output=True, text=True, check=False,
  )  # fmt: skip
  assert done.returncode == 0, done.stderr[-5000:]
  pages = {
    str(p.relative_to(tmp_path)): p.read_text()
    for p in tmp_path.rglob('*.html')
  }
  # MathJax comes from the site, not a CDN, and every page that has maths
  # loads it from there.
  for name in ('index.html', 'how_plp_works.html', 'notebooks/quickstart.html'):
    assert 'src="' in pages[name] and 'mathjax/tex-chtml.js' in pages[name]
    assert 'cdn.jsdelivr' not in pages[name] and 'cdnjs' not in pages[name]
  assert (tmp_path / '_static' / 'mathjax' / 'tex-chtml.js').exists()
  # Every image is served from the site, and is there.
  for name, page in pages.items():
    for source in re.findall(r'<img[^>]* src="([^"]+)"', page):
      assert not source.startswith(('http:', 'https:')), (name, source)
      if not source.startswith('data:'):
        assert ((tmp_path / name).parent / source).exists(), (name, source)
  # The quickstart's outputs: its printed text and its figures.
  quickstart = pages['notebooks/quickstart.html']
  assert 'prediction =' in quickstart and quickstart.count('<img') >= 2
  # The CIFAR-100 notebook's stored outputs: its table and its figure.
  cifar100 = pages['notebooks/cifar100.html']
  assert 'plp - sgd' in cifar100 and cifar100.count('<img') >= 1
  # The results page's figures, from the README.
  assert 'src="_images/sweep_SGD.png"' in pages['results.html']
  # optax's type alias by its name.
  assert 'optax.ScalarOrSchedule' in pages['api.html']
  # JAX's dtype alias too, by its name, not its forward reference's repr.
  assert 'TypeAliasForwardRef' not in pages['api.html']
  assert 'jax.typing.DTypeLike' in pages['api.html']
  assert 'Union[' not in pages['api.html']
  # The install page, and every study's report as a page of the site,
  # linked from the results page within the site, its figures served.
  assert 'Known limitations' in pages['install.html']
  assert 'pip install .' in pages['install.html']
  reports = sorted(ROOT.glob('benchmarks/results/**/REPORT.md'))
  assert reports
  for report in reports:
    page = 'reports/' + str(report.relative_to(ROOT).with_suffix('.html'))
    assert page in pages, page
    assert f'href="{page}' in pages['results.html'], page
  assert 'blob/main/benchmarks/results' not in pages['results.html'].replace(
    'results/comparisons', ''
  )
  assert 'src="_images/comparisons.png"' in pages['results.html']
  # Wide tables and code scroll instead of running off the column.
  assert 'overflow-x: auto' in (tmp_path / '_static' / 'custom.css').read_text()


def load_inventories():
  spec = importlib.util.spec_from_file_location(
    'inventories', ROOT / 'docs' / 'inventories.py'
  )
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_a_stored_inventory_links_its_project_with_no_network(
  tmp_path, monkeypatch
):
  inventories = load_inventories()
  monkeypatch.setattr(inventories, 'reachable', lambda url: False)
  (tmp_path / 'optax.inv').write_bytes(b'# Sphinx inventory version 2\n')
  mapping = inventories.intersphinx_mapping(tmp_path)
  # optax from its stored file; JAX and Flax, neither stored nor reachable,
  # left out (their names show as code), and nothing fetched.
  assert mapping == {
    'optax': (inventories.PROJECTS['optax'], str(tmp_path / 'optax.inv'))
  }
  assert sorted(p.name for p in tmp_path.iterdir()) == ['optax.inv']


REPOSITORY_FILE = re.compile(
  r'https://github\.com/optax-plp/optax-plp/(blob|tree)/'
)


def test_the_checkouts_markdown_links_its_own_files_relatively():
  # Relative links work in a clone and on any forge; the docs build makes
  # them the site's (docs/conf.py), a docs page's links out of docs/ too.
  absolute = [
    str(path.relative_to(ROOT))
    for path in [ROOT / 'README.md', ROOT / 'CONTRIBUTING.md']
    + sorted((ROOT / 'benchmarks').rglob('*.md'))
    + sorted((ROOT / 'docs').glob('*.md'))
    if REPOSITORY_FILE.search(path.read_text())
  ]
  assert not absolute, absolute
