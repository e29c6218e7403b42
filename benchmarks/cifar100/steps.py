"""The compiled training and evaluation steps of the CIFAR-100 models.

Small functions in the style of Flax's examples: `train_step` and `eval_step`
(jitted), `train_epoch` and `evaluate`. Every random choice is a function of
the seed, the epoch and the step (`epoch_order`, and the key folded in per
step), so the same seed gives every arm the same data order, augmentation and
dropout masks, and a resumed run continues exactly where it stopped.
"""

import functools
import math
import time

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks.cifar100 import input_pipeline
from benchmarks.harness import distributed
from benchmarks.harness import experiment


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


def step_on_batch(model, optimizer, images, labels, indices, key):
  """One optimizer step on the augmented examples `indices`; returns the loss.

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


# One compiled call per step: the per-step path, kept as the reference of the
# compiled epochs and for timing them against it.
train_step = nnx.jit(step_on_batch)


@functools.partial(jax.jit, static_argnums=0, donate_argnums=1)
def scanned_steps(
  graphdef, state, images, labels, order, epoch_key, first_step
):
  """The steps of `order` (one batch of indices a row) in one compiled scan.

  `state` is `nnx.split((model, optimizer))`'s, split once per epoch and
  donated; step i's key is `fold_in(epoch_key, first_step + i)`, as the
  per-step path derives it. Returns the new state and the steps' losses.
  """

  def body(state, batch):
    indices, step = batch
    model, optimizer = nnx.merge(graphdef, state)
    key = jax.random.fold_in(epoch_key, step)
    loss = step_on_batch(model, optimizer, images, labels, indices, key)
    return nnx.state((model, optimizer)), loss

  steps = first_step + jnp.arange(order.shape[0])
  if order.shape[0] == 1:
    # No loop for one step: XLA's CPU backend runs a while loop's body several
    # times slower than the same ops outside one, even for one iteration
    # (benchmarks/results/models_speed.md).
    state, loss = body(state, (order[0], steps[0]))
    return state, loss[None]
  return jax.lax.scan(body, state, (order, steps))


def eval_sums(model, images, labels, indices, mask):
  """Summed loss and top-1/top-5 correct counts over the masked examples."""
  logits = model(input_pipeline.normalize(images[indices]))
  labels = labels[indices]
  hits = jax.lax.top_k(logits, 5)[1] == labels[:, None]
  return {
    'loss': jnp.sum(cross_entropy(logits, labels) * mask),
    'top1': jnp.sum(hits[:, 0] * mask),
    'top5': jnp.sum(hits.any(axis=-1) * mask),
  }


eval_step = nnx.jit(eval_sums)


@functools.partial(jax.jit, static_argnums=0)
def evaluate_batches(graphdef, state, images, labels, indices, masks):
  """`eval_sums` added up over every batch (a row of `indices`), compiled."""

  def body(totals, batch):
    model = nnx.merge(graphdef, state)
    sums = eval_sums(model, images, labels, *batch)
    return jax.tree.map(jnp.add, totals, sums), None

  zeros = {'loss': 0.0, 'top1': 0.0, 'top5': 0.0}
  zeros = jax.tree.map(lambda x: jnp.zeros([], jnp.float32), zeros)
  return jax.lax.scan(body, zeros, (indices, masks))[0]


@functools.partial(jax.jit, static_argnums=0)
def batch_norm_statistics(graphdef, state, images, order, key):
  """Every BatchNorm's batch mean and variance averaged over `order`'s batches.

  The model of (`graphdef`, `state`) must have its BatchNorms in training
  mode with momentum 0, so that after one batch their running statistics are
  that batch's (`recalibrated_batch_norm`). The average of the batches' means
  and variances is what SWA's `update_bn` computes (a cumulative average).
  Returns the averaged `nnx.BatchStat` state.
  """

  def body(carry, batch):
    # The model's state is carried (not closed over): nnx merges fresh
    # variables only from the loop's own values.
    state, sums = carry
    indices, step = batch
    model = nnx.merge(graphdef, state)
    step_key = jax.random.fold_in(key, step)
    model(augment(step_key, input_pipeline.normalize(images[indices])))
    stats = nnx.state(model, nnx.BatchStat)
    return (nnx.state(model), jax.tree.map(jnp.add, sums, stats)), None

  zeros = jax.tree.map(jnp.zeros_like, state.filter(nnx.BatchStat))
  steps = jnp.arange(order.shape[0])
  sums = jax.lax.scan(body, (state, zeros), (order, steps))[0][1]
  return jax.tree.map(lambda total: total / order.shape[0], sums)


def recalibrated_batch_norm(model, train, order, key, sharding):
  """A copy of `model` whose BatchNorm statistics are recomputed at its weights.

  The running statistics a run keeps were gathered over the last ~10 steps'
  weights (momentum 0.9); right after a PLP jump they describe the weights
  before it. Here they are the average over the training batches `order`
  (augmented with keys folded from `key`: the same for every arm), taken at
  the current weights only. Dropout stays off. The run's own model is left as
  it was.
  """
  copy = nnx.clone(model)
  copy.eval()
  norms = [m for _, m in copy.iter_modules() if isinstance(m, nnx.BatchNorm)]
  momenta = [norm.momentum for norm in norms]
  for norm in norms:
    norm.use_running_average, norm.momentum = False, 0.0
  graphdef, state = nnx.split(copy)
  rows = batches_sharding(sharding)
  images, _ = train  # the statistics need the images only
  stats = batch_norm_statistics(
    graphdef, state, images, distributed.global_array(order, rows), key
  )
  nnx.update(copy, stats)
  for norm, momentum in zip(norms, momenta, strict=True):
    norm.use_running_average, norm.momentum = True, momentum
  return copy


def epoch_order(seed, epoch, num_examples, batch_size):
  """The shuffled batches of an epoch (the last partial batch is dropped)."""
  rng = np.random.default_rng([seed, epoch])
  steps = num_examples // batch_size
  return rng.permutation(num_examples)[: steps * batch_size].reshape(
    steps, batch_size
  )


def default_steps_per_call():
  """On accelerators a whole epoch a call (0); on a CPU one step a call.

  XLA's CPU backend runs steps inside a loop several times slower. (Asked
  when training, not at import: asking starts JAX's backend, which a
  multi-process run must join first.)
  """
  return 1 if jax.default_backend() == 'cpu' else 0


def batches_sharding(sharding):
  """`sharding` of one batch, for a stack of batches (a row per batch)."""
  return jax.sharding.NamedSharding(
    sharding.mesh, jax.sharding.PartitionSpec(None, *sharding.spec)
  )


def chunks(steps, probe, steps_per_call):
  """(first step, number of steps) of the compiled calls of an epoch.

  The probe's windows run one step a call, so that it sees each step's
  parameters; the steps between them run at most `steps_per_call` (0: all)
  a call.
  """
  plan, step = [], 0
  limit = steps_per_call or steps
  while step < steps:
    if probe.sees(step):
      plan.append((step, 1))
      step += 1
      continue
    end = step + 1
    while end < steps and not probe.sees(end) and end - step < limit:
      end += 1
    plan.append((step, end - step))
    step = end
  return plan


def train_epoch(
  model, optimizer, train, order, key, sharding, progress, probe,
  steps_per_call=None,
):  # fmt: skip
  """Trains on the batches of `order`; returns (mean loss, images/s).

  The steps run in compiled calls of `steps_per_call` steps (`chunks`;
  default `default_steps_per_call()`), with the model and optimizer split once
  and their state donated from call to call.
  `probe` (a `trajectory.Probe`) sees the parameters after its steps.
  """
  model.train()
  graphdef, state = nnx.split((model, optimizer))
  rows = batches_sharding(sharding)
  if steps_per_call is None:
    steps_per_call = default_steps_per_call()
  losses = []
  start = time.perf_counter()
  bar = experiment.progress_bar(len(order), progress)
  for first, length in chunks(len(order), probe, steps_per_call):
    batches = distributed.global_array(order[first : first + length], rows)
    state, chunk_losses = scanned_steps(
      graphdef, state, *train, batches, key, first
    )
    losses.append(chunk_losses)
    if probe.sees(first):  # a copy: the next call donates these buffers
      params = nnx.to_pure_dict(state[0].filter(nnx.Param))
      probe.after_step(first, jax.tree.map(jnp.copy, params))
    if progress:
      rate = (first + length) * order.shape[1] / (time.perf_counter() - start)
      bar.set_postfix(
        loss=f'{float(chunk_losses[-1]):.3f}', img_s=f'{rate:.0f}'
      )
      bar.update(length)
  nnx.update((model, optimizer), state)
  mean_loss = experiment.fetched(jnp.concatenate(losses).mean())
  bar.close()
  return mean_loss, order.size / (time.perf_counter() - start)


def train_epoch_stepwise(
  model, optimizer, train, order, key, sharding, progress, probe
):  # fmt: skip
  """`train_epoch` with one compiled call per step: the reference path."""
  del progress  # the reference path has no progress bar
  model.train()
  losses = []
  start = time.perf_counter()
  for step, indices in enumerate(order):
    indices = distributed.global_array(indices, sharding)
    loss = train_step(
      model, optimizer, *train, indices, jax.random.fold_in(key, step)
    )
    losses.append(loss)
    if probe.sees(step):
      probe.after_step(step, nnx.to_pure_dict(nnx.state(model, nnx.Param)))
  mean_loss = experiment.fetched(jnp.stack(losses).mean())
  return mean_loss, order.size / (time.perf_counter() - start)


def evaluation_batches(num_examples, batch_size):
  """Indices and masks of the padded batches that cover a split."""
  steps = math.ceil(num_examples / batch_size)
  padded = np.arange(steps * batch_size)
  mask = (padded < num_examples).astype(np.float32)
  indices = np.where(padded < num_examples, padded, 0)
  return indices.reshape(steps, -1), mask.reshape(steps, -1)


def evaluate(model, split, batch_size, sharding):
  """Loss and top-1/top-5 error over a whole split (images, labels)."""
  model.eval()
  num_examples = len(split[1])
  indices, masks = evaluation_batches(num_examples, batch_size)
  rows = batches_sharding(sharding)
  graphdef, state = nnx.split(model)
  sums = evaluate_batches(
    graphdef,
    state,
    *split,
    distributed.global_array(indices, rows),
    distributed.global_array(masks, rows),
  )
  loss = experiment.fetched(sums['loss'])  # the others are computed with it
  return {
    'loss': loss / num_examples,
    'top1_error': 1 - float(sums['top1']) / num_examples,
    'top5_error': 1 - float(sums['top5']) / num_examples,
  }
