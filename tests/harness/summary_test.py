"""Tests of the results: selection, summaries, paired tests, table, files."""

import json

import numpy as np
import pytest
from scipy import stats

from benchmarks.cifar100 import optimizers
from benchmarks.harness import results_io
from benchmarks.harness import summary
from benchmarks.reporting import tables

# The harness's controls: the statistics take them as an argument.
CONTROLS = optimizers.CONTROLS


def records(test_errors, validation_errors=None):
  """Per-epoch records with these test (and validation) top-1 errors."""
  out = []
  for epoch, error in enumerate(test_errors, start=1):
    record = {
      'epoch': epoch,
      'top1_error': error,
      'top5_error': error / 2,
      'images_per_second': 100.0,
    }
    if validation_errors is not None:
      record['val_top1_error'] = validation_errors[epoch - 1]
    out.append(record)
  return out


def test_pick_final_best_and_validation_selected():
  run = records([0.9, 0.6, 0.7, 0.8], validation_errors=[0.9, 0.7, 0.65, 0.65])
  assert summary.pick(run, 'final', 'top1_error') == 0.8
  assert summary.pick(run, 'best', 'top1_error') == 0.6
  # The lowest validation error, the first of a tie: epoch 3.
  assert summary.selected_epoch(run) == 3
  assert summary.pick(run, 'selected', 'top1_error') == 0.7
  assert summary.pick(run, 'selected', 'top5_error') == 0.35


def test_summary_pairs_each_arm_with_the_first_and_with_its_control():
  runs = {
    'sgd': {
      0: records([0.5, 0.4], [0.5, 0.4]),
      1: records([0.6, 0.5], [0.6, 0.5]),
    },
    'plp': {
      0: records([0.5, 0.3], [0.5, 0.3]),
      1: records([0.6, 0.45], [0.6, 0.4]),
    },
    'sgd_matched': {0: records([0.5, 0.35], [0.5, 0.3])},  # one seed only
  }
  summarized = summary.summarize(
    runs, ['sgd', 'plp', 'sgd_matched'], epochs=2, controls=CONTROLS
  )
  assert set(summarized) == {
    'sgd',
    'plp',
    'sgd_matched',
    'plp - sgd',
    'sgd_matched - sgd',
    'plp - sgd_matched',
  }
  difference = summarized['plp - sgd']['selected_top1_error']
  assert difference['per_seed'] == pytest.approx([-0.1, -0.05])
  assert difference['mean'] == pytest.approx(-0.075)
  assert 0 < difference['paired_t_test_p'] < 1
  assert summarized['plp - sgd_matched']['seeds'] == [0]
  assert (
    summarized['plp - sgd_matched']['final_top1_error']['paired_t_test_p']
    is None
  )
  assert summarized['plp']['selected_epoch']['per_seed'] == [2, 2]
  assert summarized['plp']['epochs_to_baseline_final_top1'] == 2


def test_a_control_that_is_also_against_the_first_arm_comes_once():
  assert summary.comparisons(
    ['adamw', 'adamw_plp', 'adamw_matched'], CONTROLS
  ) == [
    ('adamw_plp', 'adamw'),
    ('adamw_matched', 'adamw'),
    ('adamw_plp', 'adamw_matched'),
  ]


def test_without_validation_there_is_no_selected_kind():
  runs = {'sgd': {0: records([0.5, 0.4])}, 'plp': {0: records([0.5, 0.3])}}
  summarized = summary.summarize(
    runs, ['sgd', 'plp'], epochs=2, controls=CONTROLS
  )
  assert 'selected_top1_error' not in summarized['sgd']
  assert 'final_top1_error' in summarized['plp - sgd']
  table = tables.format_table({'summary': summarized})
  assert 'selected' not in table and 'final top-1' in table


def test_unfinished_runs_are_left_out_of_the_summary():
  runs = {'sgd': {0: records([0.5, 0.4]), 1: records([0.5])}}
  summarized = summary.summarize(runs, ['sgd'], epochs=2, controls=CONTROLS)
  assert summarized['sgd']['seeds'] == [0]


def test_paired_p_value_of_constant_differences():
  assert summary.paired_p_value([0.1]) is None
  assert summary.paired_p_value([0.0, 0.0]) == 1.0
  assert summary.paired_p_value([0.1, 0.1]) == 0.0
  assert summary.paired_p_value(list(np.linspace(-1, 1, 5))) == pytest.approx(
    1.0
  )


def test_a_p_value_too_small_for_3_decimals_says_so():
  def shown(p):
    return tables.p_value({'paired_t_test_p': p})

  assert [shown(p) for p in (None, 0.0, 0.0004, 0.0005, 0.0123)] == [
    'n/a', '< 0.001', '< 0.001', '0.001', '0.012',
  ]  # fmt: skip


