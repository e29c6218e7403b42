"""What `import benchmarks.main` costs beyond the libraries a run needs.

Times, in fresh interpreters and alternating over `--rounds`, importing the
libraries every run imports (jax, flax, optax, orbax) and importing
`benchmarks.main` (which imports them too), and prints the medians and
their difference: the harness's own cost before a run starts. Which task's
modules a run imports is tested (tests/harness/layering_test.py).

  python -m benchmarks.tools.speed.import_time [--rounds 5]
"""

import argparse
import statistics
import subprocess
import sys
import time

IMPORTS = {
  'jax, flax, optax, orbax': 'import jax, flax.nnx, optax, orbax.checkpoint',
  'benchmarks.main': 'import benchmarks.main',
}


def timed(statement):
  """Seconds a fresh interpreter takes to run `statement` and exit."""
  started = time.perf_counter()
  subprocess.run([sys.executable, '-c', statement], check=True)
  return time.perf_counter() - started


def medians(rounds):
  """Name -> median seconds of IMPORTS, timed in alternating order."""
  times = {name: [] for name in IMPORTS}
  for _ in range(rounds):
    for name, statement in IMPORTS.items():
      times[name].append(timed(statement))
  return {name: statistics.median(t) for name, t in times.items()}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--rounds', type=int, default=5)
  args = parser.parse_args(argv)
  found = medians(args.rounds)
  for name, seconds in found.items():
    print(f'{name:26s} {seconds:5.2f} s (median of {args.rounds})')
  libraries, main_module = found.values()
  print(f'benchmarks.main beyond them: {main_module - libraries:+.2f} s')


if __name__ == '__main__':
  main()
