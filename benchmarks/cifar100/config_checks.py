"""Checks of a run config: a bad field raises `ConfigError` naming it."""

import functools

import jax

from benchmarks.cifar100 import models
from benchmarks.cifar100 import optimizers
import optax_plp

MAX_VALIDATION_FRACTION = 0.5


# 'stop': a non-finite loss raises `NonFiniteLossError`; 'record': the run
# ends with a record {'epoch': N, 'diverged': True} and the next one starts.
ON_DIVERGENCE = ('stop', 'record')


class ConfigError(ValueError):
  """A config value is invalid; the message names the field."""


def fail(config, field, allowed):
  """Raises `ConfigError` naming the field, its value and what is allowed."""
  value = functools.reduce(getattr, field.split('.'), config)
  raise ConfigError(f'config.{field} is {value!r}; allowed: {allowed}.')


def validate_config(config):
  """Raises `ConfigError` for a bad field, before anything is trained."""
  reject = functools.partial(fail, config)
  if config.model not in models.MODELS:
    reject('model', sorted(models.MODELS))
  arms = config.arms
  if not arms or any(arm not in optimizers.ARMS for arm in arms):
    reject('arms', f'a non-empty list of {sorted(optimizers.ARMS)}')
  if len(set(arms)) != len(arms):
    reject('arms', 'names without repeats')
  check_seeds(config.seeds, reject)
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
  if config.on_divergence not in ON_DIVERGENCE:
    reject('on_divergence', list(ON_DIVERGENCE))
  if config.compute_dtype not in ('float32', 'bfloat16'):
    reject('compute_dtype', ['float32', 'bfloat16'])
  if config.num_devices < 0 or config.num_devices > jax.device_count():
    reject('num_devices', f'0 (all) to {jax.device_count()}')
  if config.batch_size % num_devices(config):
    reject('batch_size', f'a multiple of the {num_devices(config)} devices')
  validate_optimizer_config(config, reject)


def validate_optimizer_config(config, reject):
  """The schedule's, the optimizers' and the prediction's fields."""
  rates = [b.rate_field for b in optimizers.BASE_OPTIMIZERS.values()]
  for field in dict.fromkeys(['width', *rates]):
    if not config[field] > 0:
      reject(field, 'a number > 0')
  if config.lr_schedule not in optimizers.LR_SCHEDULES:
    reject('lr_schedule', list(optimizers.LR_SCHEDULES))
  if not 0 <= config.warmup_epochs < config.epochs:
    reject('warmup_epochs', f'a number in [0, epochs={config.epochs})')
  milestones = list(config.lr_milestones)
  if milestones != sorted(milestones) or any(not 0 < m < 1 for m in milestones):
    reject('lr_milestones', 'increasing fractions of the epochs in (0, 1)')
  cyclic = config.lr_schedule == 'cyclic'
  if cyclic and not config.max_learning_rate >= config.learning_rate:
    reject('max_learning_rate', 'a number >= config.learning_rate')
  if not isinstance(config.cycle_steps_up, int) or config.cycle_steps_up < 1:
    reject('cycle_steps_up', 'an int >= 1')
  if not 0 <= config.base_momentum <= config.momentum < 1:
    reject('base_momentum', 'a number in [0, config.momentum]')
  if config.prediction.start_epoch < 0:
    reject('prediction.start_epoch', 'a number >= 0')
  try:
    optax_plp.plp(config.prediction.step_size, every=config.prediction.every)
  except ValueError as error:
    raise ConfigError(f'config.prediction: {error}') from error


# Seeds feed NumPy's and JAX's generators, which take 32-bit seeds (2**32
# would seed like 0).
SEEDS_ALLOWED = 'a non-empty list of distinct ints in [0, 2**32)'


def check_seeds(seeds, reject):
  """Refuses seeds that are not distinct ints in [0, 2**32), before any
  data is loaded."""
  whole = all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
  if (
    not seeds
    or not whole
    or len(set(seeds)) != len(seeds)
    or not all(0 <= s < 2**32 for s in seeds)
  ):
    reject('seeds', SEEDS_ALLOWED)


def num_devices(config):
  return config.num_devices or jax.device_count()
