"""Test set-up shared by every test: four CPU devices for the sharding tests,
XLA's quicker compiling, JAX's persistent compilation cache and how many
workers `pytest -n auto` starts."""

import os

import pytest

# Must be set before JAX is imported anywhere in the test session.
# The tests train tiny models for a few steps, so compiling dominates their
# time: without LLVM's optimisations XLA compiles them in about half the time
# (tests.conftest.tiny_run, cold cache, one core: 184 s -> 88 s; the whole
# suite, cold: 20.1 -> 15.7 min). Numerics stay IEEE (no fast-math either way);
# the benchmarks themselves compile as usual.
_TEST_FLAGS = (
  '--xla_force_host_platform_device_count=4',
  '--xla_backend_optimization_level=0',
)
os.environ['XLA_FLAGS'] = ' '.join(
  (os.environ.get('XLA_FLAGS', ''), *_TEST_FLAGS)
)

# Many tests train the same tiny models, each run through fresh jitted
# closures, which JAX's in-memory cache cannot match; its cache on disk matches
# programs by their compiled text, across xdist's workers and the processes
# tests start too (they inherit the environment). Kept in the git-ignored
# .jax_cache/ between sessions; a setting the caller made is kept.
_CACHE = {
  'JAX_COMPILATION_CACHE_DIR': os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '.jax_cache'
  ),
  'JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS': '0',
  'JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES': '0',
}
for _name, _value in _CACHE.items():
  os.environ.setdefault(_name, _value)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
  """`-n auto`: two workers more than the cores this process may use.

  Some tests wait on other things than a core (pip downloading into fresh
  environments, a sleep past gloo's 30 s join timeout, subprocesses starting
  up, polling a lock); the spare workers train or compile meanwhile.
  """
  del config  # the hook's signature
  usable = getattr(os, 'sched_getaffinity', None)
  cores = len(usable(0)) if usable else os.cpu_count() or 1
  return cores + 2


# The test files that take longest (`make test` with --durations=0 from a
# cold compilation cache, as CI starts, summed per file), slowest first.
# xdist's --dist loadfile with --no-loadscope-reorder hands out whole files in
# the order collected, each to the next worker free: starting with these, the
# workers end nearly together, instead of one finishing a long file alone
# while the others wait. A file missing here only runs in its usual place.
SLOWEST_FILES = (
  'tests/harness/workdir_test.py',
  'tests/harness/experiment_test.py',
  'tests/harness/distributed_test.py',
  'tests/harness/engine_test.py',
  'tests/project/colab_test.py',
  'tests/harness/studies_test.py',
  'tests/harness/interruptions_test.py',
  'tests/cifar100/steps_test.py',
  'tests/tools/device_check_test.py',
  'tests/shakespeare/train_test.py',
  'tests/cifar100/models_test.py',
  'tests/tools/paper_scale_test.py',
  'tests/project/notebooks_test.py',
  'tests/library/contrib_common_test.py',
  'tests/tools/fault_soak_test.py',
  'tests/tools/models_speed_test.py',
  'tests/project/package_test.py',
  'tests/library/plp_test.py',
  'tests/tools/data_arrays_test.py',
)


def pytest_collection_modifyitems(items):
  """Runs SLOWEST_FILES first, each file's tests in their own order."""
  rank = {path: i for i, path in enumerate(SLOWEST_FILES)}
  items.sort(key=lambda item: rank.get(item.nodeid.split('::')[0], len(rank)))
