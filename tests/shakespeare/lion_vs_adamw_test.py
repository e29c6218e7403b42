"""The Lion study: each stage's entry is the rule's on the committed runs,
and its stages plan the jobs that entry fixes."""

import numpy as np
import pytest

from benchmarks.studies import adamw_peers
from benchmarks.studies import lion_vs_adamw
from benchmarks.studies import report
from benchmarks.studies.adamw_peers import loss_sections

ARM = lion_vs_adamw.ARM


def lion_points():
  study = lion_vs_adamw.STUDY
  return loss_sections.sweep_points(study, report.load_blocks(study))[ARM]


def test_the_best_grid_point_is_the_rules_and_not_at_an_edge():
  if lion_vs_adamw.GRID_BEST is None:
    pytest.skip('the grid is running')  # the entry waits for its runs
  grid = [(r, s) for r, s in lion_points() if r in lion_vs_adamw.GRID]
  assert len(grid) == len(lion_vs_adamw.GRID)
  assert all(set(s) == set(lion_vs_adamw.SEEDS) for _, s in grid)
  best = loss_sections.best_rate(grid, lion_vs_adamw.SEEDS)
  assert best == lion_vs_adamw.GRID_BEST
  assert min(lion_vs_adamw.GRID) < best < max(lion_vs_adamw.GRID)


def test_the_chosen_rate_is_the_rules_among_every_point():
  if lion_vs_adamw.CHOSEN is None:
    pytest.skip('the √2 points are running')
  points = lion_points()
  assert len(points) == len(lion_vs_adamw.GRID) + 2  # and the √2 points
  chosen = loss_sections.best_rate(points, lion_vs_adamw.SEEDS)
  assert chosen == lion_vs_adamw.CHOSEN


def test_each_entry_plans_its_next_stage(monkeypatch):
  monkeypatch.setattr(lion_vs_adamw, 'GRID_BEST', 5e-4)
  names = set(lion_vs_adamw.sweep_jobs())
  assert names == {
    adamw_peers.point_name(r)
    for r in (*lion_vs_adamw.GRID, 5e-4 / 2**0.5, 5e-4 * 2**0.5)
  }
  monkeypatch.setattr(lion_vs_adamw, 'CHOSEN', 7e-4)
  (job,) = lion_vs_adamw.confirmation_jobs().values()
  assert job == {
    'learning_rate': 7e-4, 'arms': (ARM,),
    'seeds': adamw_peers.CONFIRMATION_SEEDS,
  }  # fmt: skip


def test_lion_is_paired_with_adamws_confirmation_at_its_chosen_rate():
  borrowed = lion_vs_adamw.BORROWED['confirm_adamw']
  assert borrowed.seeds == adamw_peers.CONFIRMATION_SEEDS
  peers = report.load_block(
    adamw_peers.STUDY, adamw_peers.STUDY.out, ('confirm_adamw',)
  )
  config = peers['config']
  assert config['learning_rate'] == adamw_peers.CHOSEN['adamw']
  ours = lion_vs_adamw.base_config().to_dict()
  differ = {'arms', 'learning_rate', 'seeds'}  # and nothing else
  assert {k: v for k, v in config.items() if k not in differ} == {
    k: v for k, v in ours.items() if k not in differ
  }
  assert lion_vs_adamw.STUDY.settings.seeds == adamw_peers.SEEDS


def test_the_statement_reads_the_paired_spread_of_the_selection_seeds(
  monkeypatch,
):
  study = lion_vs_adamw.STUDY
  blocks = report.load_blocks(study)
  monkeypatch.setattr(lion_vs_adamw, 'CHOSEN', 4e-3)  # a committed point
  spread = lion_vs_adamw.selection_spread(blocks)
  lion = loss_sections.seed_losses(blocks['lr_0.004'], ARM, (0, 1, 2))
  peers = report.load_block(
    adamw_peers.STUDY, adamw_peers.STUDY.out, ('lr_0.00565685',)
  )
  adamw = loss_sections.seed_losses(peers, 'adamw', (0, 1, 2))
  differences = [lion[s] - adamw[s] for s in (0, 1, 2)]
  assert spread == pytest.approx(float(np.std(differences, ddof=1)))
  text = lion_vs_adamw.stated(study, blocks)
  assert '(n = 8: AdamW' in text and f'{spread:.4f} nats' in text
  monkeypatch.setattr(lion_vs_adamw, 'CHOSEN', None)
  assert lion_vs_adamw.stated(study, blocks) == ''
