"""Runs every arm and seed of a config: data, checkpoints, resume and results.

`train_and_evaluate` loads the splits once (holding out a seeded validation
split if the config asks for one), then trains each arm for each seed,
evaluates after every epoch, checkpoints every epoch with orbax (rerunning
resumes from the latest checkpoint, to the same numbers) and writes
``results.json`` and the plots (see `report`).
"""

import functools
import json
import logging as std_logging
import math
import os
import time
from typing import NamedTuple

from absl import logging
from flax import nnx
import jax
import numpy as np
import orbax.checkpoint as ocp

from benchmarks.cifar100 import distributed
from benchmarks.cifar100 import input_pipeline
from benchmarks.cifar100 import models
from benchmarks.cifar100 import optimizers
from benchmarks.cifar100 import report
from benchmarks.cifar100 import train
from benchmarks.cifar100 import trajectory
import optax_plp

# Config fields a run may change when it resumes a checkpoint: they choose
# which runs are made and how they are shown, not what any run computes.
FIELDS_FREE_ON_RESUME = (
  'arms',
  'seeds',
  'download',
  'num_devices',
  'progress',
  'trajectory_probes',
  'on_divergence',
)
MAX_VALIDATION_FRACTION = 0.5
# 'stop': a non-finite loss raises `NonFiniteLossError`; 'record': the run
# ends with a record {'epoch': N, 'diverged': True} and the next one starts.
ON_DIVERGENCE = ('stop', 'record')


class ConfigError(ValueError):
  """A config value is invalid; the message names the field."""


class CheckpointError(RuntimeError):
  """A checkpoint cannot be restored; older ones are left in place."""


class NonFiniteLossError(FloatingPointError):
  """Training diverged; the message names the arm, seed and epoch."""


def is_harness_log_or_warning(record):
  own = os.path.dirname(os.path.abspath(__file__))
  return record.levelno >= std_logging.WARNING or record.pathname.startswith(
    own
  )


def log_progress():
  """Logs the harness's lines at INFO, and only warnings from libraries.

  Orbax and TFDS log every checkpoint step and read at INFO, which would drown
  the one line per epoch that the harness logs. Verbosity is global, so the
  filter sits on the handlers that print.
  """
  logging.set_verbosity(logging.INFO)
  logging.use_absl_handler()
  handlers = list(std_logging.getLogger().handlers)
  # absl's handler passes records to its inner handler, past its own filters.
  handlers += [getattr(h, 'python_handler', h) for h in handlers]
  for handler in handlers:
    if is_harness_log_or_warning not in handler.filters:
      handler.addFilter(is_harness_log_or_warning)


def fail(config, field, allowed):
  value = functools.reduce(getattr, field.split('.'), config)
  raise ConfigError(f'config.{field} is {value!r}; allowed: {allowed}.')


def validate_config(config):
  """Raises `ConfigError` for a bad field, before anything is trained."""
  check = functools.partial(fail, config)
  if config.model not in models.MODELS:
    check('model', sorted(models.MODELS))
  arms = config.arms
  if not arms or any(arm not in optimizers.ARMS for arm in arms):
    check('arms', f'a non-empty list of {sorted(optimizers.ARMS)}')
  if len(set(arms)) != len(arms):
    check('arms', 'names without repeats')
  if not config.seeds or len(set(config.seeds)) != len(config.seeds):
    check('seeds', 'a non-empty list of distinct ints')
  for field in ('epochs', 'batch_size', 'eval_batch_size'):
    if not isinstance(config[field], int) or config[field] < 1:
      check(field, 'an int >= 1')
  probes = config.trajectory_probes
  if not isinstance(probes, int) or probes < 0:
    check('trajectory_probes', 'an int >= 0')
  if not 0 <= config.validation_fraction <= MAX_VALIDATION_FRACTION:
    check('validation_fraction', f'a number in [0, {MAX_VALIDATION_FRACTION}]')
  if config.on_divergence not in ON_DIVERGENCE:
    check('on_divergence', list(ON_DIVERGENCE))
  if config.compute_dtype not in ('float32', 'bfloat16'):
    check('compute_dtype', ['float32', 'bfloat16'])
  if config.num_devices < 0 or config.num_devices > jax.device_count():
    check('num_devices', f'0 (all) to {jax.device_count()}')
  if config.batch_size % num_devices(config):
    check('batch_size', f'a multiple of the {num_devices(config)} devices')
  validate_optimizer_config(config, check)


