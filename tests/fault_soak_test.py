"""A short fault soak: SIGKILLs at a random moment and during a save."""

import os

from benchmarks import fault_soak
from benchmarks.cifar100 import report

# The random kill comes within this many seconds of a fresh run's start: in
# its start-up or first epoch on this machine.
START_UP_SECONDS = 30


def test_killed_runs_resume_to_the_uninterrupted_result(
  uninterrupted, tmp_path
):
  _, want = uninterrupted
  env = dict(os.environ)
  env['JAX_COMPILATION_CACHE_DIR'] = str(tmp_path / 'compilation_cache')
  env['JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS'] = '0'
  record = fault_soak.soak(
    tmp_path, kills=2, seed=0, launcher='tests.mock_main', env=env,
    reference=(report.reproducible(want), START_UP_SECONDS),
  )  # fmt: skip
  assert [k.moment == 'during a save' for k in record['kills']] == [False, True]
  assert record['equal'] == [True]
  # Each rerun cleans up what a killed save left.
  assert not fault_soak.partial_saves(tmp_path / 'round_0')
  assert 'Kills: 2, in 1 rounds' in fault_soak.markdown(record, ['soak'])
