"""The prediction-step study: its jobs, the rule for the best k, widening at
an edge, and the confirmation's size, on made blocks."""

import pytest

from benchmarks import studies
from benchmarks.studies import prediction_step as study_module

GRID = study_module.K_GRID


def block(arm, losses):
  """A job's block whose `arm` ended each seed at its loss."""
  return {
    'runs': {arm: {str(s): [{'final_val_loss': v}] for s, v in losses.items()}}
  }


def made_blocks(plp_means, spread=0.0):
  """PLP at each k ending at its mean (seed s off by s·spread); AdamW at
  every rate at 1.78."""
  blocks = {}
  for k, mean in plp_means.items():
    losses = {s: mean + s * spread for s in study_module.SEEDS}
    if study_module.plp_job(k) == 'plp_k1':
      blocks[study_module.PEERS_AT_ETA] = block('adamw_plp', losses)
    else:
      blocks[study_module.plp_job(k)] = block('adamw_plp', losses)
  adamw = {s: 1.78 for s in study_module.SEEDS}
  peers = blocks.setdefault(study_module.PEERS_AT_ETA, {'runs': {}})
  peers['runs']['adamw'] = block('adamw', adamw)['runs']['adamw']
  for k in plp_means:
    if study_module.adamw_job(k) != 'adamw_k0.5':
      blocks[study_module.adamw_job(k)] = block('adamw', adamw)
  return blocks


def test_the_jobs_are_each_k_at_eta_and_adamw_at_the_rate_it_walks():
  study = studies.load('prediction_step')
  eta = 4e-3 * 2**0.5
  for k in GRID:
    plp, adamw = study_module.plp_job(k), study_module.adamw_job(k)
    if plp in study.jobs:
      assert study.jobs[plp]['learning_rate'] == eta
      assert study.jobs[plp]['prediction.step_size'] == k
    if adamw in study.jobs:
      rate = study.jobs[adamw]['learning_rate']
      assert rate == 4e-3 * 2**0.5 * (1 + (2 * k - 1) / 6)
  # adamw_peers' runs at η*: AdamW (m = 1) and PLP at k = 1, borrowed.
  assert 'plp_k1' not in study.jobs and 'adamw_k0.5' not in study.jobs
  assert study_module.walk_factor(1) == pytest.approx(7 / 6)
  assert study_module.walk_factor(0.5) == 1


def test_the_best_k_is_the_lowest_mean_ties_to_the_nearest_half():
  means = dict.fromkeys(GRID, 1.80) | {0.0: 1.77, 1.0: 1.77}
  assert study_module.best_k(made_blocks(means), GRID) == 0.0  # |0−½| = |1−½|
  means[1.0] = 1.76
  assert study_module.best_k(made_blocks(means), GRID) == 1.0
  missing = made_blocks(means)
  del missing['plp_k2']
  assert study_module.best_k(missing, GRID) is None


def test_a_best_k_at_an_edge_widens_the_grid_and_states_nothing():
  means = dict.fromkeys(GRID, 1.80) | {2.0: 1.75}
  blocks = made_blocks(means)
  assert study_module.wider_grid(blocks, GRID) == (*GRID, 2.5)
  assert study_module.statement(blocks, GRID) is None
  means = dict.fromkeys(GRID, 1.80) | {-1.0: 1.75}
  assert study_module.wider_grid(made_blocks(means), GRID) == (-1.5, *GRID)


def test_the_confirmation_is_sized_by_the_headlines_paired_spread():
  means = dict.fromkeys(GRID, 1.80) | {0.0: 1.77}
  small = study_module.statement(made_blocks(means, spread=0.001), GRID)
  assert (small['best_k'], small['seeds']) == (0.0, 8)
  assert small['power'] > 0.99
  large = study_module.statement(made_blocks(means, spread=0.02), GRID)
  assert large['seeds'] == 16 and large['power'] < 0.8


