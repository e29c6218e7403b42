"""Checks of a run config: a bad field raises `ConfigError` naming it."""

import functools

import jax

# 'stop': a non-finite loss raises `NonFiniteLossError`; 'record': the run
# ends with a record {'epoch': N, 'diverged': True} and the next one starts.
ON_DIVERGENCE = ('stop', 'record')


class ConfigError(ValueError):
  """A config value is invalid; the message names the field."""


def fail(config, field, allowed):
  """Raises `ConfigError` naming the field, its value and what is allowed."""
  value = functools.reduce(getattr, field.split('.'), config)
  raise ConfigError(f'config.{field} is {value!r}; allowed: {allowed}.')


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
