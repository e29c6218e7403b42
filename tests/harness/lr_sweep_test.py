"""The learning-rate sweep's stages and its headline table."""

import dataclasses

import numpy as np
import pytest
from scipy import stats

from benchmarks import studies
from benchmarks.cifar100 import optimizers
from benchmarks.cifar100 import probe_report
from benchmarks.harness import results_io
from benchmarks.harness import summary
from benchmarks.reporting import plots
from benchmarks.studies import lr_sweep
from benchmarks.studies import report
from benchmarks.studies import tuned_comparison
from benchmarks.studies.lr_sweep import figures as sweep_figures
from benchmarks.studies.lr_sweep import sweep_sections
from tests.conftest import write_run

SQRT2 = 2**0.5


def test_refinement_points_sit_a_factor_sqrt2_from_each_arms_best():
  sweep = lr_sweep.SWEEPS['SGD']
  comparison = lr_sweep.comparison(sweep, {'sgd': 0.032, 'plp': 0.016}, {})
  grid = {f'sgd_lr_{rate:g}' for rate in sweep.grid}
  jobs = {
    name: job
    for name, job in tuned_comparison.sweep_jobs(comparison).items()
    if name not in grid
  }
  # 0.032 / √2 and 0.016 · √2 are one point, run once with both arms.
  assert {name: job['arms'] for name, job in jobs.items()} == {
    'sgd_lr_0.0226274': ('sgd', 'plp'),
    'sgd_lr_0.0452548': ('sgd',),
    'sgd_lr_0.0113137': ('plp',),
  }
  for job in jobs.values():
    assert job['seeds'] == (0, 1, 2)
    assert job['max_learning_rate'] == 2 * job['learning_rate']
  assert jobs['sgd_lr_0.0452548']['learning_rate'] == pytest.approx(
    0.032 * SQRT2
  )
  # The borrowed grid point is read, not run.
  assert 'sgd_lr_0.001' not in tuned_comparison.sweep_jobs(comparison)


def test_a_chosen_rate_at_an_edge_asks_for_a_wider_grid():
  seeds = (0, 1, 2)

  def point(rate, arm, error, seeds=seeds):
    return (rate, arm, {s: {'val_top1_error': error} for s in seeds}, 0)

  points = [
    point(0.01, 'sgd', 0.5), point(0.02, 'sgd', 0.4), point(0.04, 'sgd', 0.6),
    point(0.01, 'plp', 0.6), point(0.02, 'plp', 0.5), point(0.04, 'plp', 0.4),
    point(0.08, 'plp', 0.1, seeds=(0,)),  # not on every seed: not chosen
  ]  # fmt: skip
  assert sweep_sections.chosen_so_far(points, seeds) == (
    'sgd 0.02 (40.00); '
    'plp 0.04 (40.00, at an edge of the complete points: extend the grid)'
  )


def chosen_study(grid_best, chosen):
  jobs, blocks = lr_sweep.study_jobs_and_blocks(grid_best, chosen)
  return dataclasses.replace(lr_sweep.STUDY, jobs=jobs, blocks=blocks)


def test_chosen_rates_make_the_confirmation_and_the_wider_runs():
  chosen = {'sgd': 0.032, 'plp': 0.0226, 'adamw': 8e-4, 'adamw_plp': 4e-4}
  study = chosen_study({}, chosen)
  config = studies.job_config(study, 'confirm_sgd_plp')
  assert tuple(config.arms) == ('plp', 'sgd_matched')
  assert tuple(config.seeds) == tuple(range(3, 11))
  assert (config.learning_rate, config.max_learning_rate) == (0.0226, 0.0452)
  config = studies.job_config(study, 'confirm_sgd_sgd')
  assert (tuple(config.arms), config.learning_rate) == (('sgd',), 0.032)
  # The wider runs: one arm a job, each at its arm's chosen rate.
  assert study.report_blocks['wider_sgd'] == (
    'wider_sgd_sgd', 'wider_sgd_plp', 'wider_sgd_sgd_matched',
  )  # fmt: skip
  for arm, rate in (('sgd', 0.032), ('plp', 0.0226), ('sgd_matched', 0.0226)):
    wider = studies.job_config(study, f'wider_sgd_{arm}')
    assert (tuple(wider.arms), wider.learning_rate) == ((arm,), rate)
    assert (wider.width, wider.epochs, tuple(wider.seeds)) == (
      1 / 8,
      26,
      (0, 1, 2),
    )
  config = studies.job_config(study, 'confirm_adamw_adamw_plp')
  assert tuple(config.arms) == ('adamw_plp', 'adamw_matched')
  assert config.adamw_learning_rate == 4e-4
  assert study.report_blocks['confirm_sgd'] == (
    'confirm_sgd_sgd',
    'confirm_sgd_plp',
  )
  assert 'wider_adamw' not in study.report_blocks  # the SGD sweep's only
  # Nothing follows before both arms of a sweep are chosen.
  assert not any(
    job.startswith(('confirm', 'wider'))
    for job in chosen_study({}, {'sgd': 0.032}).jobs
  )


