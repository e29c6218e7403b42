"""Arms given as `package.module:function`: any optax transformation.

An arm named ``mypkg.opt:make`` is the transformation ``make(config)``
returns, where `config` is the run's config (its ``learning_rate``, the
schedule's fields, ``epochs`` and ``steps_per_epoch``, ...). It trains beside
the task's own arms on the same seeds and data, and is evaluated at its own
parameters, or at schedule-free's averaged ones where its state holds
``optax.contrib``'s schedule-free state. A module that does not import, a
function that does not return a transformation, or an update that fails on
the first step ends the run before it trains, in one line.
"""

import importlib

import jax
import jax.numpy as jnp
import optax

from benchmarks.harness import config_checks

SEPARATOR = ':'


def is_user_arm(arm):
  return isinstance(arm, str) and SEPARATOR in arm


def factory(arm):
  """The function an arm names; a ConfigError in one line where it cannot
  be found."""
  module_name, _, name = arm.partition(SEPARATOR)
  try:
    module = importlib.import_module(module_name)
  except Exception as error:  # any error of the user's module
    raise config_checks.ConfigError(
      f'arm {arm!r}: the module {module_name!r} does not import '
      f'({type(error).__name__}: {error}).'
    ) from None
  function = getattr(module, name, None)
  if not callable(function):
    raise config_checks.ConfigError(
      f'arm {arm!r}: {module_name} has no function {name!r}; give '
      "'package.module:function'."
    )
  return function


def optimizer(arm, config):
  """The transformation the arm's function returns for `config`."""
  try:
    transformation = factory(arm)(config)
  except config_checks.ConfigError:
    raise
  except Exception as error:  # any error of the user's function
    raise config_checks.ConfigError(
      f"arm {arm!r}: its function failed on the run's config "
      f'({type(error).__name__}: {error}).'
    ) from None
  if not isinstance(transformation, optax.GradientTransformation):
    raise config_checks.ConfigError(
      f'arm {arm!r}: its function returned {type(transformation).__name__}, '
      'not an optax.GradientTransformation.'
    )
  return transformation


def check_first_step(arm, transformation, params):
  """Traces `init` and one `update` on `params` (shapes only, nothing is
  computed); a ConfigError in one line where either fails."""

  def first_step():
    state = transformation.init(params)
    grads = jax.tree.map(jnp.zeros_like, params)
    return transformation.update(grads, state, params)

  try:
    jax.eval_shape(first_step)
  except Exception as error:  # any error of the user's transformation
    raise config_checks.ConfigError(
      f'arm {arm!r}: its update fails on the first step '
      f'({type(error).__name__}: {str(error).splitlines()[0]}).'
    ) from None


def evaluation_params(opt_state, params):
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
