"""Tests for the CIFAR-100 training and evaluation steps."""

import importlib

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import models_speed
from benchmarks.cifar100 import models
from benchmarks.cifar100 import train
from benchmarks.cifar100.configs import study
import optax_plp


def test_augment_crops_and_flips_within_the_padding():
  images = jnp.arange(2 * 8 * 8 * 1, dtype=jnp.float32).reshape(2, 8, 8, 1)
  out = train.augment(jax.random.key(0), images)
  assert out.shape == images.shape
  unpadded = train.augment(jax.random.key(3), images, padding=0)
  for image, original in zip(unpadded, images, strict=True):
    assert np.array_equal(image, original) or np.array_equal(
      image, original[:, ::-1]
    )


def test_plp_arm_is_the_baseline_chained_with_plp():
  baseline = train.make_optimizer(0.1)
  with_plp = train.make_optimizer(0.1, plp={'every': 4})
  params = {'w': jnp.ones(3)}
  state = with_plp.init(params)
  assert isinstance(state[1], optax_plp.PLPState)
  updates, _ = with_plp.update(params, state, params)
  want, _ = baseline.update(params, baseline.init(params), params)
  np.testing.assert_allclose(updates['w'], want['w'])


def test_train_step_lowers_the_loss_and_eval_counts_hits():
  model = models.ResNet18(num_classes=10, width=0.125, rngs=nnx.Rngs(0))
  optimizer = nnx.Optimizer(model, train.make_optimizer(0.05), wrt=nnx.Param)
  images = jax.random.randint(jax.random.key(0), (8, 32, 32, 3), 0, 256)
  images, labels, indices = (
    images.astype(jnp.uint8),
    jnp.arange(8) % 4,
    jnp.arange(8),
  )
  model.train()
  losses = [
    float(
      train.train_step(
        model, optimizer, images, labels, indices, jax.random.key(i)
      )
    )
    for i in range(8)
  ]
  assert losses[-1] < losses[0]
  model.eval()
  mask = (indices < 6).astype(jnp.float32)  # the last two are padding
  metrics = train.eval_step(model, images, labels, indices, mask)
  assert 0 <= int(metrics['top1']) <= int(metrics['top5']) == 6
  assert float(metrics['loss']) > 0


def test_models_speed_times_steps_with_and_without_plp():
  seconds, params = models_speed.step_seconds(
    'ResNet18', 0.125, 4, 2, jnp.float32, (False, True)
  )
  assert len(seconds) == 2 and min(seconds) > 0 and params > 0


def test_models_speed_baselines_switch_one_speed_up_off():
  for name, _, attribute, value in models_speed.BASELINES:
    assert name in models.MODELS
    assert callable(value) == callable(getattr(models, attribute))


@pytest.mark.parametrize(
  'name,argument',
  [('paper', None), ('cpu', None), ('quick', None)]
  + [('study', model) for model in study.WIDTHS],
)
def test_shipped_configs_are_valid(name, argument):
  module = importlib.import_module(f'benchmarks.cifar100.configs.{name}')
  config = module.get_config(argument) if argument else module.get_config()
  train.validate_config(config)


def test_study_config_names_the_allowed_models():
  with pytest.raises(ValueError, match=r"model is 'ResNet50'; allowed: \["):
    study.get_config('ResNet50')
