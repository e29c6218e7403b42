"""One prepared check of the accelerator path; writes DIR/<device>.md.

  python -m benchmarks.tools.device_check [--tiny] [--out DIR] \
      [--train-seconds 150]

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
   else on random images of its shape: then speed only, no errors.

Each section is written to the report as soon as it ends; a failing section
is reported with its traceback and the next one still runs. It is sized to
finish within 6 minutes on one H100 or H200, compilation included. --tiny
runs the same sections at toy sizes on a CPU in about two minutes, for the
test suite.

It needs jax, flax, optax, orbax-checkpoint, absl-py, ml_collections and
tabulate, and neither TensorFlow nor TFDS. On an accelerator image without
ml_collections and tabulate (pure Python), carry their wheels: `make
device-wheels` puts them in `.whl/`, and on the machine

  python3 -m pip install -q --no-index --no-deps --target /tmp/site \
      .whl/*.whl &&
  PYTHONPATH=/tmp/site python3 -m benchmarks.tools.device_check
"""

import argparse
import datetime
import os
import platform
import time
import traceback

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks.cifar100 import input_pipeline
from benchmarks.cifar100 import optimizers
from benchmarks.cifar100 import train
from benchmarks.cifar100.configs import reference_recipe
from benchmarks.harness import atomic_files
from benchmarks.harness import distributed
from benchmarks.tools.speed import models_speed
from benchmarks.tools.speed import update_overhead

RANDOM_SOURCE = "random images of CIFAR-100's shape (no dataset here)"
RANDOM_NOTE = (
  'Speed only: the images and labels are random, so the errors mean nothing '
  'and are not shown.'
)
TEST_ERRORS = ('top1_error', 'top5_error')
# SGD and SGD with each of PLP's rules that an arm trains with.
RULE_ARMS = tuple(
  name
  for name, arm in optimizers.ARMS.items()
  if arm.base == 'sgd' and not arm.matched_step
)
# Each compilation of a width-1 model costs tens of seconds: PLP's variants
# are timed on ResNet18 only, to stay within the 6 minutes.
FULL = {
  'overhead_models': ('ResNet18', 'VGG16'),
  'step_arms': {
    'ResNet18': RULE_ARMS,
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
    for name, ms, ratio, state in update_overhead.overhead_rows(arms):
      lines.append(
        f'| {tree} | {name} | {ms:.3f} | {ratio:.3f} | {state:.2f} |'
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


def training_data(config, mesh):
  """CIFAR-100 where TFDS finds it, else random images; and what it is."""
  try:
    return train.load_data(config, mesh), 'CIFAR-100'
  except input_pipeline.DatasetUnavailableError as error:
    print(f'No dataset, training on random images: {error}', flush=True)
    return train.random_data(config, mesh), RANDOM_SOURCE


def training_section(sizes, budget_seconds):
  """ResNet18, sgd vs plp, one seed, epochs for as long as the budget lasts."""
  config = training_config(sizes)
  mesh = distributed.data_mesh()
  data, source = training_data(config, mesh)
  real = source != RANDOM_SOURCE
  columns = ['arm', 'epochs', 's/epoch (first, then median)', 'images/s']
  columns += ['test top-1', 'test top-5'] if real else []
  lines = ['| ' + ' | '.join(columns) + ' |', '| --- ' * len(columns) + '|']
  for arm in ('sgd', 'plp'):
    records = train.train_for(config, arm, 0, data, mesh, budget_seconds / 2)
    seconds = [r['wall_seconds'] for r in records]
    rest = np.median(seconds[1:]) if len(seconds) > 1 else float('nan')
    cells = [
      arm, str(len(records)), f'{seconds[0]:.1f}, {rest:.2f}',
      f'{np.median([r["images_per_second"] for r in records]):.0f}',
    ]  # fmt: skip
    if real:
      cells += [f'{100 * records[-1][m]:.2f}' for m in TEST_ERRORS]
    lines.append('| ' + ' | '.join(cells) + ' |')
  note = '' if real else f'\n\n{RANDOM_NOTE}'
  return (
    f'## 4. ResNet18 training (width {sizes["width"]}, {sizes["dtype"]}, '
    f'reference recipe, seed 0) on {source}\n\n' + '\n'.join(lines) + note
  )


def run_section(section):
  """A section's text with its time; a failure is reported, not raised."""
  start = time.perf_counter()
  try:
    text, failed = section(), False
  except Exception:  # Any failure: the next sections still run.
    text, failed = f'**Failed:**\n\n```\n{traceback.format_exc()}```', True
  return text + f'\n\n({time.perf_counter() - start:.0f} s)', failed


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--tiny', action='store_true')
  parser.add_argument('--out', default='benchmarks/results/device')
  parser.add_argument('--train-seconds', type=float, default=150)
  args = parser.parse_args()
  sizes = TINY if args.tiny else FULL
  budget = 10 if args.tiny else args.train_seconds
  os.makedirs(args.out, exist_ok=True)
  path = os.path.join(
    args.out, f'{device_name()}{"-tiny" if args.tiny else ""}.md'
  )
  print(header(), flush=True)
  texts, failures = [header()], 0
  for section in (
    lambda: overhead_section(sizes),
    lambda: step_section(sizes),
    lambda: epoch_paths_section(sizes),
    lambda: training_section(sizes, budget),
  ):
    text, failed = run_section(section)
    failures += failed
    print(text + '\n', flush=True)
    texts.append(text)
    # Each section is kept as soon as it ends, in a report marked incomplete,
    # so that a run stopped in a later one (a time limit, a crash) keeps it.
    atomic_files.write_atomically(
      partial_path(path), f'{INCOMPLETE}\n\n' + join(texts)
    )
  # Only a complete report replaces the one before; never a partial one.
  atomic_files.write_atomically(path, join(texts))
  os.remove(partial_path(path))
  print(f'wrote {path}')
  if failures:
    raise SystemExit(f'{failures} section(s) failed; see {path}.')


INCOMPLETE = (
  '**Incomplete: this run was cut short; below are the sections that '
  'finished.**'
)


def partial_path(path):
  """Where a report in progress is kept: beside the complete one."""
  return path.removesuffix('.md') + '.partial.md'


def join(texts):
  return '\n\n'.join(texts) + '\n'


if __name__ == '__main__':
  main()
