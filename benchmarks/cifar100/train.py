"""CIFAR-100 as a task of the harness: its data, models, epochs and records.

`TASK` is what `benchmarks/harness/experiment.py` runs for a CIFAR-100
config: the splits on the devices (a seeded validation split held out where
the config asks), each arm's model and optimizer (`models`, `optimizers`),
one epoch of training (`steps`) and its record of metrics, as results.json
holds it. Every random choice is a function of the seed, the epoch and the
step, so the same seed gives every arm the same data order and augmentation.
"""

import functools
import time
from typing import NamedTuple

from flax import nnx
import jax
import jax.numpy as jnp

from benchmarks.cifar100 import error_report
from benchmarks.cifar100 import errors
from benchmarks.cifar100 import input_pipeline
from benchmarks.cifar100 import models
from benchmarks.cifar100 import optimizers
from benchmarks.cifar100 import probe_report
from benchmarks.cifar100 import steps
from benchmarks.cifar100 import trajectory
from benchmarks.harness import checkpoints
from benchmarks.harness import config_checks
from benchmarks.harness import distributed
from benchmarks.harness import experiment

# The record fields a rerun, a resumed run or another process layout must
# reproduce.
REPRODUCIBLE = (
  'epoch', 'train_loss', 'test_loss', 'top1_error', 'top5_error',
  'trajectory',
)  # fmt: skip
# Config fields added after checkpoints had been made (each with the value
# that every run made without it was made with), and those a run may change
# when it resumes: what it measures beside the training, and how it fetches
# the data.
RESUME_FIELDS = checkpoints.ResumeFields(
  added_since={'batch_norm_fast_variance': True},
  free=(
    'download',
    'trajectory_probes',
    'evaluate_one_step_later',
    'batch_norm_recalibration_batches',
  ),
)

MAX_VALIDATION_FRACTION = 0.5


def validate_config(config):
  """Raises `ConfigError` for a bad field, before anything is trained."""
  reject = functools.partial(config_checks.fail, config)
  if config.model not in models.MODELS:
    reject('model', sorted(models.MODELS))
  arms = config.arms
  if not arms or any(arm not in optimizers.ARMS for arm in arms):
    reject('arms', f'a non-empty list of {sorted(optimizers.ARMS)}')
  if len(set(arms)) != len(arms):
    reject('arms', 'names without repeats')
  config_checks.check_seeds(config.seeds, reject)
  for field in ('epochs', 'batch_size', 'eval_batch_size'):
    if not isinstance(config[field], int) or config[field] < 1:
      reject(field, 'an int >= 1')
  for field in ('train_limit', 'test_limit'):  # None: the whole split
    if config[field] is not None and (
      not isinstance(config[field], int) or config[field] < 1
    ):
      reject(field, 'None (the whole split) or an int >= 1')
  for field in ('trajectory_probes', 'batch_norm_recalibration_batches'):
    if not isinstance(config[field], int) or config[field] < 0:
      reject(field, 'an int >= 0')
  if not 0 <= config.validation_fraction <= MAX_VALIDATION_FRACTION:
    reject('validation_fraction', f'a number in [0, {MAX_VALIDATION_FRACTION}]')
  if config.on_divergence not in config_checks.ON_DIVERGENCE:
    reject('on_divergence', list(config_checks.ON_DIVERGENCE))
  if config.compute_dtype not in ('float32', 'bfloat16'):
    reject('compute_dtype', ['float32', 'bfloat16'])
  if config.num_devices < 0 or config.num_devices > jax.device_count():
    reject('num_devices', f'0 (all) to {jax.device_count()}')
  if config.batch_size % config_checks.num_devices(config):
    reject(
      'batch_size',
      f'a multiple of the {config_checks.num_devices(config)} devices',
    )
  optimizers.validate_config(config, reject)


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
  if validation_split is not None and not len(validation_split):
    raise config_checks.ConfigError(
      f'config.validation_fraction is {config.validation_fraction}, which '
      f'holds out none of the {len(train_split)} training examples; '
      f'allowed: 0 (no validation) or at least {1 / len(train_split):.3g}.'
    )
  test_split = load(config.test_split, limit=config.test_limit)
  return place_data(config, train_split, validation_split, test_split, mesh)


def place_data(config, train_split, validation_split, test_split, mesh):
  """The splits on the devices (replicated), with their sizes."""
  steps_per_epoch = len(train_split) // config.batch_size
  if steps_per_epoch == 0:
    raise config_checks.ConfigError(
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
    distributed.batch_sharding(mesh),
  )


def random_data(config, mesh, train_examples=50_000, test_examples=10_000):
  """Random images and labels shaped like CIFAR-100's, for timing only."""
  limit = config.train_limit or train_examples
  train_split = input_pipeline.random_split(limit, seed=0)
  test_split = input_pipeline.random_split(min(limit, test_examples), seed=1)
  return place_data(config, train_split, None, test_split, mesh)