def validate_optimizer_config(config, check):
  """The schedule's, the optimizers' and the prediction's fields."""
  for field in ('width', 'learning_rate', 'adamw_learning_rate'):
    if not config[field] > 0:
      check(field, 'a number > 0')
  if config.lr_schedule not in optimizers.LR_SCHEDULES:
    check('lr_schedule', list(optimizers.LR_SCHEDULES))
  if not 0 <= config.warmup_epochs < config.epochs:
    check('warmup_epochs', f'a number in [0, epochs={config.epochs})')
  milestones = list(config.lr_milestones)
  if milestones != sorted(milestones) or any(not 0 < m < 1 for m in milestones):
    check('lr_milestones', 'increasing fractions of the epochs in (0, 1)')
  cyclic = config.lr_schedule == 'cyclic'
  if cyclic and not config.max_learning_rate >= config.learning_rate:
    check('max_learning_rate', 'a number >= config.learning_rate')
  if not isinstance(config.cycle_steps_up, int) or config.cycle_steps_up < 1:
    check('cycle_steps_up', 'an int >= 1')
  if not 0 <= config.base_momentum <= config.momentum < 1:
    check('base_momentum', 'a number in [0, config.momentum]')
  if config.prediction.start_epoch < 0:
    check('prediction.start_epoch', 'a number >= 0')
  try:
    optax_plp.plp(config.prediction.step_size, every=config.prediction.every)
  except ValueError as error:
    raise ConfigError(f'config.prediction: {error}') from error


def num_devices(config):
  return config.num_devices or jax.device_count()


class Data(NamedTuple):
  """The splits, each (images, labels) on the devices, and their sizes."""

  train: tuple
  validation: tuple | None
  test: tuple
  sizes: dict
  batch_sharding: jax.sharding.NamedSharding  # for the indices of a batch


def load_data(config, mesh):
  """Loads the splits, holds out the validation split, puts them on devices."""
  load = functools.partial(
    input_pipeline.load_split, dataset=config.dataset, download=config.download
  )
  train_split, validation_split = input_pipeline.split_validation(
    load(config.train_split, limit=config.train_limit),
    config.validation_fraction,
    config.validation_seed,
  )
  test_split = load(config.test_split, limit=config.test_limit)
  return place_data(config, train_split, validation_split, test_split, mesh)


def place_data(config, train_split, validation_split, test_split, mesh):
  """The splits on the devices (replicated), with their sizes."""
  steps_per_epoch = len(train_split) // config.batch_size
  if steps_per_epoch == 0:
    raise ConfigError(
      f'config.batch_size is {config.batch_size}; allowed: at most the '
      f'{len(train_split)} training examples.'
    )
  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())

  def on_devices(split):
    if split is None:
      return None
    return distributed.on_devices((split.images, split.labels), replicated)

  sizes = {
    'train_examples': len(train_split),
    'validation_examples': len(validation_split or ()),
    'test_examples': len(test_split),
    'steps_per_epoch': steps_per_epoch,
  }
  return Data(
    on_devices(train_split),
    on_devices(validation_split),
    on_devices(test_split),
    sizes,
    jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('data')),
  )


