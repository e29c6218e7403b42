"""Training-step speed of the CIFAR-100 models, side by side in one process.

Times `train.train_step` (batch gather, augmentation, forward, backward, SGD
update) on random 32x32 images for each model and width, and VGG16 once more
with the im2col path for tiny feature maps switched off, to show what it buys.

  python -m benchmarks.models_speed [--batch-size 128] [--steps 3]
"""

import argparse
import time

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.cifar100 import models
from benchmarks.cifar100 import train


def step_seconds(name, width, batch_size, steps, dtype):
  """Median seconds of a compiled training step."""
  model = models.MODELS[name](100, width=width, dtype=dtype, rngs=nnx.Rngs(0))
  model.train()
  optimizer = nnx.Optimizer(model, train.make_optimizer(0.1), wrt=nnx.Param)
  shape = (batch_size, 32, 32, 3)
  images = jax.random.randint(jax.random.key(0), shape, 0, 256, jnp.uint8)
  labels = jnp.arange(batch_size) % 100
  batch = (images, labels, jnp.arange(batch_size), jax.random.key(1))
  jax.block_until_ready(train.train_step(model, optimizer, *batch))
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    jax.block_until_ready(train.train_step(model, optimizer, *batch))
    times.append(time.perf_counter() - start)
  params = sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
  return float(np.median(times)), params


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--batch-size', type=int, default=128)
  parser.add_argument('--steps', type=int, default=3)
  parser.add_argument('--widths', type=float, nargs='+', default=[0.25, 0.5, 1])
  parser.add_argument('--models', nargs='+', default=list(models.MODELS))
  parser.add_argument('--dtype', default='float32')
  args = parser.parse_args()
  dtype = jnp.dtype(args.dtype)
  print(
    f'jax {jax.__version__}, {jax.devices()[0].device_kind} '
    f'x{jax.device_count()}, batch {args.batch_size}, {args.dtype}'
  )
  header = ('model', 'width', 'params', 's/step', 'images/s')
  print('{:24s} {:>6s} {:>11s} {:>8s} {:>9s}'.format(*header))
  runs = [(name, width) for name in args.models for width in args.widths]
  if 'VGG16' in args.models:
    runs += [('VGG16 (no im2col)', w) for w in args.widths]
  for label, width in runs:
    name = label.split()[0]
    default_max_pixels = models.IM2COL_MAX_PIXELS
    if 'no im2col' in label:
      models.IM2COL_MAX_PIXELS = 0
    try:
      seconds, params = step_seconds(
        name, width, args.batch_size, args.steps, dtype
      )
    finally:
      models.IM2COL_MAX_PIXELS = default_max_pixels
    rate = args.batch_size / seconds
    print(f'{label:24s} {width:6.3g} {params:11,d} {seconds:8.3f} {rate:9.1f}')


if __name__ == '__main__':
  main()
