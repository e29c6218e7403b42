"""Smoke tests of the models' speed benchmark (what it runs, not how fast)."""

import jax.numpy as jnp

from benchmarks.cifar100 import models
from benchmarks.cifar100 import models_speed


def test_models_speed_times_steps_with_and_without_plp():
  seconds, params = models_speed.step_seconds(
    'ResNet18', 0.125, 4, 2, jnp.float32, ('sgd', 'plp')
  )
  assert len(seconds) == 2 and min(seconds) > 0 and params > 0


def test_models_speed_baselines_switch_one_speed_up_off():
  for name, _, attribute, value in models_speed.BASELINES:
    assert name in models.MODELS
    assert callable(value) == callable(getattr(models, attribute))
