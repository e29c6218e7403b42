"""Wall time of one small study through each engine, side by side.

Trains the `smoke` study's runs (with `--seeds` seeds a job) in a fresh
folder three times, in alternating order over `--rounds`: one by one
(`--executor=inline`), as local processes two at a time (`--executor=local
--parallel 2`), and as a SLURM job array two at a time (`--executor=slurm
--array_parallelism=2`, where SLURM answers: start one with `python -m
tests.support.single_node_slurm -- COMMAND`). Prints each engine's wall
times and their ratios to one by one.

  python -m benchmarks.tools.speed.engine_speed [--rounds 2] [--seeds 4]
"""

import argparse
import dataclasses
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchmarks.studies import engine
from benchmarks.studies import smoke

ENGINES = {
  'one by one': engine.Options(executor='inline'),
  'local, 2 at a time': engine.Options(executor='local', parallel=2),
  'slurm, 2 at a time': engine.Options(executor='slurm', array_parallelism=2),
}


def study_with(seeds):
  """The smoke study with `seeds` seeds a job."""
  jobs = {job: {**o, 'seeds': tuple(range(seeds))} for job, o in
          smoke.STUDY.jobs.items()}  # fmt: skip
  return dataclasses.replace(smoke.STUDY, jobs=jobs)


def timed(name, seeds):
  """Seconds the study takes through the engine `name`, in a fresh folder
  and a fresh process."""
  workroot = tempfile.mkdtemp(prefix='engine_speed_')
  try:
    started = time.perf_counter()
    subprocess.run(
      [sys.executable, '-m', __spec__.name, '--one', name, '--seeds',
       str(seeds), '--workroot', workroot],
      check=True, capture_output=True, text=True,
    )  # fmt: skip
    return time.perf_counter() - started
  finally:
    shutil.rmtree(workroot, ignore_errors=True)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--rounds', type=int, default=2)
  parser.add_argument('--seeds', type=int, default=4)
  parser.add_argument('--one', choices=ENGINES, help=argparse.SUPPRESS)
  parser.add_argument('--workroot', help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.one:  # one timed study, in this process
    study = study_with(args.seeds)
    sys.exit(engine.submit(study, args.workroot, ENGINES[args.one]))
  slurm_up = subprocess.run(['sinfo'], capture_output=True, check=False)
  names = [n for n in ENGINES if 'slurm' not in n or slurm_up.returncode == 0]
  print(
    f'smoke study, 2 jobs x {args.seeds} seeds, {args.rounds} rounds; '
    f'{os.cpu_count()} cores, submitit {importlib.metadata.version("submitit")}'
  )
  times = {name: [] for name in names}
  for round_number in range(args.rounds):
    for name in names if round_number % 2 == 0 else names[::-1]:
      times[name].append(timed(name, args.seeds))
  base = min(times['one by one'])
  for name, seconds in times.items():
    shown = ' '.join(f'{s:.1f}' for s in seconds)
    print(
      f'{name:20s} s: {shown}   best / one by one: {min(seconds) / base:.2f}'
    )


if __name__ == '__main__':
  main()
