"""The import-time check times both imports in fresh interpreters."""

from benchmarks.tools.speed import import_time


def test_both_imports_are_timed_in_fresh_interpreters():
  found = import_time.medians(1)
  assert list(found) == list(import_time.IMPORTS)
  assert all(seconds > 0 for seconds in found.values())