def evaluation_record(model, data, config):
  """Test (and validation) loss and errors, named as results.json has them."""
  evaluate = functools.partial(
    steps.evaluate,
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


def model_and_optimizer(config, arm, seed, steps_per_epoch, mesh):
  """A run's model and optimizer, freshly initialised, on the devices."""
  model = models.create(
    config.model,
    width=config.width,
    dtype=config.compute_dtype,
    seed=seed,
    batch_norm_fast_variance=config.batch_norm_fast_variance,
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
  return experiment.resume_run(
    config, arm, seed, model, optimizer, workdir, RESUME_FIELDS
  )


def train_for(config, arm, seed, data, mesh, seconds):
  """Trains a run without checkpoints until `seconds` pass; its records."""
  model, optimizer = model_and_optimizer(
    config, arm, seed, data.sizes['steps_per_epoch'], mesh
  )
  run = experiment.Run(arm, seed, model, optimizer, None)
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
  probes = 0 if optimizers.ARMS[run.arm].rule else config.trajectory_probes
  probe = trajectory.Probe(
    max(steps_per_epoch // probes, trajectory.WINDOW) if probes else 0,
    steps_per_epoch,
    (epoch - 1) * steps_per_epoch,
  )
  order = steps.epoch_order(
    run.seed, epoch, data.sizes['train_examples'], config.batch_size
  )
  key = jax.random.fold_in(jax.random.key(run.seed), epoch)
  train_loss, rate = steps.train_epoch(
    run.model, run.optimizer, data.train, order, key, data.batch_sharding,
    config.progress, probe,
  )  # fmt: skip
  experiment.check_finite(train_loss, run, f'epoch {epoch}')
  record = {
    'epoch': epoch,
    'train_loss': train_loss,
    **evaluation_record(run.model, data, config),
    'images_per_second': rate,
  }
  if probe.records:
    record['trajectory'] = probe.records
  if config.evaluate_one_step_later:
    record['one_step_later'] = one_step_later_record(run, epoch, data, config)
  if config.batch_norm_recalibration_batches:
    record['batch_norm_recalibrated'] = recalibrated_record(run, data, config)
  record['wall_seconds'] = time.perf_counter() - start
  return record


def one_step_later_record(run, epoch, data, config):
  """The errors after the run's next step, taken on a copy of the run.

  With 312 steps an epoch, a multiple of PLP's cycle of 3, every end-of-epoch
  evaluation falls right after a PLP jump; this measures what one step more
  (the first of the next epoch, exactly as the run will take it) changes.
  The run itself is left as it was.
  """
  graphdef, state = nnx.split((run.model, run.optimizer))
  model, optimizer = nnx.merge(graphdef, jax.tree.map(jnp.copy, state))
  order = steps.epoch_order(
    run.seed, epoch + 1, data.sizes['train_examples'], config.batch_size
  )
  key = jax.random.fold_in(jax.random.key(run.seed), epoch + 1)
  no_probe = trajectory.Probe(0, 1, 0)
  steps.train_epoch(
    model, optimizer, data.train, order[:1], key, data.batch_sharding,
    False, no_probe,
  )  # fmt: skip
  return evaluation_record(model, data, config)


def recalibrated_record(run, data, config):
  """The errors with BatchNorm's statistics recomputed at the current weights.

  Every epoch's evaluation falls right after a PLP jump (312 steps an epoch),
  when the running statistics still describe the weights before it; this
  measures the model with statistics of its own weights instead
  (`steps.recalibrated_batch_norm`), from the first
  `config.batch_norm_recalibration_batches` batches of a shuffle no epoch
  trains with (epoch 0's), the same for every epoch and arm of a seed.
  """
  order = steps.epoch_order(
    run.seed, 0, data.sizes['train_examples'], config.batch_size
  )[: config.batch_norm_recalibration_batches]
  key = jax.random.fold_in(jax.random.key(run.seed), 0)
  model = steps.recalibrated_batch_norm(
    run.model, data.train, order, key, data.batch_sharding
  )
  return evaluation_record(model, data, config)


def describe(record):
  """An epoch's log line: its training loss, test error and speed."""
  return (
    f'train loss {record["train_loss"]:.3f}, test top-1 error '
    f'{100 * record["top1_error"]:.2f}%, '
    f'{record["images_per_second"]:.0f} images/s'
  )


TASK = experiment.Task(
  validate_config=validate_config,
  load_data=load_data,
  arm_optimizer=lambda arm, config, sizes: optimizers.arm_optimizer(
    arm, config, sizes['steps_per_epoch']
  ),
  model_and_optimizer=lambda config, arm, seed, data, mesh: model_and_optimizer(
    config, arm, seed, data.sizes['steps_per_epoch'], mesh
  ),
  train_epoch_record=train_epoch_record,
  summarize=functools.partial(errors.summarize, controls=optimizers.CONTROLS),
  reproducible=REPRODUCIBLE,
  describe=describe,
  table=error_report.format_table,
  figures=(error_report.plot_curves, probe_report.plot_trajectory),
  resume_fields=RESUME_FIELDS,
)
