"""Runs every arm and seed of a config: data, checkpoints, resume and results.

`train_and_evaluate` loads the splits once (holding out a seeded validation
split if the config asks for one), then trains each arm for each seed,
evaluates after every epoch, checkpoints every epoch with orbax (rerunning
resumes from the latest checkpoint, to the same numbers) and writes
``results.json`` and the plots (see `results_io` and `plots`).
"""

from collections.abc import Callable
import contextlib
import functools
import logging as std_logging
import math
import os
import time
from typing import NamedTuple

from absl import logging
from flax import nnx
import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp

from benchmarks.cifar100 import checkpoints
from benchmarks.cifar100 import config_checks
from benchmarks.cifar100 import data_arrays
from benchmarks.cifar100 import distributed
from benchmarks.cifar100 import input_pipeline
from benchmarks.cifar100 import models
from benchmarks.cifar100 import optimizers
from benchmarks.cifar100 import results_io
from benchmarks.cifar100 import train
from benchmarks.cifar100 import trajectory
from benchmarks.cifar100 import workdir_lock


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
    data_arrays.load_split, dataset=config.dataset, download=config.download
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
  return resume_run(config, arm, seed, model, optimizer, workdir)


def resume_run(config, arm, seed, model, optimizer, workdir):
  """A run of a fresh model and optimizer, restored if checkpointed."""
  if distributed.is_writer():
    checkpoints.set_aside_damaged(workdir, arm, seed)
  # The checkpoint manager's first barrier is a collective.
  distributed.arrive_together(f'start of {arm}, seed {seed}')
  manager = checkpoints.checkpoint_manager(workdir, arm, seed)
  records = checkpoints.restore(manager, model, optimizer, config)
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
  probes = 0 if optimizers.ARMS[run.arm].rule else config.trajectory_probes
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
  order = train.epoch_order(
    run.seed, epoch + 1, data.sizes['train_examples'], config.batch_size
  )
  key = jax.random.fold_in(jax.random.key(run.seed), epoch + 1)
  no_probe = trajectory.Probe(0, 1, 0)
  train.train_epoch(
    model, optimizer, data.train, order[:1], key, data.batch_sharding,
    False, no_probe,
  )  # fmt: skip
  return evaluation_record(model, data, config)


def recalibrated_record(run, data, config):
  """The errors with BatchNorm's statistics recomputed at the current weights.

  Every epoch's evaluation falls right after a PLP jump (312 steps an epoch),
  when the running statistics still describe the weights before it; this
  measures the model with statistics of its own weights instead
  (`train.recalibrated_batch_norm`), from the first
  `config.batch_norm_recalibration_batches` batches of a shuffle no epoch
  trains with (epoch 0's), the same for every epoch and arm of a seed.
  """
  order = train.epoch_order(
    run.seed, 0, data.sizes['train_examples'], config.batch_size
  )[: config.batch_norm_recalibration_batches]
  key = jax.random.fold_in(jax.random.key(run.seed), 0)
  model = train.recalibrated_batch_norm(
    run.model, data.train, order, key, data.batch_sharding
  )
  return evaluation_record(model, data, config)


def publish(workdir, config, runs, data, task):
  """The results so far; process 0 writes them to `workdir`.

  The other processes of a multi-process run hold the same results.
  """
  results = task.collect_results(config, runs, data.sizes)
  if distributed.is_writer():
    results_io.write_results(workdir, results)
  return results


def train_run(run, records, data, config, workdir, runs, task):
  """Trains `run` from its restored `records` to the config's last epoch."""
  for epoch in range(len(records) + 1, config.epochs + 1):
    try:
      record = task.train_epoch_record(run, epoch, data, config)
    except NonFiniteLossError as error:
      if config.on_divergence == 'record':
        # A sweep goes on: the run ends here, marked, and is not saved, so
        # a rerun retrains this one epoch and marks it again.
        records.append({'epoch': epoch, 'diverged': True})
        logging.warning('%s Recorded as diverged; going on.', error)
        break
      publish(workdir, config, runs, data, task)
      raise NonFiniteLossError(
        f'{error} Finished epochs are saved in {workdir}.'
      ) from error
    records.append(record)
    logging.info(
      '%s seed %d epoch %d/%d: %s', run.arm, run.seed, epoch, config.epochs,
      task.describe(record),
    )  # fmt: skip
    checkpoints.save(
      run.manager, epoch, run.model, run.optimizer, records, config
    )
    publish(workdir, config, runs, data, task)
  run.manager.close()


