"""Tests of the statistics of runs (paired tests, power) and results files."""

import json

import numpy as np
import pytest
from scipy import stats

from benchmarks.harness import results_io
from benchmarks.harness import summary
from benchmarks.reporting import tables


def test_a_control_that_is_also_against_the_first_arm_comes_once():
  # A task's controls, (arm, control) pairs, as the statistics take them.
  controls = (('new', 'base'), ('new', 'new_matched'))
  assert summary.comparisons(['base', 'new', 'new_matched'], controls) == [
    ('new', 'base'),
    ('new_matched', 'base'),
    ('new', 'new_matched'),
  ]


def test_paired_p_value_of_constant_differences():
  assert summary.paired_p_value([0.1]) is None
  assert summary.paired_p_value([0.0, 0.0]) == 1.0
  assert summary.paired_p_value([0.1, 0.1]) == 0.0
  assert summary.paired_p_value(list(np.linspace(-1, 1, 5))) == pytest.approx(
    1.0
  )


@pytest.mark.parametrize('seed', range(5))
def test_the_paired_p_value_is_scipys_one_sample_t_test(seed):
  differences = np.random.default_rng(seed).normal(0.1, 0.3, 3 + seed)
  want = stats.ttest_1samp(differences, 0.0).pvalue
  assert summary.paired_p_value(list(differences)) == pytest.approx(
    want, rel=1e-12
  )


def test_a_p_value_too_small_for_3_decimals_says_so():
  def shown(p):
    return tables.p_value({'paired_t_test_p': p})

  assert [shown(p) for p in (None, 0.0, 0.0004, 0.0005, 0.0123)] == [
    'n/a', '< 0.001', '< 0.001', '0.001', '0.012',
  ]  # fmt: skip


def test_results_are_written_atomically(tmp_path, monkeypatch):
  path = tmp_path / 'results.json'
  results_io.write_json_atomically(str(path), {'a': 1})

  def broken_dump(*args, **kwargs):
    raise OSError('disk full')

  monkeypatch.setattr(json, 'dumps', broken_dump)
  with pytest.raises(OSError):
    results_io.write_json_atomically(str(path), {'a': 2})
  assert json.loads(path.read_text()) == {'a': 1}


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
