"""The arms of a comparison and their optimizers and schedules.

An arm is a base optimizer (SGD, SGD with DEMON's momentum decay, or AdamW),
optionally with its learning rate scaled to match PLP's longer step, and
optionally chained with `optax_plp.plp`. The schedules are optax schedules:
the reference recipe's warm-up and step decay, PyTorch's triangular
`CyclicLR` (with its inverse momentum cycle), or a constant; the momentum is
scheduled through `optax.inject_hyperparams`.
"""

from collections.abc import Callable
import fractions
import json
from typing import NamedTuple

import jax.numpy as jnp
import optax

from benchmarks.harness import config_checks
import optax_plp


class Arm(NamedTuple):
  """An arm: a base optimizer, its step scale and PLP's rule, if any."""

  base: str  # a name of BASE_OPTIMIZERS
  rule: str | None = None  # a name of `optax_plp.RULES`: PLP chained after
  matched_step: bool = False  # learning rate x PLP's step length (see below)


ARMS = {
  'sgd': Arm('sgd'),
  'plp': Arm('sgd', 'linear'),
  'sgd_matched': Arm('sgd', matched_step=True),
  'demon': Arm('demon'),
  'demon_plp': Arm('demon', 'linear'),
  'adamw': Arm('adamw'),
  'adamw_plp': Arm('adamw', 'linear'),
  'adamw_matched': Arm('adamw', matched_step=True),
  # Beyond the paper: the parabola through h1, h2, h3, and the cosine gate.
  'plp_quadratic': Arm('sgd', 'quadratic'),
  'plp_gated': Arm('sgd', 'gated'),
}
# The paired comparisons beyond "every arm against the config's first arm":
# (arm, control), made where both are in a config.
CONTROLS = (
  ('plp', 'sgd_matched'),
  ('demon_plp', 'demon'),
  ('adamw_plp', 'adamw'),
  ('adamw_plp', 'adamw_matched'),
  ('plp_quadratic', 'plp'),
  ('plp_gated', 'plp'),
  ('plp_quadratic', 'sgd_matched'),
  ('plp_gated', 'sgd_matched'),
)
LR_SCHEDULES = ('step_decay', 'cyclic', 'constant')


def matched_step_factor(step_size, every):
  """How much farther PLP moves per cycle than its base optimizer.

  On a straight path walked in equal steps d, the base optimizer is at
  h_i = h_0 + i d after step i. PLP replaces the cycle's last point by
  m23 + k (m23 - m12) with m12 = h_0 + (every - 1.5) d and
  m23 = h_0 + (every - 0.5) d, i.e. by h_0 + (every - 0.5 + k) d, and its
  momentum, untouched, keeps stepping d. So per cycle of ``every`` steps PLP
  moves (every - 0.5 + k) d where the base moves every d: the factor is
  (every - 0.5 + k) / every, 7/6 at the paper's k = 1, every = 3.

  Args:
    step_size: PLP's prediction step k.
    every: PLP's cycle length.

  Returns:
    The factor, as a float.
  """
  return (every - 0.5 + step_size) / every


def step_decay_schedule(base, steps_per_epoch, config):
  """Linear warm-up, then a step decay at fractions of the epochs."""
  warmup_steps = round(config.warmup_epochs * steps_per_epoch)
  boundaries = jnp.array(decay_boundaries(config, steps_per_epoch))

  def schedule(step):
    warmup = jnp.minimum(1.0, (step + 1) / max(warmup_steps, 1))
    decays = jnp.sum(step >= boundaries)
    return base * warmup * config.lr_decay**decays

  return schedule


def decay_boundaries(config, steps_per_epoch):
  """The steps at which the step-decay schedule divides the rate."""
  total = config.epochs * steps_per_epoch
  return [round(m * total) for m in config.lr_milestones]


