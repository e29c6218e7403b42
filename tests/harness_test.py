"""End-to-end tests of the CIFAR-100 harness on mock data with `tiny.py`."""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds

from benchmarks.cifar100 import input_pipeline
from benchmarks.cifar100 import report
from benchmarks.cifar100 import study_report
from benchmarks.cifar100 import train
from benchmarks.cifar100.configs import tiny

# What must be identical between runs; speed and wall time are not.
COMPARED = ('epoch', 'train_loss', 'test_loss', 'top1_error', 'top5_error')
PROBED = 'trajectory'  # only in the arms without PLP


@pytest.fixture(autouse=True)
def mock_cifar100():
  with tfds.testing.mock_data(num_examples=40):
    yield


def metrics(results):
  return {
    arm: {
      seed: [{k: r.get(k) for k in (*COMPARED, PROBED)} for r in history]
      for seed, history in seeds.items()
    }
    for arm, seeds in results['runs'].items()
  }


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('uninterrupted')
  with tfds.testing.mock_data(num_examples=40):
    results = train.train_and_evaluate(tiny.get_config(), str(workdir))
  return workdir, results


def test_a_run_writes_results_curves_and_a_table(uninterrupted):
  workdir, results = uninterrupted
  with open(workdir / 'results.json') as file:
    assert json.load(file) == json.loads(json.dumps(results))
  assert (workdir / 'curves.png').stat().st_size > 10_000
  assert (workdir / 'trajectory.png').stat().st_size > 10_000
  assert set(results['runs']) == {'sgd', 'plp'}
  for seeds in results['runs'].values():
    history = seeds['0']
    assert [r['epoch'] for r in history] == [1, 2, 3]
    for record in history:
      assert set(record) - {PROBED} == set(COMPARED) | {
        'images_per_second',
        'wall_seconds',
      }
      assert 0 <= record['top5_error'] <= record['top1_error'] <= 1
  # Only the arm without PLP follows plain training's path.
  # tiny.py asks for 4 probes in 4-step epochs; one fits in each.
  assert [len(r[PROBED]) for r in results['runs']['sgd']['0']] == [1, 1, 1]
  assert not any(PROBED in r for r in results['runs']['plp']['0'])
  summary = results['summary']
  assert summary['plp']['final_top1_error']['n'] == 1
  difference = summary['plp - sgd']['final_top1_error']
  assert difference['mean'] == pytest.approx(
    summary['plp']['final_top1_error']['mean']
    - summary['sgd']['final_top1_error']['mean']
  )
  table = report.format_table(results)
  assert 'plp - sgd' in table and 'final top-1' in table


def test_arms_share_initialisation_and_data_order(uninterrupted, tmp_path):
  _, results = uninterrupted
  # PLP changes nothing before its first prediction (the third step), and an
  # epoch of tiny.py has four steps, so epoch 1 differs only after step 3.
  sgd, plp = results['runs']['sgd']['0'], results['runs']['plp']['0']
  assert sgd[0]['train_loss'] != plp[0]['train_loss']
  first_steps = {}
  for arm in ('sgd', 'plp'):
    config = tiny.get_config()
    config.arms = (arm,)
    config.epochs = 1
    config.train_limit = 16  # two steps: no prediction yet
    first_steps[arm] = train.train_and_evaluate(config, str(tmp_path / arm))[
      'runs'
    ][arm]['0'][0]
  assert first_steps['sgd']['train_loss'] == first_steps['plp']['train_loss']
  assert first_steps['sgd']['test_loss'] == first_steps['plp']['test_loss']


def test_a_killed_run_resumes_to_the_same_result(
  uninterrupted, tmp_path, monkeypatch
):
  _, want = uninterrupted
  real_train_epoch = train.train_epoch
  calls = []

  def killed_in_epoch_three(*args, **kwargs):
    calls.append(1)
    if len(calls) == 3:
      raise KeyboardInterrupt
    return real_train_epoch(*args, **kwargs)

  monkeypatch.setattr(train, 'train_epoch', killed_in_epoch_three)
  with pytest.raises(KeyboardInterrupt):
    train.train_and_evaluate(tiny.get_config(), str(tmp_path))
  partial = json.loads((tmp_path / 'results.json').read_text())
  assert len(partial['runs']['sgd']['0']) == 2
  monkeypatch.setattr(train, 'train_epoch', real_train_epoch)
  got = train.train_and_evaluate(tiny.get_config(), str(tmp_path))
  assert metrics(got) == metrics(want)


def test_two_devices_match_one(uninterrupted, tmp_path):
  _, want = uninterrupted
  config = tiny.get_config()
  config.num_devices = 2
  got = train.train_and_evaluate(config, str(tmp_path))
  for arm in ('sgd', 'plp'):
    for key in ('train_loss', 'test_loss'):
      np.testing.assert_allclose(
        [r[key] for r in got['runs'][arm]['0']],
        [r[key] for r in want['runs'][arm]['0']],
        rtol=1e-3,
      )


