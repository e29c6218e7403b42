"""The transformer study's confirmation: its jobs, what fixes it from the
sweep, and its sections, on hand-made runs (and its entries on the
committed runs)."""

import dataclasses
import math

import numpy as np
from PIL import Image
import pytest
from scipy import stats

from benchmarks import tasks
from benchmarks.harness import summary
from benchmarks.studies import adamw_peers
from benchmarks.studies import report
from benchmarks.studies import tuned_comparison
from benchmarks.studies.tuned_comparison import loss_confirmation
from tests.harness.results_tree_test import MAX_FIGURE_PIXELS

ARMS = adamw_peers.ARMS
# Grid points, so that the sweep's jobs hold every chosen rate; PLP's
# differs from AdamW's, so that PLP at AdamW's rate is a run of its own.
CHOSEN = {
  'adamw': 4e-3, 'adamw_plp': 8e-3, 'adamw_lookahead': 8e-3,
  'schedule_free_adamw': 1.6e-2,
}  # fmt: skip
FRESH = (3, 4, 5)


def cells(table, first):
  """The cells of the markdown table's row whose first cell is `first`;
  a ratio's interval left off."""
  for line in table.splitlines():
    found = [c.strip() for c in line.strip('|').split('|')]
    if found[0] == first:
      return [c.split(' [')[0] if c[:1].isdigit() else c for c in found]
  raise AssertionError(f'no row {first!r} in {table}')


def records(final_val, final_test, curve=None, train=1.5):
  """A finished run's 20 intervals, its validation loss following `curve`."""
  curve = np.linspace(3.0, final_val, 20) if curve is None else curve
  found = [
    {
      'epoch': i + 1, 'step': 100 * (i + 1), 'val_loss': float(loss),
      'test_loss': float(loss), 'train_loss': train,
      'tokens_per_second': 5000.0,
    }
    for i, loss in enumerate(curve)
  ]  # fmt: skip
  found[-1] |= {'final_val_loss': final_val, 'final_test_loss': final_test}
  return found


def job_results(arm, rate, runs):
  """One job's results.json: `arm` at `rate`, seed -> its records."""
  return {
    'config': {
      'task': 'shakespeare', 'arms': [arm], 'epochs': 20,
      'learning_rate': rate,
    },
    'data': {},
    'runs': {arm: {str(seed): found for seed, found in runs.items()}},
  }  # fmt: skip


def study_with(chosen=CHOSEN, seeds=FRESH, target=2.0):
  """The study as it will be once `chosen` and the rest are entered."""
  return dataclasses.replace(
    adamw_peers.COMPARISON, chosen=chosen, confirmation_seeds=seeds,
    target_loss=target,
  ).study()  # fmt: skip


def blocks_from(study, results):
  """The report's blocks of `results` (job -> its results), merged."""
  blocks = {}
  for block, jobs in study.report_blocks.items():
    parts = [results.get(job) for job in jobs]
    if any(parts):
      blocks[block] = tasks.merged_block(parts)
  return blocks


# Final test loss by arm and fresh seed; PLP at AdamW's rate as its own.
TEST_LOSS = {
  'adamw': {3: 1.80, 4: 1.82, 5: 1.79},
  'adamw_plp': {3: 1.79, 4: 1.815, 5: 1.80},
  'adamw_lookahead': {3: 1.77, 4: 1.78, 5: 1.76},
  'schedule_free_adamw': {3: 1.75, 4: 1.76, 5: 1.76},
  'untuned': {3: 1.81, 4: 1.83, 5: 1.795},
}


def confirmation_results(seeds=FRESH, curves=None, study=None):
  """Every confirmation job's results on `seeds` (of `study_with()` unless
  `study` is given)."""
  study = study or study_with()
  results = {}
  for job, (block, arm) in loss_confirmation.confirmation_runs(study).items():
    losses = TEST_LOSS['untuned' if block == 'untuned' else arm]
    curve = (curves or {}).get(arm)
    results[job] = job_results(
      arm, study.jobs[job]['learning_rate'],
      {s: records(losses[s] + 0.01, losses[s], curve) for s in seeds},
    )  # fmt: skip
  return study, results