def schedule_phases(config, steps_per_epoch, arm='sgd'):
  """(first step, label) of each phase of the arm's learning-rate schedule.

  The step decay's phases start at its boundaries; a cyclic or constant
  schedule is one phase, labelled with the rates of the arm's base optimizer
  (AdamW's field for an AdamW arm). A matched-step arm's labels end in its
  scale (× 7/6 at the paper's PLP).
  """
  kind = config.get('lr_schedule', 'step_decay')  # older results lack it
  scale = matched_scale_label(arm, config)
  if kind not in ('cyclic', 'constant'):
    starts = [0, *decay_boundaries(config, steps_per_epoch)]
    return [
      (s, f'{config.lr_decay**i:g} × base{scale}') for i, s in enumerate(starts)
    ]
  base = base_learning_rate(arm, config)
  if kind == 'cyclic':
    return [(0, f'cyclic {base:g}-{cycle_peak(base, config):g}{scale}')]
  return [(0, f'constant {base:g}{scale}')]


def matched_scale_label(arm, config):
  """' × 7/6' (PLP's step length, as a fraction) for a matched-step arm."""
  if not ARMS[arm].matched_step:
    return ''
  return f' × {as_fraction(rate_scale(arm, config))}'


def as_fraction(ratio):
  """`ratio` as the nearest fraction of small terms: 7/6, 1/16, 1."""
  return fractions.Fraction(ratio).limit_denominator(1000)


def rate_scale(name, config):
  """The factor on the arm's base rate: PLP's step length if matched, else 1."""
  if not ARMS[name].matched_step:
    return 1.0
  prediction = config.prediction
  return matched_step_factor(prediction.step_size, prediction.every)


def triangular_schedule(low, high, step_size_up, step_size_down=None):
  """PyTorch's `CyclicLR(mode='triangular')`: low -> high -> low, repeated.

  The value at 0-based step t is low + (high - low) * s(t), where s rises
  linearly from 0 to 1 over ``step_size_up`` steps and falls back to 0 over
  ``step_size_down`` (default: the same) steps. With ``high < low`` it is
  `CyclicLR`'s momentum cycle (high momentum where the rate is low).
  """
  down = step_size_down or step_size_up
  rise = optax.linear_schedule(low, high, step_size_up)
  fall = optax.linear_schedule(high, low, down)
  one_cycle = optax.join_schedules([rise, fall], [step_size_up])
  return lambda step: one_cycle(jnp.mod(step, step_size_up + down))


def demon_schedule(momentum, total_steps):
  """DEMON's momentum decay (Chen et al., 2022), from ``momentum`` to 0.

  beta_t = beta * (1 - t/T) / ((1 - beta) + beta * (1 - t/T)), where beta is
  ``momentum`` (a float or a schedule: then its value at t, so that under a
  cyclic momentum DEMON decays the cycle's momentum, beta_t <= the cycle's).
  """

  def schedule(step):
    beta = momentum(step) if callable(momentum) else momentum
    remaining = 1 - jnp.minimum(step, total_steps) / total_steps
    return beta * remaining / ((1 - beta) + beta * remaining)

  return schedule


def base_learning_rate(name, config):
  """The config's base rate of the arm called `name`: AdamW's or SGD's."""
  return config[BASE_OPTIMIZERS[ARMS[name].base].rate_field]


def cycle_peak(base, config):
  """The top of the cyclic schedule that starts at `base` (its ratio kept)."""
  return base * (config.max_learning_rate / config.learning_rate)


def learning_rate_schedule(base, steps_per_epoch, config):
  """The config's learning-rate schedule, scaled so that it starts at `base`."""
  if config.lr_schedule == 'cyclic':
    peak = cycle_peak(base, config)
    return triangular_schedule(base, peak, config.cycle_steps_up)
  if config.lr_schedule == 'constant':
    return optax.constant_schedule(base)
  return step_decay_schedule(base, steps_per_epoch, config)


def momentum_schedule(arm, steps_per_epoch, config):
  """The SGD momentum of an arm: constant or cyclic, and DEMON's decay."""
  momentum = config.momentum
  if config.lr_schedule == 'cyclic' and config.cycle_momentum:
    momentum = triangular_schedule(
      config.momentum, config.base_momentum, config.cycle_steps_up
    )
  if BASE_OPTIMIZERS[arm.base].decays_momentum:
    return demon_schedule(momentum, config.epochs * steps_per_epoch)
  return momentum