def test_a_confirmation_is_reported_as_one_block_with_its_headline(
  validated, tmp_path
):
  study = chosen_study({}, {'sgd': 0.032, 'plp': 0.016})
  validated_run = validated[0]
  root = tmp_path / 'runs'
  for seed in (3, 4):
    for job, arms in (
      ('confirm_sgd_sgd', ['sgd']),
      ('confirm_sgd_plp', ['plp', 'sgd_matched']),
    ):
      write_run(root / job / f'seed_{seed}', validated_run, arms, seed)
  written = report.write_report(
    study, str(root), str(tmp_path / 'out'), plot=False
  )
  headline = written.split('## The confirmation on fresh seeds')[1]
  # Two of the eight planned seeds: the rows say so, not yet the test.
  so_far = '2 of 8 seeds so far | 2 |'
  assert f'| confirm_sgd | plp − sgd | top1 | headline, {so_far}' in headline
  assert (
    f'| confirm_sgd | plp − sgd_matched | top1 | secondary, {so_far}'
    in headline
  )
  arms = written.split('## Test errors per arm')[1].split('##')[0]
  for arm in ('sgd', 'plp', 'sgd_matched'):
    assert f'| confirm_sgd | {arm} | 2 |' in arms
  assert 'sgd_lr_0.001 |' not in arms  # grid points are in the sweep table


def test_the_sweep_figures_shift_by_the_studys_own_longer_step(
  tmp_path, monkeypatch
):
  shifts = []

  def plot_sweep(path, title, points, longer_step, seeds):
    shifts.append(longer_step)
    return path

  monkeypatch.setattr(sweep_figures, 'plot_sweep', plot_sweep)
  blocks = report.load_blocks(lr_sweep.STUDY)

  def half_step_config():  # k = 0.5: PLP steps (3 - 0.5 + 0.5) / 3 = 1 as far
    config = lr_sweep.base_config()
    config.prediction.step_size = 0.5
    return config

  half_step = dataclasses.replace(lr_sweep.STUDY, base_config=half_step_config)
  for study in (lr_sweep.STUDY, half_step):
    sweep_figures.sweep_figures(study, blocks, str(tmp_path))
  assert shifts == [
    ('sgd', pytest.approx(7 / 6)), ('adamw', pytest.approx(7 / 6)),
    ('sgd', pytest.approx(1.0)), ('adamw', pytest.approx(1.0)),
  ]  # fmt: skip


def test_each_sweep_figure_shifts_by_its_own_control(tmp_path, monkeypatch):
  controls = []
  monkeypatch.setattr(sweep_figures, 'plot_sweep', lambda path, *_: path)
  monkeypatch.setattr(
    optimizers, 'rate_scale', lambda arm, _: controls.append(arm) or 1.0
  )
  study = lr_sweep.STUDY
  sweep_figures.sweep_figures(study, report.load_blocks(study), str(tmp_path))
  assert controls == ['sgd_matched', 'adamw_matched']


