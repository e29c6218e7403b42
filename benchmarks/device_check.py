"""One prepared check of the accelerator path; writes DIR/<device>.md.

  python -m benchmarks.device_check [--tiny] [--out DIR] [--train-seconds 150]

Sections, each measured side by side in this one process:
1. `update_overhead` at ResNet18's and VGG16's full sizes: each PLP rule's
   update time over the base optimizer's, and its state bytes.
2. The training step of each model (width 1, batch 128, bfloat16), with and
   without PLP (ResNet18: each rule), alternating: images/s and the ratio to
   SGD's step.
3. An epoch's steps compiled into one call against one call per step.
4. ResNet18 (width 1, bfloat16, the reference recipe), `sgd` and `plp`, one
   seed, for as many epochs as fit in --train-seconds: seconds per epoch,
   images/s and the test errors. On real CIFAR-100 where TFDS finds it,
   else on random images of its shape (then the errors mean nothing).

It is sized to finish within 6 minutes on one H100 or H200, compilation
included. --tiny runs the same sections at toy sizes on a CPU in about two
minutes, for the test suite.
"""

import argparse
import datetime
import os
import platform
import time

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks import update_overhead
from benchmarks.cifar100 import experiment
from benchmarks.cifar100 import input_pipeline
from benchmarks.cifar100 import models_speed
from benchmarks.cifar100.configs import reference_recipe

VARIANTS = ('sgd', 'plp', 'plp_quadratic', 'plp_gated')
# Each compilation of a width-1 model costs tens of seconds: PLP's variants
# are timed on ResNet18 only, to stay within the 6 minutes.
FULL = {
  'overhead_models': ('ResNet18', 'VGG16'),
  'step_arms': {
    'ResNet18': VARIANTS,
    'VGG16': ('sgd', 'plp'),
    'GoogLeNet': ('sgd', 'plp'),
  },
  'rounds': 10,
  'width': 1.0,
  'batch_size': 128,
  'dtype': 'bfloat16',
  'steps': 20,
  'epoch_steps': 50,
  'train_limit': None,
}
TINY = {
  'overhead_models': (),  # toy shapes instead
  'step_arms': {'ResNet18': ('sgd', 'plp')},
  'rounds': 2,
  'width': 0.0625,
  'batch_size': 16,
  'dtype': 'float32',
  'steps': 2,
  'epoch_steps': 4,
  'train_limit': 64,
}


def device_name():
  device = jax.devices()[0]
  return f'{device.platform}-{device.device_kind}'.replace(' ', '_').lower()


def header():
  now = datetime.datetime.now(datetime.timezone.utc)
  return (
    f'# Device check: {jax.devices()[0].device_kind} x{jax.device_count()}\n\n'
    f'{now:%Y-%m-%d %H:%M} UTC; jax {jax.__version__}, flax '
    f'{flax.__version__}, optax {optax.__version__}; '
    f'{platform.processor() or platform.machine()}\n'
  )


def overhead_section(sizes):
  """Each optimizer's update time over its base's, and PLP's state bytes."""
  trees = [
    (m, update_overhead.parameter_shapes(m)) for m in sizes['overhead_models']
  ]
  trees = trees or [('toy', [(64, 64), (64,)] * 4)]
  lines = ['| tree | optimizer | ms/step | x base | PLP state/params |']
  lines.append('| --- | --- | --- | --- | --- |')
  for tree, shapes in trees:
    arms = update_overhead.measure(shapes, sizes['rounds'], steps=6)
    for name, arm in arms.items():
      seconds = np.median(arm.seconds)
      ratio = seconds / np.median(arms[arm.base].seconds)
      lines.append(
        f'| {tree} | {name} | {1e3 * seconds:.3f} | {ratio:.3f} '
        f'| {arm.state_ratio:.2f} |'
      )
  return '## 1. Update overhead\n\n' + '\n'.join(lines)


