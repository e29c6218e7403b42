"""Training speed of concurrent runs on a CPU, each pinned to a core or not.

A study on a CPU runs one training process per core (a lane). Unpinned, each
process's XLA sizes its thread pool to every core it may use, so the lanes'
threads outnumber the cores; pinned (`taskset -c N`), each process sees one
core. This starts `--lanes` processes at once, each timing ResNet18's epochs
of one step a call (as a study trains on a CPU) on random images, unpinned
and pinned in alternating rounds, and prints each setting's images/s per
lane and the ratio pinned / unpinned.

  python -m benchmarks.tools.speed.lanes_speed [--lanes N] [--rounds 2] \
      [--steps 60] [--width 0.0625]
"""

import argparse
import importlib.metadata
import json
import os
import subprocess
import sys

import numpy as np

SETTINGS = ('unpinned', 'pinned')


def lane_cpus(lanes, pinned):
  """Each lane's core (in the cores this process may use), or None."""
  cores = sorted(os.sched_getaffinity(0))
  return [cores[i % len(cores)] if pinned else None for i in range(lanes)]


# What `taskset -c CPU COMMAND...` does, in Python (taskset may be missing):
# the new process pins itself, then becomes COMMAND. Pinning in the child
# instead (`preexec_fn`) would run Python code between fork and exec of a
# process whose JAX threads are running, which can deadlock.
PIN_THEN_EXEC = (
  'import os, sys; '
  'os.sched_setaffinity(0, {int(sys.argv[1])}); '
  'os.execvp(sys.argv[2], sys.argv[2:])'
)


def pinned(command, cpu):
  """`command`, run on core `cpu` only (unchanged if `cpu` is None)."""
  if cpu is None:
    return command
  return [sys.executable, '-c', PIN_THEN_EXEC, str(cpu), *command]


def run_lanes(command, cpus):
  """Starts `command` once per lane, on its core; each lane's printed rate."""
  lanes = [
    subprocess.Popen(pinned(command, cpu), stdout=subprocess.PIPE, text=True)
    for cpu in cpus
  ]
  outputs = [lane.communicate()[0] for lane in lanes]
  for lane in lanes:
    if lane.returncode:
      raise RuntimeError(f'a lane failed with status {lane.returncode}')
  return [json.loads(out.splitlines()[-1])['images_per_s'] for out in outputs]


def compare(command, lanes, rounds):
  """Setting -> every lane's images/s over `rounds` alternating rounds."""
  rates = {setting: [] for setting in SETTINGS}
  for _ in range(rounds):
    for setting in SETTINGS:
      cpus = lane_cpus(lanes, pinned=setting == 'pinned')
      rates[setting] += run_lanes(command, cpus)
  return rates


def time_one_lane(args):
  """Child: median images/s of an epoch of `args.steps` steps, as JSON."""
  import jax.numpy as jnp  # here, so the parent never starts JAX

  from benchmarks.tools.speed import models_speed

  seconds = models_speed.epoch_path_seconds(
    'ResNet18', args.width, args.batch_size, args.steps, jnp.float32,
    rounds=3, paths=('step a call',),
  )[0]  # fmt: skip
  rate = args.steps * args.batch_size / seconds
  print(json.dumps({'images_per_s': rate}))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--lanes', type=int, default=len(os.sched_getaffinity(0)))
  parser.add_argument('--rounds', type=int, default=2)
  parser.add_argument('--steps', type=int, default=60)
  parser.add_argument('--width', type=float, default=1 / 16)
  parser.add_argument('--batch-size', type=int, default=128)
  parser.add_argument('--lane', action='store_true', help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.lane:
    return time_one_lane(args)
  command = [sys.executable, '-m', __spec__.name, '--lane', *sys.argv[1:]]
  rates = compare(command, args.lanes, args.rounds)
  print(
    f'jax {importlib.metadata.version("jax")}, {os.cpu_count()} cores: '
    f'{args.lanes} lanes, ResNet18 width {args.width:g}, batch '
    f'{args.batch_size}, epochs of {args.steps} steps, one step a call, '
    f'{args.rounds} rounds'
  )
  for setting in SETTINGS:
    values = ' '.join(f'{r:.0f}' for r in rates[setting])
    print(f'{setting:9s} images/s per lane: {values}')
  ratio = np.mean(rates['pinned']) / np.mean(rates['unpinned'])
  print(f'pinned / unpinned (mean images/s per lane): {ratio:.3f}')


if __name__ == '__main__':
  main()