def test_the_confirmation_borrows_adamw_peers_runs_and_adds_the_rest():
  seeds = tuple(range(3, 11))
  eta = study_module.ETA
  jobs, borrowed, blocks = study_module.confirmation_jobs(0.0, seeds)
  assert jobs == {
    'confirm_plp_k0': {'arms': ('adamw_plp',), 'learning_rate': eta,
                       'seeds': seeds, 'prediction.step_size': 0.0},
    'confirm_adamw_k1': {'arms': ('adamw',), 'learning_rate': eta * 7 / 6,
                         'seeds': seeds},
    'confirm_adamw_k0': {'arms': ('adamw',), 'learning_rate': eta * 5 / 6,
                         'seeds': seeds},
  }  # fmt: skip
  assert {name: b.seeds for name, b in borrowed.items()} == {
    'peers_confirm_adamw': seeds, 'peers_confirm_adamw_plp': seeds,
  }  # fmt: skip
  assert blocks == {
    'headline': ('peers_confirm_adamw', 'confirm_plp_k0'),
    'longer_step_k1': ('confirm_adamw_k1', 'peers_confirm_adamw_plp'),
    'longer_step_best': ('confirm_adamw_k0', 'confirm_plp_k0'),
  }
  # k = 1 best: its PLP runs are adamw_peers'; 10 seeds: two more of both.
  jobs, _, blocks = study_module.confirmation_jobs(1.0, tuple(range(3, 13)))
  assert sorted(jobs) == ['confirm_adamw_k1', 'more_adamw', 'more_plp_k1']
  assert jobs['more_plp_k1']['seeds'] == (11, 12)
  assert blocks['headline'] == (
    'peers_confirm_adamw', 'more_adamw', 'peers_confirm_adamw_plp',
    'more_plp_k1',
  )  # fmt: skip
  # k = 1/2 best: AdamW at m(1/2)·η* is AdamW at η*.
  _, _, blocks = study_module.confirmation_jobs(0.5, seeds)
  assert blocks['longer_step_best'] == (
    'peers_confirm_adamw',
    'confirm_plp_k0.5',
  )
  assert study_module.confirmation_jobs(None, ()) == ({}, {}, {})


def test_the_entered_best_k_and_seeds_follow_the_rule_on_the_committed_runs():
  from benchmarks.studies import report

  study = studies.load('prediction_step')
  blocks = report.load_blocks(study)
  fixed = study_module.statement(blocks, GRID)
  assert fixed['best_k'] == study_module.BEST_K
  seeds = tuple(range(3, 3 + fixed['seeds']))
  assert study_module.CONFIRMATION_SEEDS == seeds
  assert study_module.wider_grid(blocks, GRID) == GRID  # interior: no widening


def confirmed_blocks(differences):
  """The stated tests' blocks, every confirmation seed in, with PLP − AdamW
  of final test loss at `differences` (one per seed)."""
  from benchmarks.harness import summary

  seeds = study_module.CONFIRMATION_SEEDS
  runs = {str(s): [{'final_test_loss': 1.7}] for s in seeds}
  return {
    test[0]: {
      'runs': {'adamw_plp': runs, 'adamw': runs},
      'summary': {
        'adamw_plp - adamw': {
          'final_test_loss': summary.difference_stats(differences),
        }
      },
    }
    for test in study_module.TESTS
  }


def test_the_confirmation_is_read_only_once_every_run_is_in():
  study = studies.load('prediction_step')
  n = len(study_module.CONFIRMATION_SEEDS)
  blocks = confirmed_blocks([0.01 + 0.001 * (s % 3) for s in range(n)])
  text = study_module.confirmation_tests(study, blocks)
  assert study_module.confirmation_count(study, blocks) == ''
  rows = [
    [cell.strip() for cell in line.split('|')[1:-1]]
    for line in text.splitlines()
    if line.startswith('| PLP')
  ]
  assert [(row[0], row[1], row[2]) for row in rows] == [
    ('PLP k = −0.5 − AdamW, both at η*', 'headline', str(n)),
    ('PLP k = 1 at η* − AdamW at 7/6·η*', 'secondary', str(n)),
    ('PLP k = −0.5 at η* − AdamW at 2/3·η*', 'secondary', str(n)),
  ]
  assert all(row[-1].startswith('`adamw_plp` worse') for row in rows)
  del blocks['longer_step_best']['runs']['adamw'][str(n + 2)]  # one missing
  assert study_module.confirmation_tests(study, blocks) == ''
  assert 'nothing of them is read' in study_module.confirmation_count(
    study, blocks
  )


def test_each_stated_tests_block_compares_plp_with_adamw():
  # A merged block compares every arm with its first: AdamW's runs come
  # first, so that each block holds PLP − AdamW as stated (its keys only
  # are read here, never a number before the confirmation is in).
  from benchmarks.studies import report

  study = studies.load('prediction_step')
  for block, arm, control, _ in study_module.TESTS:
    loaded = report.load_block(study, study.out, study.report_blocks[block])
    if loaded and {arm, control} <= set(loaded['runs']):
      paired = f'{arm} - {control}' in loaded['summary']  # a bare flag
      assert paired, block