def sgd(learning_rate, momentum, *, nesterov, weight_decay):
  """PyTorch's SGD: weight decay added to the gradient, then momentum.

  The rate and the momentum may be schedules; they are evaluated at each
  step's 0-based count, as PyTorch's schedulers set them before each step.
  """
  return optax.chain(
    optax.add_decayed_weights(weight_decay),
    optax.inject_hyperparams(optax.sgd, static_args='nesterov')(
      learning_rate=learning_rate, momentum=momentum, nesterov=nesterov
    ),
  )


def sgd_of_config(rate, arm, steps_per_epoch, config):
  """The config's SGD at `rate`, with the arm's momentum schedule."""
  return sgd(
    rate,
    momentum_schedule(arm, steps_per_epoch, config),
    nesterov=config.nesterov,
    weight_decay=config.weight_decay,
  )


def adamw_of_config(rate, arm, steps_per_epoch, config):
  """The config's AdamW at `rate`."""
  del arm, steps_per_epoch  # AdamW's settings are the config's alone
  return optax.adamw(rate, weight_decay=config.adamw_weight_decay)


class BaseOptimizer(NamedTuple):
  """A base optimizer of the arms, as a config sets it up."""

  rate_field: str  # the config field of its base learning rate
  build: Callable  # (rate schedule, Arm, steps per epoch, config) -> optax
  decays_momentum: bool = False  # DEMON's decay on the config's momentum


# A new base optimizer: its entry here; its fields in
# configs/reference_recipe.py, checked in config_checks.py (a positive
# rate_field is checked there already) and, as they change what a run
# computes, in the task's fields added since (train.RESUME_FIELDS; a
# test fails until they are).
BASE_OPTIMIZERS = {
  'sgd': BaseOptimizer('learning_rate', sgd_of_config),
  'demon': BaseOptimizer('learning_rate', sgd_of_config, decays_momentum=True),
  'adamw': BaseOptimizer('adamw_learning_rate', adamw_of_config),
}


def prediction_options(config, steps_per_epoch):
  """The `optax_plp.plp` keyword arguments the config sets for every arm."""
  return {
    'step_size': config.prediction.step_size,
    'every': config.prediction.every,
    'start_step': round(config.prediction.start_epoch * steps_per_epoch),
  }


def arm_optimizer(name, config, steps_per_epoch):
  """The optimizer of the arm called `name`, as the config sets it up.

  Equal arguments return the same object, built once per process: a jitted
  step holds its optimizer in its static argument (nnx's graph definition),
  so every seed and rerun of a config then reuses the step's compilation
  instead of compiling it again. An optax transformation holds no state, so
  sharing it is safe.
  """
  key = (name, json.dumps(config.to_dict(), sort_keys=True), steps_per_epoch)
  if key not in BUILT_OPTIMIZERS:
    BUILT_OPTIMIZERS[key] = build_arm_optimizer(name, config, steps_per_epoch)
  return BUILT_OPTIMIZERS[key]


# arm_optimizer's arguments (the config as JSON) -> its optimizer.
BUILT_OPTIMIZERS = {}


def build_arm_optimizer(name, config, steps_per_epoch):
  """A new optimizer of the arm called `name`, as the config sets it up."""
  arm = ARMS[name]
  base = base_learning_rate(name, config) * rate_scale(name, config)
  rate = learning_rate_schedule(base, steps_per_epoch, config)
  tx = BASE_OPTIMIZERS[arm.base].build(rate, arm, steps_per_epoch, config)
  if arm.rule is None:
    return tx
  options = prediction_options(config, steps_per_epoch)
  rule = optax_plp.RULES[arm.rule]
  return optax.chain(tx, optax_plp.plp(**options, **rule))


def validate_config(config, reject):
  """The schedule's, the optimizers' and the prediction's fields."""
  rates = [b.rate_field for b in BASE_OPTIMIZERS.values()]
  for field in dict.fromkeys(['width', *rates]):
    if not config[field] > 0:
      reject(field, 'a number > 0')
  if config.lr_schedule not in LR_SCHEDULES:
    reject('lr_schedule', list(LR_SCHEDULES))
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
    raise config_checks.ConfigError(f'config.prediction: {error}') from error
