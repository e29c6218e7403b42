"""Reports refuse to pool runs that are not seeds of one setting."""

import json
import subprocess
import sys

import pytest

from benchmarks import tasks
from benchmarks.harness import results_io
from benchmarks.studies import report


def write(directory, learning_rate=0.1, epochs=2, seed=0, arm='sgd'):
  directory.mkdir(parents=True, exist_ok=True)
  records = [{'epoch': e + 1, 'top1_error': 0.5} for e in range(epochs)]
  results = {
    'config': {
      'learning_rate': learning_rate, 'epochs': epochs, 'arms': [arm],
      'seeds': [seed], 'progress': False,
    },
    'data': {},
    'runs': {arm: {str(seed): records}},
  }  # fmt: skip
  (directory / 'results.json').write_text(json.dumps(results))


def test_seeds_trained_at_different_rates_are_not_pooled(tmp_path):
  write(tmp_path / 'job' / 'seed_0', learning_rate=0.1, seed=0)
  write(tmp_path / 'job' / 'seed_1', learning_rate=0.2, seed=1)
  with pytest.raises(results_io.PoolingError) as error:
    tasks.load_results(str(tmp_path / 'job'))
  message = str(error.value)
  assert "fields ['learning_rate']" in message
  assert 'seed_0' in message and 'seed_1' in message


def test_seeds_of_different_lengths_are_not_pooled(tmp_path):
  write(tmp_path / 'job' / 'seed_0', epochs=2, seed=0)
  write(tmp_path / 'job' / 'seed_1', epochs=3, seed=1)
  with pytest.raises(results_io.PoolingError, match=r"fields \['epochs'\]"):
    tasks.load_results(str(tmp_path / 'job'))


def test_seeds_differing_only_in_what_a_resume_may_change_are_pooled(
  tmp_path,
):
  write(tmp_path / 'job' / 'seed_0', seed=0)
  write(tmp_path / 'job' / 'seed_1', seed=1)
  merged = tasks.load_results(str(tmp_path / 'job'))
  assert sorted(merged['runs']['sgd']) == ['0', '1']


def test_a_results_file_shadowing_seed_folders_is_refused(tmp_path):
  write(tmp_path / 'job' / 'seed_0', seed=0)
  write(tmp_path / 'job', seed=5)
  with pytest.raises(results_io.PoolingError, match='would shadow the runs'):
    tasks.load_results(str(tmp_path / 'job'))


def test_one_arm_from_two_jobs_of_different_configs_is_not_pooled(tmp_path):
  write(tmp_path / 'a', learning_rate=0.1)
  write(tmp_path / 'b', learning_rate=0.2, seed=1)
  study = type('Study', (), {'borrowed': {}})()
  with pytest.raises(results_io.PoolingError, match='job a and job b'):
    report.load_block(study, str(tmp_path), ('a', 'b'))


def test_the_report_command_says_so_in_one_line(tmp_path):
  out = tmp_path / 'out'
  write(out / 'lr_0.001' / 'seed_0', seed=0)
  write(out / 'lr_0.001', seed=1)
  done = subprocess.run(
    [sys.executable, '-m', 'benchmarks.studies', 'report', 'adamw_peers',
     str(tmp_path / 'empty'), '--out', str(out)],
    capture_output=True, text=True, timeout=300,
  )  # fmt: skip
  assert done.returncode == 1
  assert done.stderr.strip().splitlines()[-1].startswith('error: ')
  assert 'would shadow the runs' in done.stderr.strip().splitlines()[-1]
