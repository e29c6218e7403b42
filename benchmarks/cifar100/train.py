"""Training and evaluation of the CIFAR-100 baseline and PLP arms.

Small functions in the style of Flax's examples: `make_optimizer`,
`train_step`, `eval_step`, `train_epoch`, `evaluate`, and
`train_and_evaluate`, which runs every arm and seed of a config, checkpoints
each epoch with orbax, and writes ``results.json`` and ``curves.png``.

Every random choice is a function of the seed, the epoch and the step: the
same seed gives every arm the same initialisation, data order, augmentation
and dropout masks, and a resumed run continues exactly where it stopped.
"""

import functools
import json
import math
import os
import time

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import tqdm

from benchmarks.cifar100 import input_pipeline
from benchmarks.cifar100 import models
from benchmarks.cifar100 import report
from benchmarks.cifar100 import trajectory
import optax_plp

# Arm name -> (base optimizer, whether `plp` is chained after it).
ARMS = {
  'sgd': ('sgd', False),
  'plp': ('sgd', True),
  'adamw': ('adamw', False),
  'adamw_plp': ('adamw', True),
}
# Config fields that may differ between a run and the checkpoint it resumes
# (they do not change what is trained).
RESUMABLE_FIELDS = (
  'arms',
  'seeds',
  'download',
  'num_devices',
  'progress',
  'trajectory_probes',
)


class ConfigError(ValueError):
  """A config value is invalid; the message names the field."""


class CheckpointError(RuntimeError):
  """A checkpoint cannot be restored; older ones are left in place."""


class NonFiniteLossError(FloatingPointError):
  """Training diverged; the message names the arm, seed and epoch."""


def validate_config(config):
  """Raises `ConfigError` for a bad field, before anything is trained."""

  def fail(field, allowed):
    value = functools.reduce(getattr, field.split('.'), config)
    raise ConfigError(f'config.{field} is {value!r}; allowed: {allowed}.')

  if config.model not in models.MODELS:
    fail('model', sorted(models.MODELS))
  if not config.arms or any(arm not in ARMS for arm in config.arms):
    fail('arms', f'a non-empty list of {sorted(ARMS)}')
  if len(set(config.arms)) != len(config.arms):
    fail('arms', 'names without repeats')
  if not config.seeds or len(set(config.seeds)) != len(config.seeds):
    fail('seeds', 'a non-empty list of distinct ints')
  for field in ('epochs', 'batch_size', 'eval_batch_size'):
    if not isinstance(config[field], int) or config[field] < 1:
      fail(field, 'an int >= 1')
  if (
    not isinstance(config.trajectory_probes, int)
    or config.trajectory_probes < 0
  ):
    fail('trajectory_probes', 'an int >= 0')
  for field in ('width', 'learning_rate', 'adamw_learning_rate'):
    if not config[field] > 0:
      fail(field, 'a number > 0')
  if not 0 <= config.warmup_epochs < config.epochs:
    fail('warmup_epochs', f'a number in [0, epochs={config.epochs})')
  milestones = list(config.lr_milestones)
  if milestones != sorted(milestones) or any(not 0 < m < 1 for m in milestones):
    fail('lr_milestones', 'increasing fractions of the epochs in (0, 1)')
  if config.compute_dtype not in ('float32', 'bfloat16'):
    fail('compute_dtype', ['float32', 'bfloat16'])
  if config.num_devices < 0 or config.num_devices > jax.device_count():
    fail('num_devices', f'0 (all) to {jax.device_count()}')
  if config.batch_size % num_devices(config):
    fail('batch_size', f'a multiple of the {num_devices(config)} devices')
  if config.plp.start_epoch < 0:
    fail('plp.start_epoch', 'a number >= 0')
  try:
    optax_plp.plp(config.plp.step_size, every=config.plp.every)
  except ValueError as error:
    raise ConfigError(f'config.plp: {error}') from error


def num_devices(config):
  return config.num_devices or jax.device_count()


def learning_rate_schedule(base, steps_per_epoch, config):
  """Linear warm-up, then a step decay at fractions of the epochs."""
  warmup_steps = round(config.warmup_epochs * steps_per_epoch)
  boundaries = jnp.array(
    [round(m * config.epochs * steps_per_epoch) for m in config.lr_milestones]
  )

  def schedule(step):
    warmup = jnp.minimum(1.0, (step + 1) / max(warmup_steps, 1))
    decays = jnp.sum(step >= boundaries)
    return base * warmup * config.lr_decay**decays

  return schedule


