"""The lanes' speed check pins each lane to its own core, as `taskset` does."""

import os
import sys
import warnings

import jax.numpy as jnp

from benchmarks.tools.speed import lanes_speed
from benchmarks.tools.speed import models_speed

# A lane that reports, as its rate, how many cores it may run on.
CORES_SEEN = (
  'import json, os; '
  'print(json.dumps({"images_per_s": len(os.sched_getaffinity(0))}))'
)


def test_pinned_lanes_each_see_one_core_and_unpinned_ones_all():
  cores = len(os.sched_getaffinity(0))
  jnp.zeros(1).block_until_ready()  # JAX's threads run, its fork hook is set
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    rates = lanes_speed.compare([sys.executable, '-c', CORES_SEEN], 2, rounds=1)
  assert rates == {'unpinned': [cores, cores], 'pinned': [1, 1]}
  # A lane starts without forking this process, which runs JAX's threads.
  assert not [w for w in caught if 'fork' in str(w.message)]


def test_a_lane_times_epochs_of_one_step_a_call():
  seconds = models_speed.epoch_path_seconds(
    'ResNet18', 1 / 16, 4, 2, jnp.float32, rounds=1, paths=('step a call',)
  )
  assert len(seconds) == 1 and seconds[0] > 0
