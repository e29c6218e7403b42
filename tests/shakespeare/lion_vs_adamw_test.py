"""The Lion study: paired with AdamW's committed confirmation, and its
statement (its entries are held to the rule in tuned_comparison_test)."""

import numpy as np
import pytest

from benchmarks.studies import adamw_peers
from benchmarks.studies import lion_vs_adamw
from benchmarks.studies import report
from benchmarks.studies.tuned_comparison import loss_sweep

ARM = lion_vs_adamw.ARM


def test_lion_is_paired_with_adamws_confirmation_at_its_chosen_rate():
  borrowed = lion_vs_adamw.STUDY.borrowed['confirm_adamw']
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
  lion = loss_sweep.seed_losses(blocks['lr_0.004'], ARM, (0, 1, 2))
  peers = report.load_block(
    adamw_peers.STUDY, adamw_peers.STUDY.out, ('lr_0.00565685',)
  )
  adamw = loss_sweep.seed_losses(peers, 'adamw', (0, 1, 2))
  differences = [lion[s] - adamw[s] for s in (0, 1, 2)]
  assert spread == pytest.approx(float(np.std(differences, ddof=1)))
  text = lion_vs_adamw.stated(study, blocks)
  assert '(n = 8: AdamW' in text and f'{spread:.4f} nats' in text
  monkeypatch.setattr(lion_vs_adamw, 'CHOSEN', None)
  assert lion_vs_adamw.stated(study, blocks) == ''
