"""Tests of CIFAR-100's errors over seeds: selection, summary and table."""

import numpy as np
import pytest

from benchmarks.cifar100 import error_report
from benchmarks.cifar100 import errors
from benchmarks.cifar100 import optimizers

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
  assert errors.pick(run, 'final', 'top1_error') == 0.8
  assert errors.pick(run, 'best', 'top1_error') == 0.6
  # The lowest validation error, the first of a tie: epoch 3.
  assert errors.selected_epoch(run) == 3
  assert errors.pick(run, 'selected', 'top1_error') == 0.7
  assert errors.pick(run, 'selected', 'top5_error') == 0.35


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
  summarized = errors.summarize(
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


def test_without_validation_there_is_no_selected_kind():
  runs = {'sgd': {0: records([0.5, 0.4])}, 'plp': {0: records([0.5, 0.3])}}
  summarized = errors.summarize(
    runs, ['sgd', 'plp'], epochs=2, controls=CONTROLS
  )
  assert 'selected_top1_error' not in summarized['sgd']
  assert 'final_top1_error' in summarized['plp - sgd']
  table = error_report.format_table({'summary': summarized})
  assert 'selected' not in table and 'final top-1' in table


def test_unfinished_runs_are_left_out_of_the_summary():
  runs = {'sgd': {0: records([0.5, 0.4]), 1: records([0.5])}}
  summarized = errors.summarize(runs, ['sgd'], epochs=2, controls=CONTROLS)
  assert summarized['sgd']['seeds'] == [0]


def test_table_has_a_column_per_kind():
  runs = {
    'sgd': {0: records([0.5, 0.4], [0.5, 0.45])},
    'plp': {0: records([0.5, 0.3], [0.4, 0.5])},
  }
  table = error_report.format_table(
    {'summary': errors.summarize(runs, ['sgd', 'plp'], 2, CONTROLS)}
  )
  header = table.splitlines()[0]
  for column in ('final top-1', 'best top-1', 'selected top-1', 'images/s'):
    assert column in header
  assert 'epoch of lowest validation top-1 error' in table


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
  entries = errors.summarize(
    {'sgd': sgd, 'plp': plp}, ['sgd', 'plp'], 2, CONTROLS
  )
  assert entries['sgd']['seeds'] == [3, 10]
  assert entries['sgd']['selected_epoch']['per_seed'] == [2, 1]
  assert entries['plp - sgd']['seeds'] == [3, 10]
  np.testing.assert_allclose(
    entries['plp - sgd']['selected_top1_error']['per_seed'], [-0.1, -0.4]
  )