def make_optimizer(learning_rate, *, momentum=0.9, weight_decay=5e-4, plp=None):
  """SGD with Nesterov momentum and L2 weight decay, as PyTorch's SGD does it.

  Args:
    learning_rate: a float or an optax schedule.
    momentum: Nesterov momentum.
    weight_decay: coefficient of the decay added to the gradients.
    plp: ``None`` for the baseline, else keyword arguments of `optax_plp.plp`,
      which is then chained last.

  Returns:
    An `optax.GradientTransformation`.
  """
  tx = optax.chain(
    optax.add_decayed_weights(weight_decay),
    optax.sgd(learning_rate, momentum=momentum, nesterov=True),
  )
  return with_plp(tx, plp)


def with_plp(tx, plp):
  return tx if plp is None else optax.chain(tx, optax_plp.plp(**plp))


def arm_optimizer(arm, config, steps_per_epoch):
  """The optimizer of an arm, with PLP's arguments taken from the config."""
  base, uses_plp = ARMS[arm]
  plp = None
  if uses_plp:
    plp = {
      'step_size': config.plp.step_size,
      'every': config.plp.every,
      'start_step': round(config.plp.start_epoch * steps_per_epoch),
    }
  if base == 'adamw':
    schedule = learning_rate_schedule(
      config.adamw_learning_rate, steps_per_epoch, config
    )
    return with_plp(
      optax.adamw(schedule, weight_decay=config.adamw_weight_decay), plp
    )
  schedule = learning_rate_schedule(
    config.learning_rate, steps_per_epoch, config
  )
  return make_optimizer(
    schedule,
    momentum=config.momentum,
    weight_decay=config.weight_decay,
    plp=plp,
  )


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


def evaluate(model, test, batch_size, sharding):
  """Test loss and top-1/top-5 error over a whole split."""
  model.eval()
  num_examples = len(test[1])
  steps = math.ceil(num_examples / batch_size)
  padded = np.arange(steps * batch_size)
  mask = (padded < num_examples).astype(np.float32)
  indices = np.where(padded < num_examples, padded, 0)
  sums = {'loss': 0.0, 'top1': 0.0, 'top5': 0.0}
  for batch in range(steps):
    window = slice(batch * batch_size, (batch + 1) * batch_size)
    out = eval_step(
      model,
      *test,
      jax.device_put(indices[window], sharding),
      jax.device_put(mask[window], sharding),
    )
    sums = {k: sums[k] + out[k] for k in sums}
  return {
    'test_loss': float(sums['loss']) / num_examples,
    'top1_error': 1 - float(sums['top1']) / num_examples,
    'top5_error': 1 - float(sums['top5']) / num_examples,
  }


def create_model_and_optimizer(config, arm, seed, steps_per_epoch):
  dtype = jnp.dtype(config.compute_dtype)
  model = models.MODELS[config.model](
    input_pipeline.NUM_CLASSES,
    width=config.width,
    dtype=dtype,
    rngs=nnx.Rngs(params=seed, dropout=seed),
  )
  tx = arm_optimizer(arm, config, steps_per_epoch)
  return model, nnx.Optimizer(model, tx, wrt=nnx.Param)


def checkpointed_state(model, optimizer):
  """What a checkpoint holds (RNG streams are reseeded every step)."""
  return {
    'model': nnx.state(model, nnx.Any(nnx.Param, nnx.BatchStat)),
    'optimizer': nnx.state(optimizer),
  }


def run_config(config):
  """The config fields a checkpoint must agree with, as JSON stores them."""
  fields = {
    k: v for k, v in config.to_dict().items() if k not in RESUMABLE_FIELDS
  }
  return json.loads(json.dumps(fields))


def restore(manager, model, optimizer, config):
  """Restores the latest checkpoint into model and optimizer; its history."""
  step = manager.latest_step()
  if step is None:
    return []
  where = os.path.join(manager.directory, str(step))
  abstract = jax.tree.map(
    ocp.utils.to_shape_dtype_struct, checkpointed_state(model, optimizer)
  )
  try:
    restored = manager.restore(
      step,
      args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract),
        history=ocp.args.JsonRestore(),
        config=ocp.args.JsonRestore(),
      ),
    )
  except Exception as error:  # orbax raises many types for a bad checkpoint.
    older = [s for s in manager.all_steps() if s != step]
    raise CheckpointError(
      f'Cannot restore the checkpoint {where} ({type(error).__name__}: '
      f'{error}). Older checkpoints kept: {older or "none"}. Delete {where} '
      'to resume from the previous one, or use a new --workdir.'
    ) from error
  saved, wanted = restored['config'], run_config(config)
  if saved != wanted:
    changed = sorted(
      k for k in saved.keys() | wanted.keys() if saved.get(k) != wanted.get(k)
    )
    raise CheckpointError(
      f'The checkpoint {where} was made with a different config (fields '
      f'{changed}); use a new --workdir, or the config it was made with.'
    )
  nnx.update(model, restored['state']['model'])
  nnx.update(optimizer, restored['state']['optimizer'])
  return restored['history']