def test_nothing_is_read_before_every_confirmation_run_is_in():
  study, results = confirmation_results()
  results['confirm_adamw']['runs']['adamw'].pop('5')  # still training
  blocks = blocks_from(study, results)
  text = loss_confirmation.tests(study, blocks)
  assert '14 of the 15 confirmation runs are in' in text
  assert '1.8' not in text and '−' not in text  # no loss, no difference
  assert loss_confirmation.steps_to_target(study, blocks) == ''
  assert loss_confirmation.arms(study, blocks) == ''
  # Before the confirmation has jobs, the sections say nothing.
  assert loss_confirmation.tests(study_with(chosen={}, seeds=()), {}) == ''


def test_the_tests_are_paired_t_intervals_of_the_final_test_loss():
  study, results = confirmation_results()
  text = loss_confirmation.tests(study, blocks_from(study, results))
  rows = [line for line in text.splitlines() if line.startswith('| `')]
  assert len(rows) == len(adamw_peers.TESTS)
  assert (
    rows[0].startswith('| `adamw_plp` − `adamw` ') and 'headline' in rows[0]
  )
  # The headline, by an independent paired t interval.
  differences = [
    TEST_LOSS['adamw_plp'][s] - TEST_LOSS['adamw'][s] for s in FRESH
  ]
  half = stats.t.ppf(0.975, 2) * np.std(differences, ddof=1) / math.sqrt(3)
  mean = np.mean(differences)
  low, high = (
    f'{v:+.4f}'.replace('-', '−') for v in (mean - half, mean + half)
  )
  assert f'[{low}, {high}]' in rows[0]
  assert 'not distinguishable' in rows[0]
  # Schedule-free lower on every seed by 0.03-0.06: a gain, said as one.
  free = next(
    r for r in rows if r.startswith('| `schedule_free_adamw` − `adamw`')
  )
  assert '`schedule_free_adamw` better, by' in free
  # PLP at AdamW's own rate, from its own runs.
  untuned = next(r for r in rows if "at `adamw`'s rate" in r)
  assert '+0.0083 ± 0.0029' in untuned  # mean of 0.01, 0.01, 0.005


def test_the_steps_ratio_is_a_geometric_mean_over_seeds():
  # AdamW reaches 2.0 at step 1,000 on every seed; PLP 10% and 20% sooner.
  fast = np.linspace(3.0, 1.8, 20)  # crosses 2.0 between steps
  study, results = confirmation_results(curves={'adamw': fast})
  study = dataclasses.replace(
    study,
    settings=dataclasses.replace(study.settings, target_loss=float(fast[9])),
  )
  for seed, shift in zip(FRESH, (1, 2, 1), strict=True):
    run = results['confirm_adamw_plp']['runs']['adamw_plp'][str(seed)]
    for i, record in enumerate(run):
      record['val_loss'] = float(fast[min(i + shift, 19)])
  text = loss_confirmation.steps_to_target(study, blocks_from(study, results))
  ratios = [900 / 1000, 800 / 1000, 900 / 1000]
  expected = math.exp(np.mean(np.log(ratios)))
  assert cells(text, '`adamw_plp`')[:4] == [
    '`adamw_plp`', '3 of 3', '867 ± 58', f'{expected:.3f}',
  ]  # fmt: skip
  assert cells(text, '`adamw`')[:3] == ['`adamw`', '3 of 3', '1000 ± 0']


def test_the_arms_table_gives_each_run_its_rate_and_losses():
  study, results = confirmation_results()
  text = loss_confirmation.arms(study, blocks_from(study, results))
  assert cells(text, "`adamw_plp` at `adamw`'s rate")[1:3] == ['0.004', '3']
  assert cells(text, '`schedule_free_adamw`')[1:5] == [
    '0.016', '3', '1.7667 ± 0.0058', '1.7567 ± 0.0058',
  ]  # fmt: skip


