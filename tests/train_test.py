"""Tests for the CIFAR-100 training and evaluation steps."""

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks.cifar100 import models
from benchmarks.cifar100 import train


def test_augment_crops_and_flips_within_the_padding():
  images = jnp.arange(2 * 8 * 8 * 1, dtype=jnp.float32).reshape(2, 8, 8, 1)
  out = train.augment(jax.random.key(0), images)
  assert out.shape == images.shape
  unpadded = train.augment(jax.random.key(3), images, padding=0)
  for image, original in zip(unpadded, images, strict=True):
    assert np.array_equal(image, original) or np.array_equal(
      image, original[:, ::-1]
    )


def test_train_step_lowers_the_loss_and_eval_counts_hits():
  model = models.ResNet18(num_classes=10, width=0.125, rngs=nnx.Rngs(0))
  tx = optax.sgd(0.05, momentum=0.9)
  optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
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
