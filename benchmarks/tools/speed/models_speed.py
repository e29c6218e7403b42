"""Training-step speed of the CIFAR-100 models, side by side in one process.

Times `steps.train_step` (batch gather, augmentation, forward, backward, SGD
update) on random 32x32 images for each model and width, then VGG16 with the
im2col path for tiny feature maps switched off and GoogLeNet with XLA's
reduce-window max-pools, to show what each CPU speed-up buys. With --plp it
also times each model's step with `optax_plp.plp()` chained after SGD and
prints the ratio PLP step / SGD step, measured back to back.

  python -m benchmarks.tools.speed.models_speed [--batch-size 128] [--steps 3] \
      [--plp] [--epoch-steps N]

With --epoch-steps it instead times whole epochs of N steps, compiled into
few calls (`steps.train_epoch`) and one call per step (the older path).
"""

import argparse
import functools
import time

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.cifar100 import input_pipeline
from benchmarks.cifar100 import models
from benchmarks.cifar100 import optimizers
from benchmarks.cifar100 import steps
from benchmarks.cifar100 import trajectory
from benchmarks.cifar100.configs import reference_recipe
from benchmarks.harness import distributed


def compiled_step(name, width, batch_size, dtype, arm):
  """A timed training step of `arm`'s optimizer, compiled; the parameters."""
  model = models.create(name, width=width, dtype=dtype)
  model.train()
  tx = optimizers.arm_optimizer(arm, reference_recipe.get_config(), 390)
  optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
  images, labels = input_pipeline.random_split(batch_size)
  batch = (images, labels, jnp.arange(batch_size), jax.random.key(1))

  def seconds():
    start = time.perf_counter()
    jax.block_until_ready(steps.train_step(model, optimizer, *batch))
    return time.perf_counter() - start

  seconds()
  return seconds, models.parameter_count(model)


def step_seconds(name, width, batch_size, steps, dtype, arms=('sgd',)):
  """Median seconds of a training step, per arm (see `optimizers.ARMS`).

  With several arms the steps alternate, so that a slower moment of the
  machine costs each alike.
  """
  steps_and_params = [
    compiled_step(name, width, batch_size, dtype, arm) for arm in arms
  ]
  times = [[] for _ in arms]
  for _ in range(steps):
    for (seconds, _), timed in zip(steps_and_params, times, strict=True):
      timed.append(seconds())
  params = steps_and_params[0][1]
  return [float(np.median(t)) for t in times], params


# How an epoch's steps are run: the compiled path whole (one scan) and one
# step a call (its CPU default), and the per-step path it replaces.
EPOCH_PATHS = {
  'whole epoch': functools.partial(steps.train_epoch, steps_per_call=0),
  'step a call': functools.partial(steps.train_epoch, steps_per_call=1),
  'per step': steps.train_epoch_stepwise,
}


def epoch_path_seconds(
  name, width, batch_size, steps, dtype, rounds=3, paths=tuple(EPOCH_PATHS)
):
  """Median seconds of an epoch of `steps` steps, per path named in `paths`.

  The paths (of `EPOCH_PATHS`) train the same model on random images, one
  after the other in each round, so that a slower moment of the machine
  costs each alike.
  """
  model = models.create(name, width=width, dtype=dtype)
  tx = optimizers.arm_optimizer('sgd', reference_recipe.get_config(), steps)
  optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
  size = steps * batch_size
  split = tuple(jnp.asarray(a) for a in input_pipeline.random_split(size))
  order = np.arange(size).reshape(steps, batch_size)
  mesh = distributed.data_mesh(jax.devices()[:1])
  sharding = distributed.batch_sharding(mesh)
  no_probe = trajectory.Probe(0, steps, 0)
  paths = [EPOCH_PATHS[path] for path in paths]

  def seconds(path):
    start = time.perf_counter()
    path(model, optimizer, split, order, jax.random.key(1), sharding, False,
         no_probe)  # fmt: skip
    jax.block_until_ready(nnx.state(model))
    return time.perf_counter() - start

  for path in paths:  # compile
    seconds(path)
  times = [[seconds(path) for path in paths] for _ in range(rounds)]
  return [float(t) for t in np.median(times, axis=0)]


