"""The paper's own scale on one accelerator, pair by pair, within a budget.

  python -m benchmarks.tools.paper_scale --out DIR --budget-seconds 480 [--tiny]

ResNet18 at width 1 for 100 epochs in bfloat16 with compiled epochs, the
paper's protocol (`configs/paper.py` as it stands: 20% of the
training split held out, a cyclic rate between 0.001 and 0.002), arms `sgd`
and `plp` on paired seeds; and, as a second block, each arm at the rate the
width-1/16 study chose for it (`studies/lr_sweep.CHOSEN`). Pairs run in turn,
block by block and seed by seed (paper seed 0, tuned seed 0, paper seed 1,
...), while the budget has room for another pair at the pace measured so far.
Each finished run's results.json is written at once to
DIR/BLOCK/seed_N/ARM.json (compact, a few hundred kB), so that whatever ends
the call, what finished comes back. CIFAR-100 comes from the compact copy
named by OPTAX_PLP_CIFAR100 (`tools/data_arrays.py`), or from TFDS.
`--tiny` runs the same on a few images at width 1/16 for the tests.
"""

import argparse
import os
import shutil
import tempfile
import time

from benchmarks import tasks
from benchmarks.cifar100.configs import paper as protocol_config
from benchmarks.harness import experiment
from benchmarks.harness import results_io
from benchmarks.studies import lr_sweep

ARMS = ('sgd', 'plp')
BLOCKS = ('paper', 'tuned')


def base_config(tiny):
  """The paper's protocol at full width and length (or its tiny stand-in)."""
  config = protocol_config.get_config()
  config.model, config.width, config.epochs = 'ResNet18', 1.0, 100
  config.compute_dtype = 'bfloat16'
  config.trajectory_probes = 0  # probes would split the compiled epochs
  config.progress = False
  if tiny:
    config.width, config.epochs, config.compute_dtype = 1 / 16, 2, 'float32'
    config.batch_size, config.eval_batch_size = 8, 12
    config.train_limit, config.test_limit = 32, 20
    config.validation_fraction = 0.25
    config.download = False
  return config


def run_config(tiny, block, arm, seed):
  """One run's config: `block`'s rates for `arm`, one seed."""
  config = base_config(tiny)
  config.arms, config.seeds = (arm,), (seed,)
  if block == 'tuned':
    rate = lr_sweep.CHOSEN[arm]
    config.learning_rate, config.max_learning_rate = rate, 2 * rate
  return config


def run_pair(tiny, block, seed, out, scratch):
  """Trains both arms of one seed; writes each results.json to `out`."""
  written = []
  for arm in ARMS:
    workdir = os.path.join(scratch, block, f'seed_{seed}', arm)
    results = tasks.train_and_evaluate(
      run_config(tiny, block, arm, seed), workdir
    )
    path = os.path.join(out, block, f'seed_{seed}', f'{arm}.json')
    results_io.write_json_atomically(path, results)
    shutil.rmtree(os.path.join(workdir, 'checkpoints'), ignore_errors=True)
    written.append(path)
  return written


def planned_pairs(max_seeds):
  """(block, seed) in the order they run: each block's seed 0 first."""
  return [(block, seed) for seed in range(max_seeds) for block in BLOCKS]


def run_within(budget_seconds, tiny, out, max_seeds=10):
  """Runs pairs while the budget has room for one more; what was written."""
  start, written, slowest = time.perf_counter(), [], 0.0
  with tempfile.TemporaryDirectory(prefix='paper_scale_') as scratch:
    for block, seed in planned_pairs(max_seeds):
      left = budget_seconds - (time.perf_counter() - start)
      if written and slowest > left:
        print(f'stopping: {left:.0f} s left, a pair took {slowest:.0f} s')
        break
      began = time.perf_counter()
      written += run_pair(tiny, block, seed, out, scratch)
      slowest = max(slowest, time.perf_counter() - began)
      print(f'{block} seed {seed}: both arms in {slowest:.0f} s', flush=True)
  return written


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--out', required=True)
  parser.add_argument('--budget-seconds', type=float, required=True)
  parser.add_argument('--max-seeds', type=int, default=10)
  parser.add_argument('--tiny', action='store_true')
  args = parser.parse_args(argv)
  experiment.log_progress()
  written = run_within(args.budget_seconds, args.tiny, args.out, args.max_seeds)
  print(f'{len(written)} runs written under {args.out}')


if __name__ == '__main__':
  main()