def step_section(sizes):
  """Training-step speed of each model with each arm, alternating."""
  dtype = jnp.dtype(sizes['dtype'])
  lines = [
    '| model | arm | s/step | images/s | x sgd |',
    '| --- | --- | --- | --- | --- |',
  ]
  for name, arms in sizes['step_arms'].items():
    seconds, _ = models_speed.step_seconds(
      name, sizes['width'], sizes['batch_size'], sizes['steps'], dtype, arms
    )
    for arm, s in zip(arms, seconds, strict=True):
      lines.append(
        f'| {name} | {arm} | {s:.4f} | {sizes["batch_size"] / s:.0f} '
        f'| {s / seconds[0]:.3f} |'
      )
  return (
    f'## 2. Training step (width {sizes["width"]}, batch '
    f'{sizes["batch_size"]}, {sizes["dtype"]})\n\n' + '\n'.join(lines)
  )


def epoch_paths_section(sizes):
  """An epoch's steps in one compiled call against one call per step."""
  dtype = jnp.dtype(sizes['dtype'])
  times = models_speed.epoch_path_seconds(
    'ResNet18', sizes['width'], sizes['batch_size'], sizes['epoch_steps'], dtype
  )
  lines = ['| path | s per epoch | per step / path |', '| --- | --- | --- |']
  for path, seconds in zip(models_speed.EPOCH_PATHS, times, strict=True):
    lines.append(f'| {path} | {seconds:.3f} | {times[-1] / seconds:.2f} |')
  return (
    f'## 3. Compiled epochs (ResNet18, {sizes["epoch_steps"]} steps)\n\n'
    + '\n'.join(lines)
  )


def training_config(sizes):
  config = reference_recipe.get_config()
  config.width = sizes['width']
  config.compute_dtype = sizes['dtype']
  config.batch_size = sizes['batch_size']
  config.train_limit = sizes['train_limit']
  config.test_limit = sizes['train_limit']
  config.download = False
  config.progress = False
  config.trajectory_probes = 0
  return config  # 200 epochs: `train_for` stops when the time is spent


def training_section(sizes, budget_seconds):
  """ResNet18, sgd vs plp, one seed, epochs for as long as the budget lasts."""
  config = training_config(sizes)
  mesh = jax.sharding.Mesh(np.array(jax.devices()), ('data',))
  try:
    data = experiment.load_data(config, mesh)
    source = 'CIFAR-100'
  except input_pipeline.DatasetUnavailableError:
    data = experiment.random_data(config, mesh)
    source = "random images of CIFAR-100's shape (no dataset here)"
  lines = [
    '| arm | epochs | s/epoch (first, then median) | images/s | test top-1 '
    '| test top-5 |',
    '| --- | --- | --- | --- | --- | --- |',
  ]
  for arm in ('sgd', 'plp'):
    records = experiment.train_for(
      config, arm, 0, data, mesh, budget_seconds / 2
    )
    seconds = [r['wall_seconds'] for r in records]
    rest = np.median(seconds[1:]) if len(seconds) > 1 else float('nan')
    lines.append(
      f'| {arm} | {len(records)} | {seconds[0]:.1f}, {rest:.2f} '
      f'| {np.median([r["images_per_second"] for r in records]):.0f} '
      f'| {100 * records[-1]["top1_error"]:.2f} '
      f'| {100 * records[-1]["top5_error"]:.2f} |'
    )
  return (
    f'## 4. ResNet18 training (width {sizes["width"]}, {sizes["dtype"]}, '
    f'reference recipe, seed 0) on {source}\n\n' + '\n'.join(lines)
  )


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--tiny', action='store_true')
  parser.add_argument('--out', default='benchmarks/results/device')
  parser.add_argument('--train-seconds', type=float, default=150)
  args = parser.parse_args()
  sizes = TINY if args.tiny else FULL
  budget = 10 if args.tiny else args.train_seconds
  print(header(), flush=True)
  sections = [header()]
  for section in (
    lambda: overhead_section(sizes),
    lambda: step_section(sizes),
    lambda: epoch_paths_section(sizes),
    lambda: training_section(sizes, budget),
  ):
    start = time.perf_counter()
    text = section() + f'\n\n({time.perf_counter() - start:.0f} s)'
    print(text + '\n', flush=True)
    sections.append(text)
  os.makedirs(args.out, exist_ok=True)
  path = os.path.join(
    args.out, f'{device_name()}{"-tiny" if args.tiny else ""}.md'
  )
  with open(path, 'w') as file:
    file.write('\n\n'.join(sections) + '\n')
  print(f'wrote {path}')


if __name__ == '__main__':
  main()
