"""The committed tree stays light: what a reader needs, and no more."""

import os
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULTS = ROOT / 'benchmarks' / 'results'
# Most of the tree is the studies' results.json files, each read by a report
# (10.4 of 12.8 MB; a transformer study adds about 1 MB); the budget keeps
# per-run figures, checkpoints and data out. The case for 14 MB:
# benchmarks/results/shakespeare/adamw_peers/REPORT.md, "What has run".
MAX_TRACKED_BYTES = 14_000_000


def tracked_files():
  listed = subprocess.run(
    ['git', 'ls-files', '-z'], cwd=ROOT, capture_output=True, check=False
  )
  if listed.returncode:
    pytest.skip('not a git checkout')
  names = [n for n in listed.stdout.decode().split('\0') if n]
  return [ROOT / n for n in names if (ROOT / n).exists()]


def test_the_tracked_tree_is_under_its_size():
  total = sum(path.stat().st_size for path in tracked_files())
  assert total < MAX_TRACKED_BYTES, f'{total:,} bytes tracked'


def shown_images():
  """Every image a markdown file under benchmarks/results shows or links,
  and every one of them the README shows (by its path in the checkout, or
  its address on the repository).
  """
  shown = set()
  for page in RESULTS.rglob('*.md'):
    for target in re.findall(r'\]\(([^)#?\s]+\.png)\)', page.read_text()):
      shown.add((page.parent / target).resolve())
  readme = (ROOT / 'README.md').read_text()
  for target in re.findall(
    r'\]\((?:[^)\s]*/blob/main/)?(benchmarks/results/[^)?\s]+\.png)', readme
  ):
    shown.add((ROOT / target).resolve())
  return shown


def test_only_the_figures_the_reports_show_are_committed_and_all_exist():
  shown = shown_images()
  tracked = {
    p.resolve() for p in tracked_files() if p.suffix == '.png'
    and RESULTS in p.parents
  }  # fmt: skip
  assert tracked - shown == set(), 'figures no report shows'
  assert {p for p in shown if not p.exists()} == set(), 'missing figures'


# A page's column is about 700 px wide (GitHub, the docs site): a figure
# wider than this shrinks its text below a readable size there.
MAX_FIGURE_PIXELS = 1_000


def test_every_shown_figure_is_narrow_enough_to_read_at_a_pages_width():
  from PIL import Image

  for path in shown_images():
    with Image.open(path) as image:
      width = image.size[0]
    assert width <= MAX_FIGURE_PIXELS, (path.relative_to(ROOT), width)


def test_committed_results_are_compact_json():
  for path in RESULTS.rglob('results.json'):
    with open(path) as file:
      assert '\n' not in file.read(), os.path.relpath(path, ROOT)
