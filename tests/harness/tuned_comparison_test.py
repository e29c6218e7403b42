"""The tuned-comparison protocol: its rule, the jobs each stage's entry
plans, and every defined comparison's entries held to the rule on its
committed runs."""

import dataclasses
import importlib
import math

import pytest

from benchmarks import studies
from benchmarks.studies import adamw_peers
from benchmarks.studies import report
from benchmarks.studies import tuned_comparison

SEEDS = (0, 1, 2)


def comparisons():
  """Every tuned comparison a study defines (its module's `COMPARISONS`)."""
  return [
    comparison
    for name in studies.names()
    for comparison in getattr(
      importlib.import_module(f'benchmarks.studies.{name}'), 'COMPARISONS', ()
    )
  ]


def test_the_rule_takes_the_lowest_mean_ties_to_the_smaller_rate():
  points = [
    (1e-3, {0: 1.90, 1: 1.92, 2: 1.91}),  # mean 1.91
    (2e-3, {0: 1.89, 1: 1.93, 2: 1.91}),  # mean 1.91: a tie, not chosen
    (4e-3, {0: 1.80, 1: 1.80}),  # lowest, but not run on every seed
    (8e-3, {0: 1.5, 1: 1.5, 2: math.inf}),  # a diverged seed: infinite
  ]
  assert tuned_comparison.best_rate(points, SEEDS) == 1e-3
  assert tuned_comparison.best_rate(points[1:], SEEDS) == 2e-3
  assert tuned_comparison.best_rate(points[2:3], SEEDS) is None


def test_the_tuned_studies_are_definitions():
  assert [c.name for c in comparisons()] == [
    'adamw_peers', 'lion_vs_adamw', 'lr_sweep', 'lr_sweep',
  ]  # fmt: skip


@pytest.mark.parametrize(
  'comparison', comparisons(), ids=lambda c: f'{c.name}-{c.arms[0]}'
)
def test_every_entry_is_the_rules_on_the_committed_runs(comparison):
  study = comparison.study()
  points = comparison.selection(study, report.load_blocks(study))
  grid_best, chosen, amiss = tuned_comparison.rule_entries(comparison, points)
  assert not amiss
  assert grid_best == tuned_comparison.entered(comparison.grid_best)
  assert chosen == tuned_comparison.entered(comparison.chosen)


def test_the_refinement_is_a_root_two_point_each_side_of_each_arms_best():
  best = {'adamw': 4e-3, 'adamw_plp': 4e-3, 'adamw_lookahead': 8e-3}
  comparison = dataclasses.replace(adamw_peers.COMPARISON, grid_best=best)
  grid = {tuned_comparison.point_name(rate) for rate in comparison.grid}
  jobs = {
    name: job
    for name, job in tuned_comparison.sweep_jobs(comparison).items()
    if name not in grid
  }
  rates = {name: job['learning_rate'] for name, job in jobs.items()}
  assert sorted(rates.values()) == pytest.approx(
    [4e-3 / 2**0.5, 4e-3 * 2**0.5, 8e-3 * 2**0.5]
  )
  # 4e-3·√2 and 8e-3/√2 are one rate, one job, with the three arms at it.
  arms = {name: job['arms'] for name, job in jobs.items()}
  assert arms['lr_0.00565685'] == ('adamw', 'adamw_plp', 'adamw_lookahead')
  assert arms['lr_0.00282843'] == ('adamw', 'adamw_plp')
  assert all(job['seeds'] == SEEDS for job in jobs.values())
  for unentered in ({}, dict.fromkeys(best)):  # None: not yet entered
    unentered = dataclasses.replace(comparison, grid_best=unentered)
    assert len(tuned_comparison.sweep_jobs(unentered)) == len(comparison.grid)


def test_each_arm_confirms_at_its_chosen_rate_and_untuned_at_its_controls():
  chosen = {
    'adamw': 4e-3, 'adamw_plp': 8e-3, 'adamw_lookahead': 8e-3,
    'schedule_free_adamw': 1.6e-2,
  }  # fmt: skip
  fresh = (3, 4, 5)
  comparison = dataclasses.replace(
    adamw_peers.COMPARISON, chosen=chosen, confirmation_seeds=fresh
  )
  jobs = tuned_comparison.confirmation_jobs(comparison)
  assert {job: o['learning_rate'] for job, o in jobs.items()} == {
    'confirm_adamw': 4e-3, 'confirm_adamw_plp': 8e-3,
    'confirm_adamw_lookahead': 8e-3, 'confirm_schedule_free_adamw': 1.6e-2,
    'untuned_adamw_plp': 4e-3,
  }  # fmt: skip
  assert jobs['untuned_adamw_plp']['arms'] == ('adamw_plp',)
  assert all(o['seeds'] == fresh for o in jobs.values())
  blocks = tuned_comparison.confirmation_blocks(comparison, jobs)
  assert blocks['untuned'] == ('confirm_adamw', 'untuned_adamw_plp')
  # PLP chosen at AdamW's rate: its confirmation run is the untuned one.
  same = dataclasses.replace(comparison, chosen=chosen | {'adamw_plp': 4e-3})
  jobs = tuned_comparison.confirmation_jobs(same)
  assert 'untuned_adamw_plp' not in jobs
  blocks = tuned_comparison.confirmation_blocks(same, jobs)
  assert blocks['untuned'] == ('confirm_adamw', 'confirm_adamw_plp')
  # Nothing before every arm's rate is chosen.
  partial = dataclasses.replace(comparison, chosen=chosen | {'adamw': None})
  assert tuned_comparison.confirmation_jobs(partial) == {}
  assert tuned_comparison.confirmation_blocks(partial, {}) == {}
  assert partial.study().borrowed == {}


def test_a_borrowed_control_leads_the_confirmation_block():
  from benchmarks.studies import lion_vs_adamw

  study = lion_vs_adamw.STUDY
  assert study.report_blocks['confirm'] == ('confirm_adamw', 'confirm_lion')
  assert set(study.borrowed) == {'confirm_adamw'}
  assert 'confirm_adamw' not in study.jobs  # borrowed, never rerun


def test_an_entry_amiss_is_named():
  comparison = dataclasses.replace(
    adamw_peers.COMPARISON, grid=(1e-3, 2e-3), grid_best={'adamw': 2e-3},
    chosen={},
  )  # fmt: skip
  points = {'adamw': [(1e-3, {0: 2.0, 1: 2.0, 2: 2.0}), (2e-3, {0: 1.9})]}
  _, _, amiss = tuned_comparison.rule_entries(comparison, points)
  assert amiss == [
    'adamw: grid points [0.002] miss', 'adamw: its best, 0.001, is an edge',
  ]  # fmt: skip
  points['adamw'][1] = (2e-3, {0: 1.9, 1: 1.9, 2: 1.9})
  grid_best, _, amiss = tuned_comparison.rule_entries(comparison, points)
  assert grid_best == {'adamw': 2e-3}
  assert amiss == ['adamw: its best, 0.002, is an edge']