def test_table_has_a_column_per_kind():
  runs = {
    'sgd': {0: records([0.5, 0.4], [0.5, 0.45])},
    'plp': {0: records([0.5, 0.3], [0.4, 0.5])},
  }
  table = tables.format_table(
    {'summary': summary.summarize(runs, ['sgd', 'plp'], 2, CONTROLS)}
  )
  header = table.splitlines()[0]
  for column in ('final top-1', 'best top-1', 'selected top-1', 'images/s'):
    assert column in header
  assert 'epoch of lowest validation top-1 error' in table


def test_results_are_written_atomically(tmp_path, monkeypatch):
  path = tmp_path / 'results.json'
  results_io.write_json_atomically(str(path), {'a': 1})

  def broken_dump(*args, **kwargs):
    raise OSError('disk full')

  monkeypatch.setattr(json, 'dumps', broken_dump)
  with pytest.raises(OSError):
    results_io.write_json_atomically(str(path), {'a': 2})
  assert json.loads(path.read_text()) == {'a': 1}


def test_per_seed_lists_follow_the_seeds_order_whatever_the_runs_order():
  # Merged seed directories arrive as seed_10, seed_3, ...: not in order.
  sgd = {
    10: records([0.5, 0.4], [0.5, 0.6]),
    3: records([0.5, 0.3], [0.6, 0.4]),
  }
  plp = {
    3: records([0.5, 0.2], [0.6, 0.4]),
    10: records([0.5, 0.1], [0.6, 0.5]),
  }
  entries = summary.summarize(
    {'sgd': sgd, 'plp': plp}, ['sgd', 'plp'], 2, CONTROLS
  )
  assert entries['sgd']['seeds'] == [3, 10]
  assert entries['sgd']['selected_epoch']['per_seed'] == [2, 1]
  assert entries['plp - sgd']['seeds'] == [3, 10]
  np.testing.assert_allclose(
    entries['plp - sgd']['selected_top1_error']['per_seed'], [-0.1, -0.4]
  )


@pytest.mark.parametrize(
  'spread, effect, power_for_one_point',
  # The second confirmation's power statement, written before its runs
  # (lr_sweep's REPORT): n = 8 at three assumed paired spreads.
  [(0.61, 0.70, 0.98), (1.28, 1.48, 0.48), (1.71, 1.98, 0.30)],
)
def test_detectable_effect_matches_the_stated_power(
  spread, effect, power_for_one_point
):
  # The spreads are quoted to two decimals, the report's numbers came from
  # the unrounded ones: agreement to about a hundredth.
  assert summary.detectable_effect(spread, 8) == pytest.approx(effect, abs=0.01)
  assert summary.paired_power(1.0, spread, 8) == pytest.approx(
    power_for_one_point, abs=0.01
  )


def test_paired_power_agrees_with_simulated_t_tests():
  # An independent check: draw many designs of n normal paired differences
  # at the detectable effect and count how often |t| passes the critical
  # value (t_{0.975, 7} = 2.364624, from a table).
  n, spread = 8, 1.3
  effect = summary.detectable_effect(spread, n)
  differences = np.random.default_rng(0).normal(effect, spread, (40_000, n))
  t = differences.mean(1) / (differences.std(1, ddof=1) / np.sqrt(n))
  assert np.mean(np.abs(t) > 2.364624) == pytest.approx(0.8, abs=0.01)
  assert summary.paired_power(0.0, spread, n) == pytest.approx(0.05)


def test_seeds_for_power_are_the_fewest_with_it_or_the_most():
  # At spread 1.3, 8 seeds detect 1.48 with 80% power (above): not 1.0.
  n, power = summary.seeds_for_power(1.0, 1.3, 8, 30)
  assert power >= 0.8 > summary.paired_power(1.0, 1.3, n - 1)
  assert summary.seeds_for_power(2.0, 1.3, 8, 30)[0] == 8
  assert summary.seeds_for_power(1.0, 1.3, 8, 10) == (
    10, summary.paired_power(1.0, 1.3, 10),
  )  # fmt: skip


def test_the_confidence_interval_is_the_paired_t_interval():
  differences = [0.4, -0.2, 1.1, 0.3, 0.9]
  values = np.asarray(differences)
  half = (
    stats.t.ppf(0.975, len(values) - 1)
    * values.std(ddof=1)
    / np.sqrt(len(values))
  )
  low, high = summary.confidence_interval(differences)
  np.testing.assert_allclose(
    [low, high], [values.mean() - half, values.mean() + half]
  )
  assert summary.confidence_interval([0.5, 0.5, 0.5]) == (0.5, 0.5)
  assert summary.confidence_interval([0.5]) is None
