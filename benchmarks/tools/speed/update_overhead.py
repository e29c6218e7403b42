"""Measures what `plp` adds to an optimizer update, side by side in one process.

For parameter trees shaped like ResNet18 and VGG16-BN (CIFAR-100 heads), times
one jitted update + apply (params and state donated) of each optimizer, and
prints the time relative to the base optimizer and the PLP state's bytes per
parameter byte. Arms are timed in interleaved rounds so that drifts in machine
load hit all of them alike; the median round is reported.

  python -m benchmarks.tools.speed.update_overhead [--rounds 15] [--steps 6]
"""

import argparse
from collections.abc import Callable
import dataclasses
import functools
import platform
import time
from typing import Any

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks.cifar100 import models
import optax_plp


def rule_label(rule):
  """How a rule's `plp` call reads: plp, plp(order=2), ..."""
  arguments = ', '.join(f'{k}={v!r}' for k, v in rule.items())
  return f'plp({arguments})' if arguments else 'plp'


# PLP's prediction rules, each timed after the same base optimizer.
RULE_LABELS = {rule_label(rule): rule for rule in optax_plp.RULES.values()}


def parameter_shapes(model_name):
  """The shapes of a CIFAR-100 model's parameter arrays, at width 1."""
  model = models.abstract(model_name)
  return [p.shape for p in jax.tree.leaves(nnx.state(model, nnx.Param))]


@dataclasses.dataclass
class TimedOptimizer:
  """An optimizer being timed, and what is measured of it."""

  name: str
  base: str  # the name of the arm it is compared with
  transformation: optax.GradientTransformation
  is_lookahead: bool = False
  step: Callable | None = None
  params: Any = None
  state: Any = None
  grads: Any = None
  state_ratio: float = 0.0  # PLP state bytes / parameter bytes
  seconds: list = dataclasses.field(default_factory=list)

  def run(self, steps):
    """Takes `steps` steps; returns the seconds each took on average."""
    start = time.perf_counter()
    for _ in range(steps):
      self.params, self.state = self.step(self.params, self.state, self.grads)
    jax.block_until_ready((self.params, self.state))
    return (time.perf_counter() - start) / steps


def update_optimizers():
  """The arms: base optimizers, each with PLP's rules, and lookahead."""
  sgdm = optax.sgd(0.1, momentum=0.9, nesterov=True)
  adamw = optax.adamw(1e-3, weight_decay=5e-4)
  base = 'sgd-momentum'
  arms = [TimedOptimizer(base, base, sgdm)]
  for label, rule in RULE_LABELS.items():
    arms.append(
      TimedOptimizer(
        f'{base} + {label}', base, optax.chain(sgdm, optax_plp.plp(**rule))
      )
    )
  bf16 = optax_plp.plp(history_dtype=jnp.bfloat16)
  arms.append(
    TimedOptimizer(f'{base} + plp(bf16 history)', base, optax.chain(sgdm, bf16))
  )
  arms.append(
    TimedOptimizer(
      f'lookahead({base})', base, optax.lookahead(sgdm, 5, 0.5), True
    )
  )
  arms.append(TimedOptimizer('adamw', 'adamw', adamw))
  arms.append(
    TimedOptimizer('adamw + plp', 'adamw', optax.chain(adamw, optax_plp.plp()))
  )
  return arms


def make_step(tx):
  @functools.partial(jax.jit, donate_argnums=(0, 1))
  def step(params, state, grads):
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state

  return step


def plp_state_bytes(state):
  """Bytes of the history buffers of every `PLPState` in a state."""
  found = [
    s
    for s in jax.tree.leaves(
      state, is_leaf=lambda x: isinstance(x, optax_plp.PLPState)
    )
    if isinstance(s, optax_plp.PLPState)
  ]
  return sum(x.nbytes for x in jax.tree.leaves([s.history for s in found]))


def prepare(arm, shapes, steps):
  """Builds the arm's arrays and step, and compiles and warms it up."""
  key = jax.random.key(0)
  params = [0.01 * jax.random.normal(key, s) for s in shapes]
  arm.grads = [1e-3 * jax.random.normal(key, s) for s in shapes]
  param_bytes = sum(p.nbytes for p in params)
  if arm.is_lookahead:
    # Separate buffers for slow and fast, since both are donated.
    slow = [jnp.copy(p) for p in params]
    params = optax.LookaheadParams(fast=params, slow=slow)
  arm.params, arm.state = params, arm.transformation.init(params)
  arm.state_ratio = plp_state_bytes(arm.state) / param_bytes
  arm.step = make_step(arm.transformation)
  arm.run(steps)


def measure(shapes, rounds, steps):
  """Returns the arms, each with its step seconds of every round."""
  arms = update_optimizers()
  for arm in arms:
    prepare(arm, shapes, steps)
  for _ in range(rounds):
    for arm in arms:
      arm.seconds.append(arm.run(steps))
  return {arm.name: arm for arm in arms}


def overhead_rows(arms):
  """(name, ms/step, x its base's time, PLP state/params) of each arm."""
  for name, arm in arms.items():
    seconds = np.median(arm.seconds)
    ratio = seconds / np.median(arms[arm.base].seconds)
    yield name, 1e3 * seconds, ratio, arm.state_ratio


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--rounds', type=int, default=15)
  parser.add_argument('--steps', type=int, default=6, help='a multiple of 3')
  args = parser.parse_args()
  print(
    f'jax {jax.__version__}, optax {optax.__version__}, '
    f'{jax.devices()[0].device_kind} x{jax.device_count()}, '
    f'{platform.processor() or platform.machine()}'
  )
  for tree in ('ResNet18', 'VGG16'):
    shapes = parameter_shapes(tree)
    size = sum(int(np.prod(s)) for s in shapes)
    print(f'\n{tree}: {size:,} float32 params in {len(shapes)} arrays')
    header = ('optimizer', 'ms/step', 'x base', 'PLP state/params')
    print('{:38s} {:>8s} {:>7s} {:>17s}'.format(*header))
    arms = measure(shapes, args.rounds, args.steps)
    for name, ms, ratio, state in overhead_rows(arms):
      print(f'{name:38s} {ms:8.2f} {ratio:7.3f} {state:17.2f}')


if __name__ == '__main__':
  main()