def train_and_evaluate(config, workdir):
  """Trains every arm and seed of `config`; returns the results dict."""
  validate_config(config)
  train_split = input_pipeline.load_split(
    config.train_split,
    dataset=config.dataset,
    download=config.download,
    limit=config.train_limit,
  )
  test_split = input_pipeline.load_split(
    config.test_split,
    dataset=config.dataset,
    download=config.download,
    limit=config.test_limit,
  )
  mesh = jax.sharding.Mesh(
    np.array(jax.devices()[: num_devices(config)]), ('data',)
  )
  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  batch_sharding = jax.sharding.NamedSharding(
    mesh, jax.sharding.PartitionSpec('data')
  )
  train = jax.device_put((train_split.images, train_split.labels), replicated)
  test = jax.device_put((test_split.images, test_split.labels), replicated)
  steps_per_epoch = len(train_split) // config.batch_size
  if steps_per_epoch == 0:
    raise ConfigError(
      f'config.batch_size is {config.batch_size}; allowed: at most the '
      f'{len(train_split)} training examples.'
    )
  for arm in config.arms:  # Fail on a bad optimizer before training any arm.
    arm_optimizer(arm, config, steps_per_epoch)

  runs = {arm: {} for arm in config.arms}
  for seed in config.seeds:
    for arm in config.arms:
      model, optimizer = create_model_and_optimizer(
        config, arm, seed, steps_per_epoch
      )
      state = nnx.state((model, optimizer))
      nnx.update((model, optimizer), jax.device_put(state, replicated))
      manager = ocp.CheckpointManager(
        os.path.abspath(
          os.path.join(workdir, 'checkpoints', arm, f'seed_{seed}')
        ),
        options=ocp.CheckpointManagerOptions(max_to_keep=2),
      )
      history = restore(manager, model, optimizer, config)
      runs[arm][seed] = history
      key = jax.random.key(seed)
      probes = 0 if ARMS[arm][1] else config.trajectory_probes
      for epoch in range(len(history) + 1, config.epochs + 1):
        start = time.perf_counter()
        order = epoch_order(seed, epoch, len(train_split), config.batch_size)
        probe = trajectory.Probe(
          max(steps_per_epoch // probes, trajectory.WINDOW) if probes else 0,
          steps_per_epoch,
          (epoch - 1) * steps_per_epoch,
        )
        train_loss, rate = train_epoch(
          model,
          optimizer,
          train,
          order,
          jax.random.fold_in(key, epoch),
          batch_sharding,
          config.progress,
          probe,
        )
        if not math.isfinite(train_loss):
          report.write_results(workdir, config, runs)
          raise NonFiniteLossError(
            f'arm {arm!r}, seed {seed}: the training loss of epoch {epoch} '
            f'is {train_loss}. Finished epochs are saved in {workdir}.'
          )
        record = {
          'epoch': epoch,
          'train_loss': train_loss,
          **evaluate(model, test, config.eval_batch_size, batch_sharding),
          'images_per_second': rate,
        }
        if probe.records:
          record['trajectory'] = probe.records
        record['wall_seconds'] = time.perf_counter() - start
        history.append(record)
        if config.progress:
          print(
            f'{arm} seed {seed} epoch {epoch}/{config.epochs}: train loss '
            f'{train_loss:.3f}, test top-1 error {record["top1_error"]:.2%}, '
            f'{rate:.0f} images/s',
            flush=True,
          )
        manager.save(
          epoch,
          args=ocp.args.Composite(
            state=ocp.args.StandardSave(checkpointed_state(model, optimizer)),
            history=ocp.args.JsonSave(history),
            config=ocp.args.JsonSave(run_config(config)),
          ),
        )
        manager.wait_until_finished()
        report.write_results(workdir, config, runs)
      manager.close()
  results = report.write_results(workdir, config, runs)
  report.plot_curves(workdir, results)
  report.plot_trajectory(workdir, results)
  return results