def describe(record):
  """An epoch's log line: its training loss, test error and speed."""
  return (
    f'train loss {record["train_loss"]:.3f}, test top-1 error '
    f'{100 * record["top1_error"]:.2f}%, '
    f'{record["images_per_second"]:.0f} images/s'
  )


def train_and_evaluate(config, workdir, task=None):
  """Trains every arm and seed of `config`; returns the results dict.

  `task` (a `Task`; CIFAR-100's by default) supplies the data, models,
  training and metrics. The workdir is locked for the whole run (by process
  0 of several): a second run there is refused (`workdir_lock`).
  """
  task = task or CIFAR100
  task.validate_config(config)
  if os.path.isdir(workdir):
    # Refused before the lock too, so that a refused run leaves nothing (no
    # lock file) in a folder of committed results.
    check_no_run_dropped(config, workdir)
  writer = distributed.is_writer()  # process 0 holds the lock for all
  with workdir_lock.held(workdir) if writer else contextlib.nullcontext():
    check_no_run_dropped(config, workdir)
    return train_all(config, workdir, task)


def check_no_run_dropped(config, workdir):
  """Refuses a run that would lose records the workdir's results.json holds:
  runs this config does not run, and records no checkpoint can give back
  (a committed study folder, or a workdir whose checkpoints were removed).
  """
  held = results_io.held_runs(workdir)
  planned = {(arm, str(seed)) for arm in config.arms for seed in config.seeds}
  dropped = sorted(set(held) - planned)
  if dropped:
    named = ', '.join(f'{arm} seed {seed}' for arm, seed in dropped)
    raise config_checks.ConfigError(
      f'{workdir}/results.json holds runs this config does not run ({named}) '
      'and rewriting it would drop them: include their arms and seeds in '
      'config.arms and config.seeds (finished runs only reload), or give '
      'another --workdir.'
    )
  unbacked = [
    f'{arm} seed {seed}: {count} epochs, checkpointed to {saved}'
    for (arm, seed), count in sorted(held.items())
    if (saved := checkpoints.latest_epoch(workdir, arm, seed)) < count
  ]
  if unbacked:
    raise config_checks.ConfigError(
      f'{workdir}/results.json holds records no checkpoint here can give '
      f'back ({"; ".join(unbacked)}), and training here would replace them: '
      'train into a fresh --workdir (a study: another WORKROOT), or move '
      'results.json away to discard them.'
    )


def train_all(config, workdir, task):
  """`train_and_evaluate` once the workdir is this process's."""
  mesh = distributed.data_mesh(
    jax.devices()[: config_checks.num_devices(config)]
  )
  data = task.load_data(config, mesh)
  for arm in config.arms:  # Fail on a bad optimizer before training any arm.
    task.arm_optimizer(arm, config, data.sizes)
  runs = {arm: {} for arm in config.arms}
  for seed in config.seeds:
    for arm in config.arms:
      model, optimizer = task.model_and_optimizer(config, arm, seed, data, mesh)
      run, records = resume_run(config, arm, seed, model, optimizer, workdir)
      runs[arm][seed] = records
      train_run(run, records, data, config, workdir, runs, task)
  return publish(workdir, config, runs, data, task)


class Task(NamedTuple):
  """What a task supplies to the harness: its data, models and metrics.

  Attributes:
    validate_config: raises `ConfigError` naming a bad field of a config.
    load_data: (config, mesh) -> the splits on the devices, with `.sizes`.
    arm_optimizer: (arm, config, data sizes) -> the arm's optax optimizer.
    model_and_optimizer: (config, arm, seed, data, mesh) -> a fresh model
      and `nnx.Optimizer`, the same initialisation for every arm of a seed.
    train_epoch_record: (run, epoch, data, config) -> the epoch's record.
    collect_results: (config, runs, data sizes) -> what results.json holds.
    describe: an epoch's record -> its log line.
  """

  validate_config: Callable
  load_data: Callable
  arm_optimizer: Callable
  model_and_optimizer: Callable
  train_epoch_record: Callable
  collect_results: Callable
  describe: Callable


CIFAR100 = Task(
  validate_config=config_checks.validate_config,
  load_data=load_data,
  arm_optimizer=lambda arm, config, sizes: optimizers.arm_optimizer(
    arm, config, sizes['steps_per_epoch']
  ),
  model_and_optimizer=lambda config, arm, seed, data, mesh: model_and_optimizer(
    config, arm, seed, data.sizes['steps_per_epoch'], mesh
  ),
  train_epoch_record=train_epoch_record,
  collect_results=results_io.collect_results,
  describe=describe,
)