def sweep_results(adamw_plp_val):
  """The sweep's runs at CHOSEN's rates: adamw's curve passes 2.05, 2.06
  and 2.10 at step 1,000; `adamw_plp`'s final validation loss by seed."""
  study = study_with()
  at_step = {0: 2.05, 1: 2.06, 2: 2.10}
  results = {}
  for rate in sorted(set(CHOSEN.values())):
    runs = {}
    for arm in ARMS:
      runs[arm] = {}
      for seed in (0, 1, 2):
        curve = np.full(20, 2.5)
        curve[9] = at_step[seed]
        final = adamw_plp_val[seed] if arm == 'adamw_plp' else 1.8
        runs[arm][str(seed)] = records(final, 0.0, curve)
    job = tuned_comparison.point_name(rate)
    results[job] = {**job_results('adamw', rate, {}), 'runs': runs}
  return study, blocks_from(study, results)


def test_the_statement_follows_its_rules_on_the_sweep():
  study, blocks = sweep_results({0: 1.80, 1: 1.83, 2: 1.77})
  fixed = loss_confirmation.statement(study, blocks)
  assert fixed['spread'] == pytest.approx(0.03)
  n, power = loss_confirmation.confirmation_seeds(0.03)
  assert fixed['seeds'] == n and fixed['power'] == pytest.approx(power)
  assert fixed['target_loss'] == 2.070  # mean of 2.05, 2.06, 2.10
  text = loss_confirmation.stated(study, blocks)
  assert f'{fixed["seeds"]} seeds' in text and 'seeds 3-5' in text


def test_the_confirmation_takes_the_fewest_seeds_with_the_power_asked():
  # A small spread: the floor of 8 seeds has power to spare.
  n, power = loss_confirmation.confirmation_seeds(0.005)
  assert n == 8 and power > 0.99
  # At a spread of 0.02 (the effect itself) about 10 seeds give 80%:
  # the fewest that do, and one fewer does not.
  n, power = loss_confirmation.confirmation_seeds(0.02)
  assert 8 < n < 16 and power >= 0.8
  assert summary.paired_power(0.02, 0.02, n - 1) < 0.8
  # Too large a spread: 16 seeds, with the power they reach.
  n, power = loss_confirmation.confirmation_seeds(0.05)
  assert n == 16 and power < 0.8


def test_the_entered_size_and_target_are_the_statements_on_the_committed_runs():
  study = adamw_peers.STUDY
  fixed = loss_confirmation.statement(study, report.load_blocks(study))
  assert adamw_peers.CONFIRMATION_SEEDS == tuple(range(3, 3 + fixed['seeds']))
  assert adamw_peers.TARGET_LOSS == fixed['target_loss']


def test_the_confirmation_figure_is_drawn_once_every_run_is_in(tmp_path):
  study, results = confirmation_results()
  loss_confirmation.figures(study, blocks_from(study, results), str(tmp_path))
  with Image.open(tmp_path / 'confirmation.png') as image:
    assert image.size[0] <= MAX_FIGURE_PIXELS
  assert (tmp_path / 'sweep.png').exists()
  results['confirm_adamw']['runs']['adamw'].pop('5')
  (tmp_path / 'waiting').mkdir()
  loss_confirmation.figures(
    study, blocks_from(study, results), str(tmp_path / 'waiting')
  )
  assert not (tmp_path / 'waiting' / 'confirmation.png').exists()


def test_a_test_reading_the_headlines_very_runs_is_not_repeated():
  assert len(loss_confirmation.distinct_tests(study_with())) == 6
  assert loss_confirmation.repeats(study_with()) == {}
  same = study_with(CHOSEN | {'adamw_plp': 4e-3})  # PLP chosen at AdamW's
  assert [
    (block, arm, control) for block, arm, control, _ in
    loss_confirmation.distinct_tests(same)
  ] == [
    ('confirm', arm, control)
    for _, arm, control, _ in adamw_peers.TESTS[:5]
  ]  # fmt: skip
  assert loss_confirmation.repeats(same) == {
    ('untuned', 'adamw_plp', 'adamw', 'secondary'): (
      'confirm', 'adamw_plp', 'adamw', 'headline',
    ),
  }  # fmt: skip
  # The section names the test it leaves out, and the one it repeats.
  _, results = confirmation_results(study=same)
  text = loss_confirmation.tests(same, blocks_from(same, results))
  assert (
    len([line for line in text.splitlines() if line.startswith('| `')]) == 5
  )
  assert (
    "`adamw_plp` − `adamw` at `adamw`'s rate (secondary) is not a row of its "
    'own: it reads the very runs of `adamw_plp` − `adamw` (headline).'
  ) in text
