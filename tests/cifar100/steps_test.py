"""Tests for the CIFAR-100 training and evaluation steps."""

import functools
import io

import chex
from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from benchmarks.cifar100 import input_pipeline
from benchmarks.cifar100 import models
from benchmarks.cifar100 import optimizers
from benchmarks.cifar100 import steps
from benchmarks.cifar100 import trajectory
from benchmarks.cifar100.configs import reference_recipe
from benchmarks.harness import distributed
from benchmarks.harness import experiment


def test_augment_crops_and_flips_within_the_padding():
  images = jnp.arange(2 * 8 * 8 * 1, dtype=jnp.float32).reshape(2, 8, 8, 1)
  out = steps.augment(jax.random.key(0), images)
  assert out.shape == images.shape
  unpadded = steps.augment(jax.random.key(3), images, padding=0)
  for image, original in zip(unpadded, images, strict=True):
    assert np.array_equal(image, original) or np.array_equal(
      image, original[:, ::-1]
    )


def test_train_step_lowers_the_loss_and_eval_counts_hits():
  model = models.ResNet18(num_classes=10, width=0.125, rngs=nnx.Rngs(0))
  tx = optax.sgd(0.05, momentum=0.9)
  optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
  random = input_pipeline.random_split(8, num_classes=4)
  images, labels, indices = (
    jnp.asarray(random.images),
    jnp.asarray(random.labels),
    jnp.arange(8),
  )
  model.train()
  losses = [
    float(
      steps.train_step(
        model, optimizer, images, labels, indices, jax.random.key(i)
      )
    )
    for i in range(8)
  ]
  assert losses[-1] < losses[0]
  model.eval()
  mask = (indices < 6).astype(jnp.float32)  # the last two are padding
  metrics = steps.eval_step(model, images, labels, indices, mask)
  assert 0 <= int(metrics['top1']) <= int(metrics['top5']) == 6
  assert float(metrics['loss']) > 0


def test_chunks_cover_the_epoch_with_the_probed_steps_alone():
  probe = trajectory.Probe(5, steps_in_epoch=12, first_global_step=0)
  plan = steps.chunks(12, probe, steps_per_call=0)
  assert plan == [(0, 1), (1, 1), (2, 1), (3, 1), (4, 1)] + [
    (5, 1),
    (6, 1),
    (7, 1),
    (8, 1),
    (9, 3),
  ]
  unprobed = trajectory.Probe(0, steps_in_epoch=12, first_global_step=0)
  assert steps.chunks(12, unprobed, 0) == [(0, 12)]
  assert steps.chunks(12, unprobed, 5) == [(0, 5), (5, 5), (10, 2)]


def train_one_epoch(epoch_fn, arm):
  """A tiny ResNet18's 6-step epoch on noise: loss, metrics, state, probes."""
  random = input_pipeline.random_split(24, num_classes=5)
  split = (jnp.asarray(random.images), jnp.asarray(random.labels))
  order = steps.epoch_order(0, 1, 24, 4)
  mesh = distributed.data_mesh(jax.devices()[:2])
  sharding = distributed.batch_sharding(mesh)
  # A small learning rate: at 0.1 this tiny network on noise is chaotic, and
  # the paths' float rounding (fused differently) grows to percents in 6 steps.
  config = reference_recipe.get_config()
  config.learning_rate = 0.01
  # The two-pass variance: the one-pass one's rounding depends on how XLA
  # fuses the step, which differs between the paths compared here; on some
  # CPUs the plp arm then drifts 3e-5 apart in 6 steps (see models).
  model = models.create(
    'ResNet18', width=0.0625, seed=1, batch_norm_fast_variance=False
  )
  tx = optimizers.arm_optimizer(arm, config, 6)
  optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
  probe = trajectory.Probe(4, steps_in_epoch=6, first_global_step=0)
  loss, _ = epoch_fn(
    model, optimizer, split, order, jax.random.key(3), sharding, False, probe
  )
  metrics = steps.evaluate(model, split, 10, sharding)
  state = nnx.to_pure_dict(nnx.state((model, optimizer)))
  return loss, metrics, state, probe.records