def test_the_sweep_figures_title_the_studys_own_model_setting(
  tmp_path, monkeypatch
):
  titles = []
  monkeypatch.setattr(
    sweep_figures,
    'plot_sweep',
    lambda path, title, *_: titles.append(title) or path,
  )

  def wider_config():
    config = lr_sweep.base_config()
    config.width, config.epochs = 1 / 8, 26
    return config

  blocks = report.load_blocks(lr_sweep.STUDY)
  wider = dataclasses.replace(lr_sweep.STUDY, base_config=wider_config)
  for study in (lr_sweep.STUDY, wider):
    sweep_figures.sweep_figures(study, blocks, str(tmp_path))
  assert [title.split(':')[0] for title in titles] == [
    'SGD, ResNet18 width 1/16, 13 epochs',
    'AdamW, ResNet18 width 1/16, 13 epochs',
    'SGD, ResNet18 width 1/8, 26 epochs',
    'AdamW, ResNet18 width 1/8, 26 epochs',
  ]


@pytest.mark.parametrize(
  'width, words',
  [(1.0, 'width 1,'), (0.1875, 'width 3/16,'), (0.5, 'width 1/2,')],
)
def test_model_setting_writes_the_width_as_a_fraction(width, words):
  config = lr_sweep.base_config()
  config.width = width
  assert words in sweep_figures.model_setting(config)


def test_each_arm_of_the_confirmation_keeps_the_rate_it_ran_at():
  # Its jobs run at two rates: sgd at its own, plp and sgd_matched at plp's.
  study = lr_sweep.STUDY
  block = report.load_block(
    study, study.out, study.report_blocks['confirm_sgd']
  )
  for arm, chosen_for in (('sgd', 'sgd'), ('sgd_matched', 'plp')):
    config = results_io.arm_config(block, arm)
    assert config['learning_rate'] == pytest.approx(lr_sweep.CHOSEN[chosen_for])
  probes = probe_report.trajectory_table({'confirm_sgd': block})
  matched = f'cyclic {lr_sweep.CHOSEN["plp"]:g}-{2 * lr_sweep.CHOSEN["plp"]:g}'
  assert f'| confirm_sgd, sgd_matched | {matched} × 7/6 |' in probes


def block_with(differences):
  """A block summary holding `differences`: name -> top-1 per seed."""
  found = {}
  for name, per_seed in differences.items():
    found[name] = {'seeds': list(range(3, 3 + len(per_seed)))}
    for metric in ('top1_error', 'top5_error'):
      found[name][f'selected_{metric}'] = {
        'mean': float(np.mean(per_seed)),
        'std': float(np.std(per_seed, ddof=1)),
        'per_seed': list(per_seed),
        'paired_t_test_p': float(stats.ttest_1samp(per_seed, 0).pvalue),
      }
  return {'summary': found}


def test_the_headline_row_comes_first_with_its_95_percent_interval():
  top1 = [-0.01, 0.004, -0.02, 0.0, -0.006, 0.012, -0.015, -0.003]
  blocks = {
    'confirm_sgd': block_with({'plp - sgd': top1, 'plp - sgd_matched': top1})
  }
  text = sweep_sections.headline(lr_sweep.STUDY, blocks)
  rows = [line for line in text.splitlines() if line.startswith('| confirm')]
  assert len(rows) == 4
  assert rows[0].startswith('| confirm_sgd | plp − sgd | top1 | headline | 8 |')
  assert sum('| headline |' in row for row in rows) == 1
  sem = stats.sem(top1)
  low, high = stats.t.interval(0.95, 7, loc=np.mean(top1), scale=sem)
  assert f'| [{100 * low:+.2f}, {100 * high:+.2f}] |' in rows[0]
  assert sweep_sections.headline(lr_sweep.STUDY, {}) == ''
  # While the confirmation runs: one finished seed has no interval yet.
  difference = {'seeds': [3]}
  for metric in ('top1_error', 'top5_error'):
    difference[f'selected_{metric}'] = summary.difference_stats([-0.01])
  one_seed = {'confirm_sgd': {'summary': {'plp - sgd': difference}}}
  text = sweep_sections.headline(lr_sweep.STUDY, one_seed)
  assert (
    '| headline, 1 of 8 seeds so far | 1 | -1.00 (-1.00) | n/a | n/a |' in text
  )


