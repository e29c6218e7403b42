"""Kills a tiny training run with SIGKILL again and again; it must resume.

  python -m benchmarks.fault_soak [--kills 12] [--seed 0] [--workroot DIR] \
      [--out benchmarks/results/fault_soak.md]

First two uninterrupted runs of `configs/tiny.py` (on the CIFAR-100 that
TFDS finds) give the reference and, once compilations are cached, a run's
wall time. Then each round trains into a fresh directory and
is killed twice: at a random moment of its wall time, start-up included, and,
once rerun, while orbax writes a checkpoint (a temporary directory of its
exists). After each kill the same command runs again, resuming from the
checkpoints. A round ends with a run left to
finish, whose results.json must equal the reference (`report.REPRODUCIBLE`:
every epoch's losses, errors and probes), and every rerun must succeed: a
leftover partial checkpoint may never block it. The tests run a short soak
on TFDS's mock data.
"""

import argparse
import dataclasses
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

from benchmarks.cifar100 import report

TINY_CONFIG = 'benchmarks/cifar100/configs/tiny.py'
PARTIAL_SAVE = 'orbax-checkpoint-tmp'  # in the name of a save in progress
POLL_SECONDS = 0.001


def command(workdir, launcher='benchmarks.cifar100.main', *flags):
  """The training command of the tiny config into `workdir`."""
  return [
    sys.executable, '-m', launcher, f'--config={TINY_CONFIG}',
    f'--workdir={workdir}', *flags,
  ]  # fmt: skip


def partial_saves(workdir):
  """The paths of checkpoint saves in progress (or cut off) under workdir."""
  found = []
  for root, directories, _ in os.walk(os.path.join(workdir, 'checkpoints')):
    found += [os.path.join(root, d) for d in directories if PARTIAL_SAVE in d]
  return found


def reproducible_results(workdir):
  """What of `workdir/results.json` a rerun must reproduce."""
  return report.reproducible(report.load_results(workdir))


def with_compilation_cache(env, directory):
  """`env` with JAX's disk cache of compilations in `directory` (unless set).

  Every rerun compiles the same steps; the cache saves them the time.
  """
  env = dict(env)
  env.setdefault('JAX_COMPILATION_CACHE_DIR', str(directory))
  env.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')
  return env


def wait_for(process, condition, timeout):
  """Polls `condition()` until true (True) or `process` ends (False)."""
  deadline = time.monotonic() + timeout
  while process.poll() is None:
    if condition():
      return True
    if time.monotonic() > deadline:
      process.kill()
      raise TimeoutError(f'no kill moment within {timeout:.0f} s')
    time.sleep(POLL_SECONDS)
  return False


def run_to_end(argv, env, timeout):
  done = subprocess.run(
    argv, env=env, capture_output=True, text=True, timeout=timeout, check=False
  )
  if done.returncode != 0:
    raise RuntimeError(
      f'{" ".join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}'
    )


@dataclasses.dataclass
class Kill:
  round: int
  moment: str  # 'during a save' or 'at N s'
  partial_saves_left: int  # temporary save directories the kill left


def kill_once(argv, env, workdir, moment, timeout):
  """Runs `argv` and kills it at `moment` (seconds, or 'save'); a Kill.

  None when the run finished before that moment.
  """
  before = set(partial_saves(workdir))
  if moment == 'save':  # a new one: an earlier kill may have left some
    condition = lambda: bool(set(partial_saves(workdir)) - before)  # noqa: E731
  else:
    start = time.monotonic()
    condition = lambda: time.monotonic() - start > moment  # noqa: E731
  # A file, not a pipe: a pipe nobody reads while polling could fill up and
  # stop the run.
  with tempfile.TemporaryFile('w+') as errors:
    process = subprocess.Popen(
      argv, env=env, stdout=subprocess.DEVNULL, stderr=errors
    )
    try:
      reached = wait_for(process, condition, timeout)
    finally:
      process.send_signal(signal.SIGKILL)
      process.wait()
    errors.seek(0)
    stderr = errors.read()[-3000:]
  if not reached:
    if process.returncode != 0:
      raise RuntimeError(f'a rerun failed ({process.returncode}):\n{stderr}')
    return None
  described = 'during a save' if moment == 'save' else f'at {moment:.1f} s'
  return Kill(0, described, len(partial_saves(workdir)))


