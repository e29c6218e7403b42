"""Checks of a run config: a bad field raises `ConfigError` naming it.

Its arms may include any optax transformation, named `package.module:function`
(a user's arm): the function takes the run's config (its ``learning_rate``,
the schedule's fields, ``epochs`` and ``steps_per_epoch``, ...) and returns
the transformation, which trains beside the task's own arms on the same seeds
and data, evaluated at its own parameters (or at schedule-free's averaged
ones where its state holds ``optax.contrib``'s schedule-free state). A module
that does not import, a function that does not return a transformation, or an
update that fails on the first step ends the run before it trains, in one
line.
"""

import functools
import importlib

import jax
import jax.numpy as jnp
import optax

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


SEPARATOR = ':'


def is_user_arm(arm):
  return isinstance(arm, str) and SEPARATOR in arm


def user_arm_factory(arm):
  """The function an arm names; a ConfigError in one line where it cannot
  be found."""
  module_name, _, name = arm.partition(SEPARATOR)
  try:
    module = importlib.import_module(module_name)
  except Exception as error:  # any error of the user's module
    raise ConfigError(
      f'arm {arm!r}: the module {module_name!r} does not import '
      f'({type(error).__name__}: {error}).'
    ) from None
  function = getattr(module, name, None)
  if not callable(function):
    raise ConfigError(
      f'arm {arm!r}: {module_name} has no function {name!r}; give '
      "'package.module:function'."
    )
  return function


def user_arm_optimizer(arm, config):
  """The transformation the arm's function returns for `config`."""
  try:
    transformation = user_arm_factory(arm)(config)
  except ConfigError:
    raise
  except Exception as error:  # any error of the user's function
    raise ConfigError(
      f"arm {arm!r}: its function failed on the run's config "
      f'({type(error).__name__}: {error}).'
    ) from None
  if not isinstance(transformation, optax.GradientTransformation):
    raise ConfigError(
      f'arm {arm!r}: its function returned {type(transformation).__name__}, '
      'not an optax.GradientTransformation.'
    )
  return transformation


def check_user_arm_first_step(arm, transformation, params):
  """Traces `init` and one `update` on `params` (shapes only, nothing is
  computed); a ConfigError in one line where either fails."""

  def first_step():
    state = transformation.init(params)
    grads = jax.tree.map(jnp.zeros_like, params)
    return transformation.update(grads, state, params)

  try:
    jax.eval_shape(first_step)
  except Exception as error:  # any error of the user's transformation
    raise ConfigError(
      f'arm {arm!r}: its update fails on the first step '
      f'({type(error).__name__}: {str(error).splitlines()[0]}).'
    ) from None


def user_arm_evaluation_params(opt_state, params):
  """Schedule-free's averaged parameters where `opt_state` holds its state,
  else `params`."""
  is_schedule_free = lambda x: isinstance(x, optax.contrib.ScheduleFreeState)  # noqa: E731
  found = [
    leaf
    for leaf in jax.tree.leaves(opt_state, is_leaf=is_schedule_free)
    if is_schedule_free(leaf)
  ]
  if found:
    return optax.contrib.schedule_free_eval_params(found[0], params)
  return params