@pytest.mark.parametrize('arm', ['sgd', 'plp'])
def test_compiled_epochs_equal_the_per_step_path(arm):
  want = train_one_epoch(steps.train_epoch_stepwise, arm)
  for steps_per_call in (0, 1):  # one scan (the accelerators'), and CPU's
    got = train_one_epoch(
      functools.partial(steps.train_epoch, steps_per_call=steps_per_call), arm
    )
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
    for key in ('loss', 'top1_error', 'top5_error'):
      np.testing.assert_allclose(got[1][key], want[1][key], rtol=1e-5)
    chex.assert_trees_all_close(got[2], want[2], rtol=1e-4, atol=1e-5)
    assert len(got[3]) == len(want[3]) == 1
    chex.assert_trees_all_close(
      got[3][0]['relative_error'], want[3][0]['relative_error'], rtol=1e-3
    )


def test_progress_bars_are_drawn_on_a_terminal_only():
  assert experiment.progress_bar(5, progress=True, file=io.StringIO()).disable
  assert experiment.progress_bar(5, progress=False).disable


def batch_norm_test_setup():
  """A trained-a-little ResNet18, a random split on one device, 3 batches."""
  model = models.ResNet18(num_classes=10, width=0.125, rngs=nnx.Rngs(0))
  optimizer = nnx.Optimizer(model, optax.sgd(0.05), wrt=nnx.Param)
  random = input_pipeline.random_split(24, num_classes=10)
  split = (jnp.asarray(random.images), jnp.asarray(random.labels))
  model.train()
  for step in range(2):  # running statistics away from their initial values
    steps.train_step(
      model, optimizer, *split, jnp.arange(8), jax.random.key(step)
    )
  mesh = distributed.data_mesh(jax.devices()[:1])
  order = steps.epoch_order(0, 0, 24, 8)
  return model, split, order, distributed.batch_sharding(mesh)


def batch_stats(model):
  return jax.tree.map(
    np.asarray, nnx.to_pure_dict(nnx.state(model, nnx.BatchStat))
  )


def test_recalibrated_batch_norm_averages_each_batch_statistics():
  model, split, order, sharding = batch_norm_test_setup()
  before = batch_stats(model)
  key = jax.random.key(7)
  got = steps.recalibrated_batch_norm(model, split, order, key, sharding)
  # The reference: a plain loop, one eager batch at a time, each batch's
  # statistics read off a copy in training mode whose momentum is 0.
  per_batch = []
  for step, indices in enumerate(order):
    copy = nnx.clone(model)
    copy.train()
    for _, module in copy.iter_modules():
      if isinstance(module, nnx.BatchNorm):
        module.momentum = 0.0
    images = input_pipeline.normalize(split[0][indices])
    copy(steps.augment(jax.random.fold_in(key, step), images))
    per_batch.append(batch_stats(copy))
  want = jax.tree.map(lambda *s: np.mean(s, axis=0), *per_batch)
  chex.assert_trees_all_close(batch_stats(got), want, rtol=1e-5, atol=1e-6)
  # The run's own model and its modes are untouched.
  chex.assert_trees_all_equal(batch_stats(model), before)
  norms = [m for _, m in got.iter_modules() if isinstance(m, nnx.BatchNorm)]
  assert all(n.use_running_average and n.momentum == 0.9 for n in norms)


def test_one_recalibration_batch_makes_eval_mode_equal_training_mode():
  # Hand-derived: with one batch the stored statistics are that batch's, so
  # the recalibrated model in eval mode normalizes it as training mode does.
  model, split, order, sharding = batch_norm_test_setup()
  key = jax.random.key(3)
  got = steps.recalibrated_batch_norm(model, split, order[:1], key, sharding)
  batch = steps.augment(
    jax.random.fold_in(key, 0), input_pipeline.normalize(split[0][order[0]])
  )
  in_training = nnx.clone(model)
  in_training.train()
  np.testing.assert_allclose(
    got(batch), in_training(batch), rtol=1e-4, atol=1e-4
  )
  model.eval()
  assert not np.allclose(model(batch), in_training(batch), atol=1e-2)