def reference_run(workroot, launcher, env, timeout):
  """An uninterrupted run's `reproducible_results` and its wall time.

  It runs twice, the second time timed: the first fills the compilation
  cache, which makes every later run faster, so that its time would put
  most random moments after a rerun has finished.
  """
  directories = [os.path.join(workroot, f'reference_{i}') for i in (0, 1)]
  for directory in directories:
    start = time.monotonic()
    run_to_end(command(directory, launcher), env, timeout)
  results = [reproducible_results(d) for d in directories]
  if results[0] != results[1]:
    raise RuntimeError('two uninterrupted runs differ: nothing to compare.')
  return results[0], time.monotonic() - start


def soak(workroot, kills, seed, launcher, env=None, reference=None):
  """Rounds of kills and resumes until `kills` kills; returns the record.

  `reference`: the uninterrupted run's `reproducible_results` and its wall
  time in seconds, if known; else it runs first.
  """
  rng = random.Random(seed)
  env = with_compilation_cache(
    os.environ if env is None else env,
    os.path.join(workroot, 'compilation_cache'),
  )
  timeout = 900
  if reference is None:
    reference = reference_run(workroot, launcher, env, timeout)
  reference, run_seconds = reference
  record = {
    'kills': [], 'missed': 0, 'rounds': 0, 'equal': [],
    'run_seconds': run_seconds,
  }  # fmt: skip
  while len(record['kills']) < kills:
    workdir = os.path.join(workroot, f'round_{record["rounds"]}')
    argv = command(workdir, launcher)
    # First at a random moment of a fresh run (always within it), then while
    # the rerun saves (it has a save left unless the first kill came after
    # the last one).
    for moment in (rng.uniform(0, run_seconds), 'save'):
      if len(record['kills']) == kills:
        break
      kill = kill_once(argv, env, workdir, moment, timeout)
      if kill is None:
        record['missed'] += 1
        continue
      kill.round = record['rounds']
      record['kills'].append(kill)
    run_to_end(argv, env, timeout)
    record['equal'].append(reproducible_results(workdir) == reference)
    record['rounds'] += 1
  return record


def markdown(record, argv):
  kills = record['kills']
  lines = [
    '# Fault soak: SIGKILL at random moments, then resume',
    '',
    f'Command: `{" ".join(argv)}` ({time.strftime("%Y-%m-%d")})',
    '',
    f'- Kills: {len(kills)}, in {record["rounds"]} rounds of `configs/tiny.py` '
    f'(an uninterrupted run takes {record["run_seconds"]:.0f} s here, '
    'start-up included).',
    f'- Kills while orbax was writing a checkpoint: '
    f'{sum(k.moment == "during a save" for k in kills)}; they left a partial '
    f'save behind {sum(k.partial_saves_left > 0 for k in kills)} times, '
    'which the rerun removed and resumed past.',
    f'- Drawn moments that came after the run had finished (no kill): '
    f'{record["missed"]}.',
    f'- Every rerun succeeded; final results.json equal to the uninterrupted '
    f'run in {sum(record["equal"])} of {record["rounds"]} rounds.',
    '',
    '| round | killed | partial saves left |',
    '|---|---|---|',
  ]
  lines += [
    f'| {k.round} | {k.moment} | {k.partial_saves_left} |' for k in kills
  ]
  return '\n'.join(lines) + '\n'


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--kills', type=int, default=12)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--workroot')
  parser.add_argument('--launcher', default='benchmarks.cifar100.main')
  parser.add_argument('--out', default='benchmarks/results/fault_soak.md')
  args = parser.parse_args()
  workroot = args.workroot or tempfile.mkdtemp(prefix='fault_soak_')
  record = soak(workroot, args.kills, args.seed, args.launcher)
  text = markdown(
    record, ['python', '-m', 'benchmarks.fault_soak'] + sys.argv[1:]
  )
  print(text)
  with open(args.out, 'w') as file:
    file.write(text)
  if not all(record['equal']):
    sys.exit('error: a resumed run differs from the uninterrupted one.')


if __name__ == '__main__':
  main()