def reduce_window_max_pool(x, stride):
  return nnx.max_pool(x, (3, 3), (stride, stride), ((1, 1), (1, 1)))


# The CPU speed-ups switched off, one at a time: (model, label, attribute of
# `models`, value while measuring).
BASELINES = [
  ('VGG16', 'no im2col', 'IM2COL_MAX_PIXELS', 0),
  ('GoogLeNet', 'reduce-window pools', 'max_pool_3x3', reduce_window_max_pool),
]


def print_step_table(args, dtype):
  """Seconds per training step per model and width, and the CPU speed-ups."""
  header = '{:34s} {:>6s} {:>11s} {:>8s} {:>9s}'
  columns = ['model', 'width', 'params', 's/step', 'images/s']
  if args.plp:
    header += ' {:>10s} {:>7s}'
    columns += ['plp s/step', 'plp/sgd']
  print(header.format(*columns))
  runs = [(name, '', None, None) for name in args.models]
  runs += [b for b in BASELINES if b[0] in args.models]
  for name, variant, attribute, value in runs:
    for width in args.widths:
      default = attribute and getattr(models, attribute)
      if attribute:
        setattr(models, attribute, value)
      try:
        arms = ('sgd', 'plp') if args.plp and not variant else ('sgd',)
        seconds, params = step_seconds(
          name, width, args.batch_size, args.steps, dtype, arms
        )
      finally:
        if attribute:
          setattr(models, attribute, default)
      label = f'{name} ({variant})' if variant else name
      rate = args.batch_size / seconds[0]
      line = f'{label:34s} {width:6.3g} {params:11,d} {seconds[0]:8.3f}'
      line += f' {rate:9.1f}'
      if len(seconds) == 2:
        line += f' {seconds[1]:10.3f} {seconds[1] / seconds[0]:7.3f}'
      print(line, flush=True)


def print_epoch_paths(args, dtype):
  """Seconds of an epoch of --epoch-steps steps, per path of `EPOCH_PATHS`."""
  print(f'seconds per epoch of {args.epoch_steps} steps:')
  names = list(EPOCH_PATHS)
  print(
    f'{"model":12s} {"width":>6s} '
    + ' '.join(f'{n:>12s}' for n in names)
    + f' {"per step / whole":>17s} {"per step / step a call":>23s}'
  )
  for name in args.models:
    for width in args.widths:
      whole, one, stepwise = epoch_path_seconds(
        name, width, args.batch_size, args.epoch_steps, dtype
      )
      print(
        f'{name:12s} {width:6.3g} {whole:12.3f} {one:12.3f} {stepwise:12.3f}'
        f' {stepwise / whole:17.3f} {stepwise / one:23.3f}',
        flush=True,
      )


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--batch-size', type=int, default=128)
  parser.add_argument('--steps', type=int, default=3)
  parser.add_argument('--widths', type=float, nargs='+', default=[0.25, 0.5, 1])
  parser.add_argument('--models', nargs='+', default=list(models.MODELS))
  parser.add_argument('--dtype', default='float32')
  parser.add_argument(
    '--plp', action='store_true', help='also time each model with plp()'
  )
  parser.add_argument(
    '--epoch-steps',
    type=int,
    default=0,
    help='instead, time epochs of this many steps, compiled vs per step',
  )
  args = parser.parse_args()
  dtype = jnp.dtype(args.dtype)
  print(
    f'jax {jax.__version__}, {jax.devices()[0].device_kind} '
    f'x{jax.device_count()}, batch {args.batch_size}, {args.dtype}'
  )
  if args.epoch_steps:
    print_epoch_paths(args, dtype)
  else:
    print_step_table(args, dtype)


if __name__ == '__main__':
  main()
