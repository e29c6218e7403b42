"""A short fault soak: SIGKILLs at a random moment and during a save."""

from benchmarks import fault_soak
from benchmarks.cifar100 import report

# The random kill comes within this many seconds of a fresh run's start: in
# its start-up or first epoch on this machine.
START_UP_SECONDS = 30


def test_killed_runs_resume_to_the_uninterrupted_result(
  uninterrupted, tmp_path
):
  _, want = uninterrupted
  record = fault_soak.soak(
    str(tmp_path), kills=2, seed=0, launcher='tests.mock_main',
    reference=(report.reproducible(want), START_UP_SECONDS),
  )  # fmt: skip
  assert [k.moment == 'during a save' for k in record['kills']] == [False, True]
  assert record['equal'] == [True]
  # Each rerun cleans up what a killed save left.
  assert not fault_soak.partial_saves(tmp_path / 'round_0')
  assert 'Kills: 2, in 1 rounds' in fault_soak.markdown(record, ['soak'])
