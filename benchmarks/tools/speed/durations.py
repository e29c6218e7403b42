"""Times the commands whose durations the README, configs and docs state.

Runs each named command here, one after another, each in a fresh temporary
folder, and records its wall time in `benchmarks/results/durations.json`
with the command, the machine's cores and the date. Measure on a quiet
machine (no run or test beside it): the stated times are this machine's.
Every statement of a duration is written from the record (`phrase`), and a
test holds each file in `STATED_IN` to it.

  python -m benchmarks.tools.speed.durations [--only NAME ...]
"""

import argparse
import datetime
import json
import os
import pathlib
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[3]
RECORD = ROOT / 'benchmarks' / 'results' / 'durations.json'

# name -> the command, run in the checkout; {tmp} is a fresh folder, and
# `python` this interpreter.
COMMANDS = {
  'demo': 'python -m benchmarks.main '
  '--config=benchmarks/cifar100/configs/quick.py --workdir={tmp}/quick',
  'shakespeare_quick': 'python -m benchmarks.main '
  '--config=benchmarks/shakespeare/configs/gpt_quick.py '
  '--workdir={tmp}/gpt_quick',
  'smoke_study': 'python -m benchmarks.studies run smoke {tmp}/smoke',
  'quickstart_notebook': 'python -m jupyter execute '
  '--output={tmp}/quickstart.ipynb notebooks/quickstart.ipynb',
  # One run of a user's arm at the transformer's full budget (2,000 steps).
  'lion_run': 'python -m benchmarks.main '
  '--config=benchmarks/shakespeare/configs/gpt_cpu.py --workdir={tmp}/lion '
  '"--config.arms=(\'benchmarks.examples.lion:make\',)" '
  '--config.learning_rate=4e-3',
  # From a cold compilation cache, as CI starts (conftest.py keeps a cache
  # the caller names).
  'test_suite': 'make test',
}

# name -> the files that state its duration (each holds `phrase(name)`).
STATED_IN = {
  'demo': (
    'README.md',
    'benchmarks/cifar100/configs/quick.py',
    'notebooks/cifar100.ipynb',
  ),
  'shakespeare_quick': (
    'benchmarks/README.md',
    'benchmarks/shakespeare/configs/gpt_quick.py',
  ),
  'smoke_study': ('benchmarks/README.md',),
  'quickstart_notebook': ('README.md', 'notebooks/quickstart.ipynb'),
  'lion_run': ('docs/compare_your_optimizer.md',),
  'test_suite': ('README.md', 'CONTRIBUTING.md'),
}


def phrase(seconds):
  """How a stated time reads: to the nearest minute, or 10 s under 90 s."""
  if seconds < 90:
    return f'about {max(10, round(seconds, -1)):.0f} seconds'
  return f'about {round(seconds / 60)} minutes'


def shown(name):
  """`name`'s command as a reader types it."""
  return COMMANDS[name].format(tmp='TMP')


def timed(name):
  """Runs `name`'s command in a fresh folder; returns its wall seconds."""
  with tempfile.TemporaryDirectory() as tmp:
    words = shlex.split(COMMANDS[name].format(tmp=tmp))
    command = [sys.executable if w == 'python' else w for w in words]
    env = dict(os.environ)
    if name == 'test_suite':
      env['JAX_COMPILATION_CACHE_DIR'] = f'{tmp}/jax_cache'
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    return time.perf_counter() - started


def recorded():
  """The record as committed: name -> {command, seconds, cores, date}."""
  if not RECORD.exists():
    return {}
  return json.loads(RECORD.read_text())


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--only', nargs='+', choices=COMMANDS, default=COMMANDS)
  args = parser.parse_args(argv)
  record = recorded()
  for name in args.only:
    seconds = timed(name)
    record[name] = {
      'command': shown(name),
      'seconds': round(seconds, 1),
      'cores': os.cpu_count(),
      'date': datetime.date.today().isoformat(),
    }
    print(f'{name}: {seconds:.0f} s, {phrase(seconds)}', flush=True)
    RECORD.write_text(json.dumps(record, indent=2, sort_keys=True) + '\n')


if __name__ == '__main__':
  main()