def random_data(config, mesh, train_examples=50_000, test_examples=10_000):
  """Random images and labels shaped like CIFAR-100's, for timing only."""
  rng = np.random.default_rng(0)
  limit = config.train_limit or train_examples

  def split(size):
    images = rng.integers(0, 256, (size, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, input_pipeline.NUM_CLASSES, size, dtype=np.int32)
    return input_pipeline.Split(images, labels)

  return place_data(
    config, split(limit), None, split(min(limit, test_examples)), mesh
  )


def checkpointed_state(model, optimizer):
  """What a checkpoint holds (RNG streams are reseeded every step)."""
  return {
    'model': nnx.state(model, nnx.Any(nnx.Param, nnx.BatchStat)),
    'optimizer': nnx.state(optimizer),
  }


def training_fields(config):
  """The config fields that decide what a run computes, as JSON stores them."""
  fields = {
    k: v for k, v in config.to_dict().items() if k not in FIELDS_FREE_ON_RESUME
  }
  return json.loads(json.dumps(fields))


def checkpoint_manager(workdir, arm, seed):
  return ocp.CheckpointManager(
    os.path.abspath(os.path.join(workdir, 'checkpoints', arm, f'seed_{seed}')),
    # A save cut off by a kill leaves a temporary directory; it is removed
    # when the run resumes, so it never stands in the way.
    options=ocp.CheckpointManagerOptions(
      max_to_keep=2, cleanup_tmp_directories=True
    ),
  )


def restore(manager, model, optimizer, config):
  """Restores the latest checkpoint into model and optimizer; its records."""
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
        records=ocp.args.JsonRestore(),
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
  saved, wanted = restored['config'], training_fields(config)
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
  return restored['records']


def save(manager, epoch, model, optimizer, records, config):
  manager.save(
    epoch,
    args=ocp.args.Composite(
      state=ocp.args.StandardSave(checkpointed_state(model, optimizer)),
      records=ocp.args.JsonSave(records),
      config=ocp.args.JsonSave(training_fields(config)),
    ),
  )
  manager.wait_until_finished()


def evaluation_record(model, data, config):
  """Test (and validation) loss and errors, named as results.json has them."""
  evaluate = functools.partial(
    train.evaluate,
    batch_size=config.eval_batch_size,
    sharding=data.batch_sharding,
  )
  test = evaluate(model, data.test)
  record = {
    'test_loss': test['loss'],
    'top1_error': test['top1_error'],
    'top5_error': test['top5_error'],
  }
  if data.validation is not None:
    validation = evaluate(model, data.validation)
    record.update({f'val_{k}': v for k, v in validation.items()})
  return record


class Run(NamedTuple):
  """One arm and seed: what it trains and where it checkpoints."""

  arm: str
  seed: int
  model: nnx.Module
  optimizer: nnx.Optimizer
  manager: ocp.CheckpointManager


def model_and_optimizer(config, arm, seed, steps_per_epoch, mesh):
  """A run's model and optimizer, freshly initialised, on the devices."""
  model = models.create(
    config.model, width=config.width, dtype=config.compute_dtype, seed=seed
  )
  tx = optimizers.arm_optimizer(arm, config, steps_per_epoch)
  optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  state = nnx.state((model, optimizer))
  nnx.update((model, optimizer), distributed.on_devices(state, replicated))
  return model, optimizer


def start_run(config, arm, seed, steps_per_epoch, mesh, workdir):
  """A run's model and optimizer, restored if checkpointed; its records."""
  model, optimizer = model_and_optimizer(
    config, arm, seed, steps_per_epoch, mesh
  )
  # The checkpoint manager's first barrier is a collective.
  distributed.arrive_together(f'start of {arm}, seed {seed}')
  manager = checkpoint_manager(workdir, arm, seed)
  records = restore(manager, model, optimizer, config)
  return Run(arm, seed, model, optimizer, manager), records


def train_for(config, arm, seed, data, mesh, seconds):
  """Trains a run without checkpoints until `seconds` pass; its records."""
  model, optimizer = model_and_optimizer(
    config, arm, seed, data.sizes['steps_per_epoch'], mesh
  )
  run = Run(arm, seed, model, optimizer, None)
  records, start = [], time.perf_counter()
  for epoch in range(1, config.epochs + 1):
    records.append(train_epoch_record(run, epoch, data, config))
    if time.perf_counter() - start > seconds:
      break
  return records


def train_epoch_record(run, epoch, data, config):
  """Trains one epoch of `run`; returns its record of metrics."""
  start = time.perf_counter()
  steps_per_epoch = data.sizes['steps_per_epoch']
  probes = (
    0 if optimizers.ARMS[run.arm].prediction else config.trajectory_probes
  )
  probe = trajectory.Probe(
    max(steps_per_epoch // probes, trajectory.WINDOW) if probes else 0,
    steps_per_epoch,
    (epoch - 1) * steps_per_epoch,
  )
  order = train.epoch_order(
    run.seed, epoch, data.sizes['train_examples'], config.batch_size
  )
  key = jax.random.fold_in(jax.random.key(run.seed), epoch)
  train_loss, rate = train.train_epoch(
    run.model, run.optimizer, data.train, order, key, data.batch_sharding,
    config.progress, probe,
  )  # fmt: skip
  if not math.isfinite(train_loss):
    raise NonFiniteLossError(
      f'arm {run.arm!r}, seed {run.seed}: the training loss of epoch {epoch} '
      f'is {train_loss}.'
    )
  record = {
    'epoch': epoch,
    'train_loss': train_loss,
    **evaluation_record(run.model, data, config),
    'images_per_second': rate,
  }
  if probe.records:
    record['trajectory'] = probe.records
  record['wall_seconds'] = time.perf_counter() - start
  return record


def publish(workdir, config, runs, data, plots=False):
  """The results so far; process 0 writes them (and the plots) to `workdir`.

  The other processes of a multi-process run hold the same results.
  """
  results = report.collect_results(config, runs, data.sizes)
  if distributed.is_writer():
    report.write_results(workdir, results)
    if plots:
      report.plot_curves(workdir, results)
      report.plot_trajectory(workdir, results)
  return results


def train_run(run, records, data, config, workdir, runs):
  """Trains `run` from its restored `records` to the config's last epoch."""
  for epoch in range(len(records) + 1, config.epochs + 1):
    try:
      record = train_epoch_record(run, epoch, data, config)
    except NonFiniteLossError as error:
      if config.on_divergence == 'record':
        # A sweep goes on: the run ends here, marked, and is not saved, so
        # a rerun retrains this one epoch and marks it again.
        records.append({'epoch': epoch, 'diverged': True})
        logging.warning('%s Recorded as diverged; going on.', error)
        break
      publish(workdir, config, runs, data)
      raise NonFiniteLossError(
        f'{error} Finished epochs are saved in {workdir}.'
      ) from error
    records.append(record)
    logging.info(
      '%s seed %d epoch %d/%d: train loss %.3f, test top-1 error %.2f%%, '
      '%.0f images/s',
      run.arm, run.seed, epoch, config.epochs, record['train_loss'],
      100 * record['top1_error'], record['images_per_second'],
    )  # fmt: skip
    save(run.manager, epoch, run.model, run.optimizer, records, config)
    publish(workdir, config, runs, data)
  run.manager.close()


def train_and_evaluate(config, workdir):
  """Trains every arm and seed of `config`; returns the results dict."""
  validate_config(config)
  mesh = jax.sharding.Mesh(
    np.array(jax.devices()[: num_devices(config)]), ('data',)
  )
  data = load_data(config, mesh)
  steps_per_epoch = data.sizes['steps_per_epoch']
  for arm in config.arms:  # Fail on a bad optimizer before training any arm.
    optimizers.arm_optimizer(arm, config, steps_per_epoch)
  runs = {arm: {} for arm in config.arms}
  for seed in config.seeds:
    for arm in config.arms:
      run, records = start_run(
        config, arm, seed, steps_per_epoch, mesh, workdir
      )
      runs[arm][seed] = records
      train_run(run, records, data, config, workdir, runs)
  return publish(workdir, config, runs, data, plots=True)
