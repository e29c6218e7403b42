"""The table and forest plot of every pre-stated comparison: generated from
the committed runs, and the README shows that very table."""

import pathlib

from PIL import Image
import pytest

from benchmarks.studies import adamw_peers
from benchmarks.studies import comparisons
from benchmarks.studies import report
from benchmarks.studies.tuned_comparison import loss_confirmation

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_committed_table_regenerates_and_the_readme_shows_it(tmp_path):
  text = comparisons.write(str(tmp_path))
  assert text == (ROOT / 'benchmarks/results/comparisons.md').read_text()
  assert text in (ROOT / 'README.md').read_text()
  assert (tmp_path / 'comparisons.png').stat().st_size > 10_000


def row(mean, low, high):
  return comparisons.Row(comparisons.PRE_STATED[0], 8, mean, low, high, 1.0)


@pytest.mark.parametrize(
  'interval,words',
  [
    ((0.4, -0.3, 1.1), 'not distinguishable from zero; a gain above 0.30'),
    ((1.0, 0.2, 1.8), 'PLP worse (by 0.20 to 1.80 points)'),
    ((-1.0, -1.8, -0.2), 'PLP better (by 0.20 to 1.80 points)'),
  ],
)
def test_the_reading_says_what_the_interval_allows(interval, words):
  assert words in comparisons.reading(row(*interval))


def test_the_headline_numbers_are_the_reports():
  # The second confirmation's, as REPORT.md read it (commit 2e246d4).
  wider = comparisons.measured(comparisons.PRE_STATED[2])
  assert (round(wider.mean, 2), round(wider.low, 2), round(wider.high, 2)) == (
    0.40, -0.30, 1.11,
  )  # fmt: skip
  assert round(wider.detectable, 2) == 0.98
  # The transformer's, as adamw_peers/REPORT.md read it.
  (stated,) = [c for c in comparisons.PRE_STATED if c.study == 'adamw_peers']
  lm = comparisons.measured(stated)
  assert (lm.n, *(round(v, 4) for v in (lm.mean, lm.low, lm.high))) == (
    8, 0.0114, 0.0043, 0.0185,
  )  # fmt: skip
  assert round(lm.detectable, 4) == 0.0098
  # The prediction step's, as prediction_step/REPORT.md reads it.
  (stated,) = [
    c for c in comparisons.PRE_STATED if c.study == 'prediction_step'
  ]
  step = comparisons.measured(stated)
  assert (step.n, *(round(v, 4) for v in (step.mean, step.low, step.high))) == (
    13, 0.0098, 0.0038, 0.0157,
  )  # fmt: skip
  assert round(step.detectable, 4) == 0.0084
  report_text = (
    ROOT / 'benchmarks/results/shakespeare/prediction_step/REPORT.md'
  ).read_text()
  assert '+0.0098 nats per character, 95% CI [+0.0038, +0.0157]' in ' '.join(
    report_text.split()
  )


NATS = comparisons.Measure(
  'final_test_loss', 1, 'nats per character', 4, 'test loss (95% CI)',
  'Final test loss, arm minus control.', None,
)  # fmt: skip


def test_each_measure_gets_its_table_panel_units_and_words(tmp_path):
  transformer = comparisons.Comparison(
    'Shakespeare GPT', 'adamw_peers', 'confirm', 'adamw_plp', 'adamw',
    'headline', NATS,
  )  # fmt: skip
  rows = [
    row(0.4, -0.3, 1.1),
    comparisons.Row(transformer, 8, -0.012, -0.0191, -0.0049, 0.008),
  ]
  text = comparisons.table(rows)
  cifar, loss = text.split(comparisons.TOP1_POINTS.note)
  assert 'Shakespeare' not in cifar and 'CIFAR' not in loss
  assert '−0.0120 [−0.0191, −0.0049]' in loss and '| 0.0080 ' in loss
  assert 'PLP better (by 0.0049 to 0.0191 nats per character)' in loss
  assert loss.rstrip().endswith(NATS.note)
  path = comparisons.forest_plot(rows, str(tmp_path / 'two.png'))
  with Image.open(path) as image:  # two panels of a row each, at 100 dpi
    height = 2 * (comparisons.ROW_INCHES + comparisons.PANEL_INCHES)
    assert image.size == (100 * comparisons.FOREST_WIDTH, round(100 * height))
  # 600 px wide, its labels above the intervals: shown at a phone's 390 px,
  # its 10-point text is 9 px.
  assert comparisons.FOREST_WIDTH * 100 <= 600


def test_the_transformers_comparisons_wait_for_their_confirmation():
  # Stated with CIFAR-100's; no row until every run of their block is in.
  (stated,) = [c for c in comparisons.PRE_STATED if c.study == 'adamw_peers']
  assert (stated.block, stated.test) == ('confirm', 'headline')
  assert stated.measure == comparisons.LOSS_NATS
  # Its drop-in secondary is the same test while the two rates are one.
  assert adamw_peers.CHOSEN['adamw_plp'] == adamw_peers.CHOSEN['adamw']
  study = adamw_peers.STUDY
  if not loss_confirmation.complete(study, report.load_blocks(study)):
    # Asserted as a bare flag, so that a failure prints no number of it.
    waits = comparisons.measured(stated) is None
    assert waits, 'a row read before every confirmation run is in'


def test_a_block_missing_one_planned_run_is_not_read(monkeypatch):
  comparison = comparisons.PRE_STATED[2]  # 8 fresh seeds
  assert comparisons.measured(comparison).n == 8
  load_block = report.load_block

  def without_seed_3(study, out, jobs):
    block = load_block(study, out, jobs)
    block['runs']['plp'] = {
      s: r for s, r in block['runs']['plp'].items() if s != '3'
    }
    return block

  monkeypatch.setattr(report, 'load_block', without_seed_3)
  assert comparisons.measured(comparison) is None

  def seed_3_diverged(study, out, jobs):
    block = without_seed_3(study, out, jobs)
    return block | {'diverged': {'plp': [3]}}

  monkeypatch.setattr(report, 'load_block', seed_3_diverged)
  assert comparisons.measured(comparison) is not None  # counted as in


def test_a_block_missing_a_run_of_a_third_arm_is_not_read(monkeypatch):
  # plp − sgd, in a block that also runs `sgd_matched`: nothing is read
  # from the block until that arm's runs are in too.
  comparison = comparisons.PRE_STATED[0]
  assert comparisons.measured(comparison).n == 8
  load_block = report.load_block

  def without_a_matched_run(study, out, jobs):
    block = load_block(study, out, jobs)
    block['runs']['sgd_matched'].pop('3')
    return block

  monkeypatch.setattr(report, 'load_block', without_a_matched_run)
  assert comparisons.measured(comparison) is None


def test_the_prediction_steps_comparison_waits_for_its_confirmation():
  # Its headline block holds runs borrowed from adamw_peers beside its own:
  # no row until every run of its own is in.
  from benchmarks.studies import prediction_step

  (stated,) = [
    c for c in comparisons.PRE_STATED if c.study == 'prediction_step'
  ]
  assert (stated.block, stated.test) == ('headline', 'headline')
  study = prediction_step.STUDY
  if not prediction_step.confirmation_complete(report.load_blocks(study)):
    waits = comparisons.measured(stated) is None  # a bare flag: no number
    assert waits, 'a row read before every confirmation run is in'