def test_the_sweep_figure_opens_the_markers_of_points_short_of_seeds(
  tmp_path, monkeypatch
):
  def errors(*top1):
    return {
      seed: {'top1_error': e, 'val_top1_error': e}
      for seed, e in enumerate(top1)
    }

  points = [
    (0.01, 'sgd', errors(0.7, 0.72, 0.74), 0),
    (0.02, 'sgd', errors(0.69), 0),  # one seed of three so far
    (0.01, 'plp', errors(0.71, 0.7, 0.73), 0),
  ]
  closed = []
  monkeypatch.setattr(plots.pyplot(), 'close', closed.append)
  sweep_figures.plot_sweep(
    str(tmp_path / 'f.png'), 'title', points, ('sgd', 7 / 6), (0, 1, 2)
  )
  for axis in closed[0].axes:
    hollow = [
      (tuple(line.get_xdata()), tuple(line.get_ydata()))
      for line in axis.lines
      if line.get_markerfacecolor() == 'white' and len(line.get_xdata())
    ]
    assert len(hollow) == 1 and hollow[0][0] == (0.02,)
    assert hollow[0][1] == pytest.approx((69.0,))
    labels = [text.get_text() for text in axis.get_legend().get_texts()]
    assert 'fewer than 3 seeds so far' in labels


def test_the_second_confirmation_runs_the_chosen_rates_on_fresh_seeds():
  study = chosen_study({}, {'sgd': 0.032, 'plp': 0.0226})
  assert study.report_blocks['confirm_wider_sgd'] == (
    'confirm_wider_sgd_sgd',
    'confirm_wider_sgd_plp',
  )
  for arm, rate in (('sgd', 0.032), ('plp', 0.0226)):
    config = studies.job_config(study, f'confirm_wider_sgd_{arm}')
    assert (tuple(config.arms), config.learning_rate) == ((arm,), rate)
    assert (config.width, config.epochs) == (1 / 8, 26)
    assert tuple(config.seeds) == lr_sweep.FRESH_SEEDS
    assert config.batch_norm_recalibration_batches == 50
  # PLP at SGD's rate, against the first confirmation's SGD runs.
  assert study.report_blocks['untuned_sgd'] == (
    'confirm_sgd_sgd',
    'untuned_sgd_plp',
  )
  config = studies.job_config(study, 'untuned_sgd_plp')
  assert (tuple(config.arms), config.learning_rate) == (('plp',), 0.032)
  assert (config.width, config.epochs) == (1 / 16, 13)
  assert 'confirm_wider_adamw' not in study.report_blocks


def recalibrated_records(top1, validation, recalibrated_top1):
  """Epoch records with plain and BatchNorm-recalibrated errors."""
  return [
    {
      'epoch': epoch,
      'top1_error': t,
      'top5_error': t / 2,
      'val_top1_error': v,
      'batch_norm_recalibrated': {
        'top1_error': r, 'top5_error': r / 2, 'val_top1_error': r,
      },
    }
    for epoch, (t, v, r) in enumerate(
      zip(top1, validation, recalibrated_top1, strict=True), start=1
    )
  ]  # fmt: skip


def section_rows(section, block, sgd, plp):
  """A section's table rows for one block's runs, by their first cell."""
  text = section(None, {block: {'runs': {'sgd': sgd, 'plp': plp}}})
  return {row.split(' | ')[0].strip('| '): row for row in text.splitlines()}


def test_the_second_confirmation_reads_each_estimator_by_seed():
  sgd = {
    '3': recalibrated_records([0.6, 0.5, 0.55, 0.52], [0.6, 0.5, 0.6, 0.6],
                              [0.5, 0.45, 0.5, 0.5]),
    '4': recalibrated_records([0.6, 0.5, 0.5, 0.5], [0.6, 0.6, 0.6, 0.4],
                              [0.5, 0.5, 0.5, 0.4]),
  }  # fmt: skip
  plp = {seed: [{**r, 'top1_error': r['top1_error'] - 0.01} for r in records]
         for seed, records in sgd.items()}  # fmt: skip
  rows = section_rows(
    sweep_sections.second_confirmation, 'confirm_wider_sgd', sgd, plp
  )
  headline = rows['top-1, selected epoch']
  # Seed 3 selects epoch 2 (50.00), seed 4 epoch 4 (50.00); PLP is 1 lower.
  assert '| headline | 2 | 50.00 ± 0.00 | 49.00 ± 0.00 |' in headline
  assert '-1.00 ± 0.00 (-1.00, -1.00)' in headline
  last3 = rows['top-1, mean of the last 3 epochs']
  assert f'| {100 * np.mean([0.5, 0.55, 0.52, 0.5, 0.5, 0.5]):.2f} ±' in last3
  # Recalibrated at the plain selection (epochs 2 and 4): 45 and 40.
  at_selected = rows['top-1, BatchNorm recalibrated, at the selected epoch']
  assert '| exploratory | 2 | 42.50 ± 3.54 |' in at_selected
  assert sweep_sections.second_confirmation(None, {}) == ''


