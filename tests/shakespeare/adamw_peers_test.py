"""The transformer study's rule and sweep table, on hand-made blocks."""

import dataclasses
import json
import pathlib

from benchmarks import studies
from benchmarks import tasks
from benchmarks.studies.adamw_peers import exploratory
from benchmarks.studies.tuned_comparison import loss_sweep


def block(arm, losses, diverged=()):
  runs = {
    str(seed): [{'epoch': 20, 'final_val_loss': loss}]
    for seed, loss in losses.items()
  }
  return {'runs': {arm: runs}, 'diverged': {arm: list(diverged)}}


def test_the_sweep_table_marks_each_arms_best_and_says_what_diverged():
  study = studies.load('adamw_peers')
  blocks = {
    'lr_0.001': block('adamw', {0: 1.9, 1: 1.92, 2: 1.91}),
    'lr_0.002': block('adamw', {0: 1.88, 1: 1.89, 2: 1.9}),
    'lr_0.016': block('adamw', {0: 1.95}, diverged=(1, 2)),
  }
  text = loss_sweep.sweep(study, blocks)
  assert '| 0.002       | **1.8900 ± 0.0100**' in text
  assert '| 0.001       | 1.9100 ± 0.0100 ' in text
  assert 'diverged (2 of 3)' in text
  assert 'Best so far: `adamw` 0.002.' in text


def curve(*losses):
  return [
    {'step': 100 * (i + 1), 'val_loss': loss} for i, loss in enumerate(losses)
  ]


def test_steps_to_reach_interpolates_between_evaluations():
  records = curve(2.5, 2.1, 1.9, 1.8)
  assert loss_sweep.steps_to_reach(records, 2.0) == 250.0  # 2.1 -> 1.9
  assert loss_sweep.steps_to_reach(records, 1.9) == 300.0
  assert loss_sweep.steps_to_reach(records, 2.6) == 100.0
  assert loss_sweep.steps_to_reach(records, 1.7) is None


def test_path_straightness_averages_each_third_over_seeds():
  study = studies.load('adamw_peers')
  runs = {
    str(seed): [{'path_cosine': c} for c in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)]
    for seed in (0, 1)
  }
  runs['1'][0]['path_cosine'] = 0.3  # first third: mean of 0.1, 0.2, 0.3, 0.2
  blocks = {'lr_0.001': {'runs': {'adamw': runs}}}
  text = exploratory.path_straightness(study, blocks)
  assert (
    '| 0.001       | adamw | 2       | 0.200         | 0.350    | 0.550  |'
    in text
  )
  assert exploratory.path_straightness(study, {}) == ''


def test_cifar_path_straightness_reads_the_probes_of_each_run(tmp_path):
  def run(*cosines):  # two epochs, their probes' cosines in order
    probes = [{'path_cosine': c} for c in cosines]
    return [{'trajectory': probes[:3]}, {'trajectory': probes[3:]}]

  config = {'learning_rate': 0.045, 'adamw_learning_rate': 0.0032}
  results = {
    'config': config,
    'runs': {'sgd': {'0': run(0.1, 0.2, 0.3, 0.4, 0.5, 0.6)},
             'adamw': {'0': run(0.9, 0.9, 0.8, 0.8, 0.7, 0.7)}},
  }  # fmt: skip
  (tmp_path / 'results.json').write_text(json.dumps(results))
  text = exploratory.cifar_path_straightness(str(tmp_path))
  assert (
    '| 0.045       | sgd   | 1       | 0.150         | 0.350    | 0.550  |'
    in text
  )
  assert (
    '| 0.0032      | adamw | 1       | 0.900         | 0.800    | 0.700  |'
    in text
  )
  assert exploratory.cifar_path_straightness(str(tmp_path / 'none')) == ''


def test_the_readme_gives_the_sweeps_adamw_at_the_cpu_settings_rate():
  """The number set beside nanoGPT's ~1.88 is the committed one."""
  root = pathlib.Path(studies.__file__).parents[1]
  job = root / 'results' / 'shakespeare' / 'adamw_peers' / 'lr_0.001'
  results = tasks.with_summary(tasks.load_results(str(job)))
  loss = results['summary']['adamw']['final_val_loss']
  assert results['summary']['adamw']['seeds'] == [0, 1, 2]
  readme = (root / 'shakespeare' / 'README.md').read_text()
  assert f'**{loss["mean"]:.4f} ± {loss["std"]:.4f}**' in readme


def test_a_root_two_point_adds_to_its_arms_points_only():
  from benchmarks.studies import adamw_peers

  study = dataclasses.replace(
    adamw_peers.COMPARISON, grid=(1e-3,), grid_best={'adamw': 1e-3}
  ).study()
  blocks = {
    'lr_0.001': block('adamw', {0: 1.9, 1: 1.9, 2: 1.9}),
    'lr_0.00141421': block('adamw', {0: 1.8, 1: 1.8, 2: 1.8}),
  }
  points = loss_sweep.sweep_points(study, blocks)
  assert [rate for rate, losses in points['adamw'] if losses] == [
    1e-3, 2**0.5 * 1e-3,
  ]  # fmt: skip
  assert [rate for rate, _ in points['adamw_plp']] == [1e-3]
  text = loss_sweep.sweep(study, blocks)
  row = next(line for line in text.splitlines() if '0.00141421' in line)
  cells = [c.strip() for c in row.strip('|').split('|')]
  assert cells == ['0.00141421', '**1.8000 ± 0.0000**', '', '', '']


def test_the_reports_curve_gaps_are_the_tables():
  import re

  study = studies.load('adamw_peers')
  tables = (pathlib.Path(study.out) / 'tables.md').read_text()
  section = tables.split('## Exploratory: how far PLP trails AdamW')[1]
  gaps = dict(re.findall(r'\| (\d+) \| \+(\d\.\d+) \|', section))
  report = (pathlib.Path(study.out) / 'REPORT.md').read_text()
  bullet = report.split("- Exploratory: PLP's validation loss trails")[1]
  bullet = bullet.split('\n- ')[0]
  for step, quoted in (('400', '0.063'), ('500', '0.043'), ('1000', '0.032'),
                       ('2000', '0.012')):  # fmt: skip
    assert f'{float(gaps[step]):.3f}' == quoted and quoted in bullet
  assert 'the largest gap is +0.0633 at step 400' in section
