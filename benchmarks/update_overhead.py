"""Measures what `plp` adds to an optimizer update, side by side in one process.

For parameter trees shaped like ResNet18 and VGG16-BN (CIFAR-100 heads), times
one jitted update + apply (params and state donated) of each optimizer, and
prints the time relative to the base optimizer and the PLP state's bytes per
parameter byte. Arms are timed in interleaved rounds so that drifts in machine
load hit all of them alike; the median round is reported.

  python -m benchmarks.update_overhead [--rounds 15] [--steps 6]
"""

import argparse
import functools
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optax_plp


def resnet18_shapes(num_classes=100):
  """Parameter shapes of the CIFAR ResNet18 (conv, BatchNorm, dense)."""
  shapes = [(3, 3, 3, 64), (64,), (64,)]
  in_channels = 64
  for channels, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
    for block in range(2):
      shapes += [(3, 3, in_channels, channels), (channels,), (channels,)]
      shapes += [(3, 3, channels, channels), (channels,), (channels,)]
      if block == 0 and (stride != 1 or in_channels != channels):
        shapes += [(1, 1, in_channels, channels), (channels,), (channels,)]
      in_channels = channels
  return shapes + [(512, num_classes), (num_classes,)]


def vgg16_shapes(num_classes=100):
  """Parameter shapes of VGG16-BN with its 512-4096-4096 classifier."""
  shapes = []
  in_channels = 3
  for channels in [64, 64, 128, 128, 256, 256, 256] + [512] * 6:
    shapes += [(3, 3, in_channels, channels), (channels,)]
    shapes += [(channels,), (channels,)]
    in_channels = channels
  for fan_in, fan_out in [(512, 4096), (4096, 4096), (4096, num_classes)]:
    shapes += [(fan_in, fan_out), (fan_out,)]
  return shapes


def optimizers():
  """The arms, each `(name, base name, transformation, lookahead?)`."""
  sgdm = optax.sgd(0.1, momentum=0.9, nesterov=True)
  adamw = optax.adamw(1e-3, weight_decay=5e-4)
  return [
    ('sgd-momentum', 'sgd-momentum', sgdm, False),
    (
      'sgd-momentum + plp',
      'sgd-momentum',
      optax.chain(sgdm, optax_plp.plp()),
      False,
    ),
    (
      'sgd-momentum + plp(bf16 history)',
      'sgd-momentum',
      optax.chain(sgdm, optax_plp.plp(history_dtype=jnp.bfloat16)),
      False,
    ),
    (
      'lookahead(sgd-momentum)',
      'sgd-momentum',
      optax.lookahead(sgdm, 5, 0.5),
      True,
    ),
    ('adamw', 'adamw', adamw, False),
    ('adamw + plp', 'adamw', optax.chain(adamw, optax_plp.plp()), False),
  ]


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


def measure(shapes, rounds, steps):
  """Returns `{name: (median seconds per step, base name, plp bytes ratio)}`."""
  key = jax.random.key(0)
  arms = []
  for name, base, tx, is_lookahead in optimizers():
    params = [0.01 * jax.random.normal(key, s) for s in shapes]
    grads = [1e-3 * jax.random.normal(key, s) for s in shapes]
    param_bytes = sum(p.nbytes for p in params)
    if is_lookahead:
      # Separate buffers for slow and fast, since both are donated.
      slow = [jnp.copy(p) for p in params]
      params = optax.LookaheadParams(fast=params, slow=slow)
    state = tx.init(params)
    ratio = plp_state_bytes(state) / param_bytes
    arms.append([name, base, make_step(tx), params, state, grads, ratio, []])
  for arm in arms:  # compile and warm up
    _, _, step, params, state, grads, _, _ = arm
    for _ in range(steps):
      params, state = step(params, state, grads)
    jax.block_until_ready(params)
    arm[3], arm[4] = params, state
  for _ in range(rounds):
    for arm in arms:
      _, _, step, params, state, grads, _, times = arm
      start = time.perf_counter()
      for _ in range(steps):
        params, state = step(params, state, grads)
      jax.block_until_ready((params, state))
      times.append((time.perf_counter() - start) / steps)
      arm[3], arm[4] = params, state
  return {a[0]: (float(np.median(a[7])), a[1], a[6]) for a in arms}


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
  for tree, shapes in [
    ('ResNet18', resnet18_shapes()),
    ('VGG16-BN', vgg16_shapes()),
  ]:
    size = sum(int(np.prod(s)) for s in shapes)
    print(f'\n{tree}: {size:,} float32 params in {len(shapes)} arrays')
    header = ('optimizer', 'ms/step', 'x base', 'PLP state/params')
    print('{:34s} {:>8s} {:>7s} {:>17s}'.format(*header))
    results = measure(shapes, args.rounds, args.steps)
    for name, (seconds, base, ratio) in results.items():
      relative = seconds / results[base][0]
      print(f'{name:34s} {seconds * 1e3:8.2f} {relative:7.3f} {ratio:17.2f}')


if __name__ == '__main__':
  main()
