"""Smoke tests of the models' speed benchmark (what it runs, not how fast)."""

import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks.cifar100 import input_pipeline
from benchmarks.cifar100 import models
from benchmarks.tools.speed import models_speed


def test_models_speed_times_steps_with_and_without_plp():
  seconds, params = models_speed.step_seconds(
    'ResNet18', 0.125, 4, 2, jnp.float32, ('sgd', 'plp')
  )
  assert len(seconds) == 2 and min(seconds) > 0 and params > 0


def logits(name):
  images = input_pipeline.normalize(input_pipeline.random_split(2).images)
  model = models.create(name, width=0.0625, seed=0)
  model.eval()
  return np.asarray(model(jnp.asarray(images)))


@pytest.mark.parametrize('name,label,attribute,value', models_speed.BASELINES)
def test_each_baseline_computes_what_its_speed_up_computes(
  name, label, attribute, value, monkeypatch
):
  fast = logits(name)
  calls = []
  if callable(value):
    monkeypatch.setattr(
      models, attribute, lambda *a, **k: calls.append(1) or value(*a, **k)
    )
  else:
    monkeypatch.setattr(models, attribute, value)
  slow = logits(name)
  np.testing.assert_allclose(slow, fast, rtol=1e-4, atol=1e-5)
  assert calls or not callable(value), f'{label}: never called'
