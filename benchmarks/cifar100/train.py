"""Training and evaluation steps and epochs for the CIFAR-100 models.

Small functions in the style of Flax's examples: `train_step` and `eval_step`
(jitted), `train_epoch` and `evaluate`. Every random choice is a function of
the seed, the epoch and the step (`epoch_order`, and the key folded in per
step), so the same seed gives every arm the same data order, augmentation and
dropout masks, and a resumed run continues exactly where it stopped.
"""

import math
import time

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import tqdm

from benchmarks.cifar100 import input_pipeline


def augment(key, images, padding=4):
  """Random crops of the zero-padded images and random horizontal flips."""
  batch, height, width, _ = images.shape
  crop_key, flip_key = jax.random.split(key)
  padded = jnp.pad(
    images, ((0, 0), (padding, padding), (padding, padding), (0, 0))
  )
  offsets = jax.random.randint(crop_key, (batch, 2), 0, 2 * padding + 1)

  def crop(image, offset):
    return jax.lax.dynamic_slice(
      image, (offset[0], offset[1], 0), (height, width, image.shape[-1])
    )

  crops = jax.vmap(crop)(padded, offsets)
  flips = jax.random.bernoulli(flip_key, 0.5, (batch, 1, 1, 1))
  return jnp.where(flips, crops[:, :, ::-1, :], crops)


def cross_entropy(logits, labels):
  return optax.softmax_cross_entropy_with_integer_labels(
    logits.astype(jnp.float32), labels
  )


@nnx.jit
def train_step(model, optimizer, images, labels, indices, key):
  """One SGD step on the augmented examples `indices`; returns the loss.

  `images` and `labels` are a whole split on the devices; `indices` is
  sharded along the batch, so the gathered batch is too.
  """
  augment_key, dropout_key = jax.random.split(key)
  nnx.reseed(model, dropout=dropout_key)
  batch = augment(augment_key, input_pipeline.normalize(images[indices]))

  def loss_fn(model):
    return cross_entropy(model(batch), labels[indices]).mean()

  loss, grads = nnx.value_and_grad(loss_fn)(model)
  optimizer.update(model, grads)
  return loss


@nnx.jit
def eval_step(model, images, labels, indices, mask):
  """Summed loss and top-1/top-5 correct counts over the masked examples."""
  logits = model(input_pipeline.normalize(images[indices]))
  labels = labels[indices]
  hits = jax.lax.top_k(logits, 5)[1] == labels[:, None]
  return {
    'loss': jnp.sum(cross_entropy(logits, labels) * mask),
    'top1': jnp.sum(hits[:, 0] * mask),
    'top5': jnp.sum(hits.any(axis=-1) * mask),
  }


def epoch_order(seed, epoch, num_examples, batch_size):
  """The shuffled batches of an epoch (the last partial batch is dropped)."""
  rng = np.random.default_rng([seed, epoch])
  steps = num_examples // batch_size
  return rng.permutation(num_examples)[: steps * batch_size].reshape(
    steps, batch_size
  )


def train_epoch(model, optimizer, train, order, key, sharding, progress, probe):
  """Trains on the batches of `order`; returns (mean loss, images/s).

  `probe` (a `trajectory.Probe`) sees the model after every step.
  """
  model.train()
  total = jnp.zeros([])
  start = time.perf_counter()
  bar = tqdm.tqdm(total=len(order), disable=not progress, leave=False)
  for step, indices in enumerate(order):
    indices = jax.device_put(indices, sharding)
    loss = train_step(
      model, optimizer, *train, indices, jax.random.fold_in(key, step)
    )
    total = total + loss
    probe.after_step(step, model)
    if progress and (step % 10 == 9 or step == len(order) - 1):
      loss = float(loss)  # waits for the step, so that the rate is true
      rate = (step + 1) * order.shape[1] / (time.perf_counter() - start)
      bar.set_postfix(loss=f'{loss:.3f}', img_s=f'{rate:.0f}')
      bar.update(step + 1 - bar.n)
  mean_loss = float(total) / len(order)
  bar.close()
  return mean_loss, order.size / (time.perf_counter() - start)


def evaluate(model, split, batch_size, sharding):
  """Loss and top-1/top-5 error over a whole split (images, labels)."""
  model.eval()
  num_examples = len(split[1])
  steps = math.ceil(num_examples / batch_size)
  padded = np.arange(steps * batch_size)
  mask = (padded < num_examples).astype(np.float32)
  indices = np.where(padded < num_examples, padded, 0)
  sums = {'loss': 0.0, 'top1': 0.0, 'top5': 0.0}
  for batch in range(steps):
    window = slice(batch * batch_size, (batch + 1) * batch_size)
    out = eval_step(
      model,
      *split,
      jax.device_put(indices[window], sharding),
      jax.device_put(mask[window], sharding),
    )
    sums = {k: sums[k] + out[k] for k in sums}
  return {
    'loss': float(sums['loss']) / num_examples,
    'top1_error': 1 - float(sums['top1']) / num_examples,
    'top5_error': 1 - float(sums['top5']) / num_examples,
  }
