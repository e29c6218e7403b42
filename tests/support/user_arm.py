"""Arms as a user would write them (`package.module:function`), for the
tests of `benchmarks/harness/config_checks.py`."""

import optax


def lion(config):
  """optax.lion at a tenth of the run's peak rate, on the run's schedule."""
  return optax.chain(
    optax.clip_by_global_norm(config.gradient_clip),
    optax.lion(config.learning_rate / 10, weight_decay=config.weight_decay),
  )


def schedule_free(config):
  """Schedule-free AdamW: evaluated at its averaged parameters."""
  return optax.contrib.schedule_free_adamw(config.learning_rate)


def not_a_transformation(config):
  return config.learning_rate


def fails_on_the_first_step(config):
  del config

  def update(updates, state, params=None):
    del params
    return updates['no such parameter'], state

  return optax.GradientTransformation(lambda params: (), update)
