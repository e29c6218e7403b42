"""The paper-scale study's command, at its tiny size on mock data."""

import json

import pytest

from benchmarks.studies import lr_sweep
from benchmarks.tools import paper_scale
from tests.conftest import mock_cifar


def test_pairs_run_block_by_block_and_each_run_is_written_at_once(tmp_path):
  with mock_cifar():
    written = paper_scale.run_within(1e9, True, str(tmp_path), max_seeds=1)
  assert sorted(p.removeprefix(f'{tmp_path}/') for p in written) == [
    'paper/seed_0/plp.json', 'paper/seed_0/sgd.json',
    'tuned/seed_0/plp.json', 'tuned/seed_0/sgd.json',
  ]  # fmt: skip
  for path in written:
    results = json.loads(open(path).read())
    config = results['config']
    arm = path.split('/')[-1].removesuffix('.json')
    assert list(results['runs']) == [arm]
    assert [r['epoch'] for r in results['runs'][arm]['0']] == [1, 2]
    want = lr_sweep.CHOSEN[arm] if '/tuned/' in path else 0.001
    assert config['learning_rate'] == pytest.approx(want)
    assert config['max_learning_rate'] == pytest.approx(2 * want)
    assert (
      config['validation_fraction'] > 0 and config['lr_schedule'] == 'cyclic'
    )


def test_the_full_size_is_the_papers_protocol_at_width_one():
  config = paper_scale.run_config(False, 'paper', 'plp', 3)
  assert (config.model, config.width, config.epochs) == ('ResNet18', 1.0, 100)
  assert (
    config.compute_dtype == 'bfloat16' and config.validation_fraction == 0.2
  )
  assert (config.learning_rate, config.max_learning_rate) == (0.001, 0.002)
  assert tuple(config.arms) == ('plp',) and tuple(config.seeds) == (3,)


def test_a_spent_budget_still_finishes_the_first_pair_and_stops(tmp_path):
  with mock_cifar():
    written = paper_scale.run_within(0, True, str(tmp_path))
  assert len(written) == 2 and all('/paper/seed_0/' in p for p in written)


def test_the_command_runs_on_the_compact_copy_as_on_the_device(
  tmp_path, mock_arrays
):
  # As on the device: the data from the compact copy, no TFDS in the path.
  import os
  import subprocess
  import sys

  from benchmarks.cifar100 import input_pipeline

  environment = {
    **os.environ, input_pipeline.ENVIRONMENT_VARIABLE: mock_arrays,
  }  # fmt: skip
  done = subprocess.run(
    [sys.executable, '-m', 'benchmarks.tools.paper_scale', '--tiny',
     '--budget-seconds', '0', '--out', str(tmp_path / 'out')],
    env=environment, capture_output=True, text=True, check=False,
  )  # fmt: skip
  assert done.returncode == 0, done.stderr[-3000:]
  assert '2 runs written under' in done.stdout
  assert sorted(p.name for p in (tmp_path / 'out').rglob('*.json')) == [
    'plp.json',
    'sgd.json',
  ]