def plain_records(top1, validation):
  """Epoch records without recalibrated errors, as runs before them have."""
  return [
    {key: r[key] for key in ('epoch', 'top1_error', 'top5_error',
                             'val_top1_error')}
    for r in recalibrated_records(top1, validation, top1)
  ]  # fmt: skip


# PLP's runs with recalibrated errors: seed 3 selects epoch 2, seed 4 epoch 3.
PLP_RECALIBRATED = {
  '3': recalibrated_records([0.7, 0.62, 0.6], [0.7, 0.6, 0.61],
                            [0.6, 0.6, 0.55]),
  '4': recalibrated_records([0.7, 0.65, 0.66], [0.7, 0.7, 0.6],
                            [0.6, 0.6, 0.61]),
}  # fmt: skip


def test_plp_at_sgds_rate_is_read_with_its_stated_tests():
  sgd = {
    '3': plain_records([0.7, 0.6, 0.65], [0.7, 0.6, 0.62]),
    '4': plain_records([0.7, 0.66, 0.64], [0.7, 0.7, 0.6]),
  }  # fmt: skip
  rows = section_rows(
    sweep_sections.untuned_secondary, 'untuned_sgd', sgd, PLP_RECALIBRATED
  )
  # Seed 3 selects epoch 2 for sgd (60) and plp (62); seed 4 epoch 3 (64, 66).
  selected = rows['top-1, selected epoch']
  assert '| secondary | 2 | 62.00 ± 2.83 | 64.00 ± 2.83 |' in selected
  assert '+2.00 ± 0.00 (+2.00, +2.00)' in selected
  assert '| secondary |' in rows['top-5, selected epoch']
  last = rows['top-1, last epoch']
  assert '| exploratory | 2 |' in last and '(-5.00, +2.00)' in last
  # SGD's runs have no recalibrated errors, so no recalibrated estimator.
  assert not any('recalibrated' in label for label in rows)
  assert sweep_sections.untuned_secondary(None, {}) == ''
  assert (
    sweep_sections.untuned_secondary(
      None, {'untuned_sgd': {'runs': {'plp': PLP_RECALIBRATED}}}
    )
    == ''
  )


def test_recalibration_moves_each_arm_that_recorded_it():
  sgd = {'3': plain_records([0.7, 0.6, 0.65], [0.7, 0.6, 0.62])}
  blocks = {'untuned_sgd': {'runs': {'sgd': sgd, 'plp': PLP_RECALIBRATED}}}
  text = sweep_sections.recalibration_moves(None, blocks)
  rows = [row for row in text.splitlines() if row.startswith('| untuned')]
  # Only plp recorded them; at its selected epochs (2, 3) 62 -> 60, 66 -> 61.
  assert len(rows) == 1
  assert rows[0].startswith('| untuned_sgd, plp | exploratory | 2 |')
  moved = '| 64.00 ± 2.83 | 60.50 ± 0.71 | -3.50 ± 2.12 (-2.00, -5.00) |'
  assert moved in rows[0]
  assert sweep_sections.recalibration_moves(None, {}) == ''
  only_plain = {'untuned_sgd': {'runs': {'sgd': sgd}}}
  assert sweep_sections.recalibration_moves(None, only_plain) == ''


def test_each_estimator_says_which_effect_its_spread_could_detect():
  sgd = {'3': 0.50, '4': 0.52, '5': 0.51}
  plp = {'3': 0.49, '4': 0.53, '5': 0.49}
  row = sweep_sections.estimator_row('top-1', 'headline', float, sgd, plp)
  spread = np.std([-0.01, 0.01, -0.02], ddof=1)
  detectable = 100 * summary.detectable_effect(spread, 3)
  assert row.endswith(f'| {detectable:.2f} |')
  assert summary.detectable_effect(0.0, 3) == 0.0
