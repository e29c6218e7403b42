"""The language model's training step: tokens/s, PLP's cost, and a CPU MFU.

Times the training step the runs use (`shakespeare.train.train_step`, one
compiled call a step, state donated) for each arm at the config's sizes, in
interleaved rounds so that drifts in machine load hit every arm alike, and
reports the median round. In the same process it measures this machine's
float32 matmul peak (the best of repeated square matmuls) and divides the
step's achieved FLOP/s by it. The FLOP count of a step is XLA's own
(`cost_analysis()` of the compiled step), printed beside the usual estimate
6 N + 12 L T C per token (N the parameters without the position embedding,
L layers, T context, C width: forward and backward of the matmuls and of
attention's scores and mixing).

  taskset -c 0 python -m benchmarks.tools.speed.lm_step_speed [--rounds 7] \
      [--steps 20] [--config benchmarks/shakespeare/configs/gpt_cpu.py]
"""

import argparse
import importlib.util
import platform
import statistics
import time

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.shakespeare import models
from benchmarks.shakespeare import train

VOCABULARY = 75  # the corpus's characters


def load_config(path):
  spec = importlib.util.spec_from_file_location('config', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


class TimedArm:
  """One arm's model, optimizer and compiled step, and its timings."""

  def __init__(self, arm, config, text):
    model = models.create(config, VOCABULARY, seed=0)
    optimizer = nnx.Optimizer(
      model, train.arm_optimizer(arm, config), wrt=nnx.Param
    )
    self.arm, self.config, self.text = arm, config, text
    # Copies, as the runs' placement on the devices makes them: an
    # optimizer's state may start as the very arrays of the parameters
    # (lookahead's slow weights), and the step donates both.
    self.graphdef, state = nnx.split((model, optimizer))
    self.state = jax.tree.map(jnp.copy, state)
    self.seconds, self.step = [], 0
    self.flops = self.compiled_flops()

  def starts(self):
    self.step += 1
    rng = np.random.default_rng(self.step)
    high = self.text.shape[0] - self.config.context
    return jnp.asarray(rng.integers(0, high, self.config.batch_size))

  def compiled_flops(self):
    lowered = train.train_step.lower(
      self.graphdef, self.state, self.text, self.starts(), self.config.context
    )
    analysis = lowered.compile().cost_analysis()
    if isinstance(analysis, list):  # older JAX: one dict per computation
      analysis = analysis[0]
    return float(analysis['flops'])

  def run(self, steps):
    """Takes `steps` steps; records the seconds per step."""
    batches = [self.starts() for _ in range(steps)]
    start = time.perf_counter()
    for starts in batches:
      self.state, loss, _ = train.train_step(
        self.graphdef, self.state, self.text, starts, self.config.context
      )
    loss.block_until_ready()
    self.seconds.append((time.perf_counter() - start) / steps)


def matmul_peak(size=1024, repeats=20):
  """This machine's float32 matmul FLOP/s: the best of `repeats` matmuls."""
  a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
  matmul = jax.jit(lambda x: x @ x)
  matmul(a).block_until_ready()
  best = min(timed(matmul, a) for _ in range(repeats))
  return 2 * size**3 / best


def timed(function, argument):
  start = time.perf_counter()
  function(argument).block_until_ready()
  return time.perf_counter() - start


def estimated_flops(config):
  """6 N + 12 L T C per token, times the step's tokens."""
  width, layers, context = config.width, config.layers, config.context
  n = models.gpt_parameter_count(VOCABULARY, context, layers, width)
  n -= context * width  # the position embedding: a lookup, no matmul
  per_token = 6 * n + 12 * layers * context * width
  return per_token * config.batch_size * context


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--rounds', type=int, default=7)
  parser.add_argument('--steps', type=int, default=20)
  parser.add_argument(
    '--config', default='benchmarks/shakespeare/configs/gpt_cpu.py'
  )
  args = parser.parse_args(argv)
  config = load_config(args.config)
  text = jax.random.randint(jax.random.key(1), (100_000,), 0, VOCABULARY)
  arms = [TimedArm(arm, config, text) for arm in train.ARMS]
  for arm in arms:
    arm.run(args.steps)  # compiles and warms up; not counted
    arm.seconds.clear()
  for _ in range(args.rounds):
    for arm in arms:
      arm.run(args.steps)
  peak = matmul_peak()
  print(report(arms, config, peak, args))


def report(arms, config, peak, args):
  """The table: per arm its step time, tokens/s, cost over adamw, MFU."""
  tokens = config.batch_size * config.context
  base = statistics.median(arms[0].seconds)
  lines = [
    f'{platform.processor() or platform.machine()}, JAX {jax.__version__}, '
    f'{jax.devices()[0].platform}; {args.rounds} rounds of {args.steps} '
    f'steps, median round; batch {config.batch_size} x context '
    f'{config.context} = {tokens} tokens a step',
    f'matmul peak (float32, 1024^3, best of 20): {peak / 1e9:.1f} GFLOP/s; '
    f'FLOPs a step: XLA {arms[0].flops / 1e9:.2f} G (adamw), estimate '
    f'6N + 12LTC: {estimated_flops(config) / 1e9:.2f} G',
    '',
    '| arm | ms/step | tokens/s | step time / adamw | XLA GFLOP a step | '
    'achieved GFLOP/s | of the matmul peak |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ]
  for arm in arms:
    seconds = statistics.median(arm.seconds)
    lines.append(
      f'| `{arm.arm}` | {1e3 * seconds:.1f} | {tokens / seconds:.0f} | '
      f'{seconds / base:.3f} | {arm.flops / 1e9:.2f} | '
      f'{arm.flops / seconds / 1e9:.1f} | {arm.flops / seconds / peak:.1%} |'
    )
  return '\n'.join(lines)


if __name__ == '__main__':
  main()