@pytest.mark.parametrize(
  'field,value,message',
  [
    ('model', 'ResNet50', "config.model is 'ResNet50'; allowed: ['GoogLeNet'"),
    ('arms', ('sgd', 'lion'), "config.arms is ('sgd', 'lion'); allowed"),
    ('epochs', 0, 'config.epochs is 0; allowed: an int >= 1'),
    ('lr_milestones', (0.8, 0.3), 'config.lr_milestones'),
    ('batch_size', 7, 'config.batch_size is 7; allowed: a multiple of the'),
    ('compute_dtype', 'float16', "config.compute_dtype is 'float16'"),
    ('trajectory_probes', -1, 'config.trajectory_probes is -1; allowed: an'),
  ],
)
def test_bad_config_fails_before_training(field, value, message, tmp_path):
  config = tiny.get_config()
  config.num_devices = 2
  config[field] = value
  with pytest.raises(train.ConfigError, match=re.escape(message)):
    train.train_and_evaluate(config, str(tmp_path))
  assert not (tmp_path / 'checkpoints').exists()


def test_bad_plp_argument_names_the_field(tmp_path):
  config = tiny.get_config()
  config.plp.every = 2
  with pytest.raises(train.ConfigError, match='config.plp: `every` must be'):
    train.train_and_evaluate(config, str(tmp_path))


def test_missing_dataset_says_what_to_do(tmp_path, monkeypatch):
  monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path))
  with tfds.testing.mock_data(policy=tfds.testing.MockPolicy.USE_FILES):
    with pytest.raises(
      input_pipeline.DatasetUnavailableError, match='set TFDS_DATA_DIR'
    ):
      input_pipeline.load_split('test', download=False)


def test_corrupt_checkpoint_is_reported_and_older_ones_kept(
  uninterrupted, tmp_path
):
  workdir, _ = uninterrupted
  copy = tmp_path / 'copy'
  os.system(f'cp -r {workdir} {copy}')
  latest = copy / 'checkpoints' / 'sgd' / 'seed_0' / '3'
  for root, _, files in os.walk(latest / 'state'):
    for name in files:
      with open(os.path.join(root, name), 'wb') as file:
        file.write(b'garbage')
  config = tiny.get_config()
  config.epochs = 4
  with pytest.raises(train.CheckpointError, match='Older checkpoints kept'):
    train.train_and_evaluate(config, str(copy))
  assert (copy / 'checkpoints' / 'sgd' / 'seed_0' / '2').exists()


def test_checkpoint_of_another_config_is_refused(uninterrupted, tmp_path):
  workdir, _ = uninterrupted
  copy = tmp_path / 'copy'
  os.system(f'cp -r {workdir} {copy}')
  config = tiny.get_config()
  config.learning_rate = 0.05
  with pytest.raises(train.CheckpointError, match="'learning_rate'"):
    train.train_and_evaluate(config, str(copy))


def test_non_finite_loss_stops_naming_arm_and_epoch(tmp_path):
  config = tiny.get_config()
  config.learning_rate = 1e30
  with pytest.raises(train.NonFiniteLossError, match="arm 'sgd', seed 0"):
    train.train_and_evaluate(config, str(tmp_path))
  assert (tmp_path / 'results.json').exists()


def test_results_are_written_atomically(tmp_path, monkeypatch):
  path = tmp_path / 'results.json'
  report.write_json_atomically(str(path), {'a': 1})

  def broken_dump(*args, **kwargs):
    raise OSError('disk full')

  monkeypatch.setattr(json, 'dump', broken_dump)
  with pytest.raises(OSError):
    report.write_json_atomically(str(path), {'a': 2})
  assert json.loads(path.read_text()) == {'a': 1}


def test_main_applies_overrides_and_reports_errors(tmp_path):
  # A real command line: ml_collections reads the overrides from sys.argv.
  command = [
    sys.executable,
    '-m',
    'benchmarks.cifar100.main',
    '--config=benchmarks/cifar100/configs/tiny.py',
    f'--workdir={tmp_path}',
    '--config.model=AlexNet',
  ]
  done = subprocess.run(command, capture_output=True, text=True, check=False)
  assert done.returncode == 1
  assert "error: config.model is 'AlexNet'" in done.stderr


def test_study_report_tables_main_runs_ablations_and_probes(
  uninterrupted, tmp_path
):
  workdir, results = uninterrupted
  root = tmp_path / 'runs'
  for job in ('ResNet18', 'ResNet18_step_size_2'):
    shutil.copytree(
      workdir, root / job, ignore=shutil.ignore_patterns('checkpoints')
    )
  tables = study_report.write_tables(str(root), str(tmp_path / 'out'))
  difference = results['summary']['plp - sgd']['final_top1_error']['mean']
  assert '| ResNet18 (0.0625, 47,592) | plp |' in tables
  assert f'| ResNet18 | {100 * difference:+.2f} ± 0.00 (' in tables
  runs = results['runs']  # tiny.py: 3 epochs, so halfway is after epoch 1
  halfway = (
    runs['plp']['0'][0]['top1_error'] - runs['sgd']['0'][0]['top1_error']
  )
  assert f'| {100 * halfway:+.2f} ± 0.00 (1) | n/a |' in tables
  assert '| plp, paper settings | 1 |' in tables
  assert '| plp, step size 2 | 1 |' in tables
  assert '| ResNet18, sgd | 1 × base | 1 |' in tables
  for name in ('results.json', 'curves.png', 'trajectory.png', '../tables.md'):
    assert (tmp_path / 'out' / 'ResNet18_step_size_2' / name).exists()
