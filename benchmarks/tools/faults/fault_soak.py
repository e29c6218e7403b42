"""Kills a tiny training run with SIGKILL again and again; it must resume.

  python -m benchmarks.tools.faults.fault_soak [--kills 12] [--seed 0] \
      [--workroot DIR] [--out workdir/fault_soak.md]

First two uninterrupted runs of `configs/tiny.py` (on the CIFAR-100 that
TFDS finds) give the reference. Then each round trains into a fresh
directory and is killed twice: while orbax writes its first checkpoint (the
run stops itself once the save's temporary directory exists, see
`stop_in_save.py`, and is killed then: no guess at when saves happen), and,
once rerun, at a random moment within the time that first run took, start-up
included. After each kill the same command runs again, resuming from the
checkpoints. A round ends with a run left to finish, whose results.json
must equal the reference (its task's `reproducible` fields: every epoch's
losses, errors and probes), and every rerun must succeed: a
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
import threading
import time

from benchmarks import tasks

TINY_CONFIG = 'benchmarks/cifar100/configs/tiny.py'
PARTIAL_SAVE = 'orbax-checkpoint-tmp'  # in the name of a save in progress
POLL_SECONDS = 0.05


def command(workdir, launcher='benchmarks.main', *flags):
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
  return tasks.reproducible(tasks.load_results(workdir))


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


def stopped_or_ended(process, timeout):
  """Waits until `process` stops itself (True) or ends (False).

  It is left waitable either way (WNOWAIT), for `Popen.wait` to reap.
  """
  timer = threading.Timer(timeout, process.kill)
  timer.start()
  try:
    info = os.waitid(
      os.P_PID, process.pid, os.WEXITED | os.WSTOPPED | os.WNOWAIT
    )
  finally:
    timer.cancel()
  if info.si_code == os.CLD_KILLED and info.si_status == signal.SIGKILL:
    raise TimeoutError(f'no save within {timeout:.0f} s')
  return info.si_code == os.CLD_STOPPED


def ran_past(process, seconds):
  """Whether `process` still runs `seconds` from now."""
  try:
    process.wait(timeout=seconds)
  except subprocess.TimeoutExpired:
    return True
  return False


def run_to_end(argv, env, timeout):
  done = subprocess.run(
    argv, env=env, capture_output=True, text=True, timeout=timeout, check=False
  )
  if done.returncode != 0:
    raise RuntimeError(
      f'{" ".join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}'
    )
  return done


@dataclasses.dataclass
class Kill:
  round: int
  moment: str  # 'during a save' or 'at N s'
  partial_saves_left: int  # temporary save directories this kill left
  seconds: float  # from the run's start to the kill


def kill_once(argv, env, workdir, moment, timeout):
  """Runs `argv` and kills it at `moment` (seconds, or 'save'); a Kill.

  For 'save' the run stops itself once a save is open (`stop_in_save`) and
  is killed then. None when the run finished before that moment.
  """
  if moment == 'save':
    argv = [argv[0], '-m', 'benchmarks.tools.faults.stop_in_save', *argv[2:]]
  # A file, not a pipe: a pipe nobody reads while waiting could fill up and
  # stop the run.
  before = set(partial_saves(workdir))  # an earlier kill may have left some
  start = time.monotonic()
  with tempfile.TemporaryFile('w+') as errors:
    process = subprocess.Popen(
      argv, env=env, stdout=subprocess.DEVNULL, stderr=errors
    )
    try:
      if moment == 'save':
        reached = stopped_or_ended(process, timeout)
      else:
        reached = ran_past(process, moment)
      seconds = time.monotonic() - start
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
  left = set(partial_saves(workdir)) - before
  return Kill(0, described, len(left), seconds)


def reference_run(workroot, launcher, env, timeout):
  """An uninterrupted run's `reproducible_results`, checked twice."""
  directories = [os.path.join(workroot, f'reference_{i}') for i in (0, 1)]
  for directory in directories:
    run_to_end(command(directory, launcher), env, timeout)
  results = [reproducible_results(d) for d in directories]
  if results[0] != results[1]:
    raise RuntimeError('two uninterrupted runs differ: nothing to compare.')
  return results[0]


def soak(
  workroot, kills, seed, launcher, env=None, reference=None, max_rounds=None
):
  """Rounds of kills and resumes until `kills` kills; returns the record.

  Each round kills a fresh run while it writes its first checkpoint, then
  the rerun at a random moment within the time the killed run took to get
  there (so the window is measured on this machine, as it is loaded now),
  then lets a last rerun finish. `reference`: the uninterrupted run's
  `reproducible_results`, if known; else it runs first.
  """
  rng = random.Random(seed)
  env = with_compilation_cache(
    os.environ if env is None else env,
    os.path.join(workroot, 'compilation_cache'),
  )
  timeout = 900
  if reference is None:
    reference = reference_run(workroot, launcher, env, timeout)
  # A round whose drawn moments all come after its rerun ends kills nothing;
  # the rounds are capped, so that a machine where that keeps happening ends.
  max_rounds = max_rounds or 3 * kills
  record = {'kills': [], 'missed': 0, 'rounds': 0, 'equal': [], 'asked': kills}
  while len(record['kills']) < kills and record['rounds'] < max_rounds:
    workdir = os.path.join(workroot, f'round_{record["rounds"]}')
    argv = command(workdir, launcher)
    moment = 'save'
    while moment is not None and len(record['kills']) < kills:
      kill = kill_once(argv, env, workdir, moment, timeout)
      if kill is None:
        record['missed'] += 1
        break
      kill.round = record['rounds']
      record['kills'].append(kill)
      moment = rng.uniform(0, kill.seconds) if moment == 'save' else None
    run_to_end(argv, env, timeout)
    record['equal'].append(reproducible_results(workdir) == reference)
    record['rounds'] += 1
  return record


def markdown(record, argv):
  kills = record['kills']
  in_saves = [k for k in kills if k.moment == 'during a save']
  lines = [
    '# Fault soak: SIGKILL at random moments, then resume',
    '',
    f'Command: `{" ".join(argv)}` ({time.strftime("%Y-%m-%d")})',
    '',
    f'- Kills: {len(kills)}, in {record["rounds"]} rounds of '
    '`configs/tiny.py`.',
    f'- Kills while orbax was writing a checkpoint (each run stopped itself '
    'once a save was open, and was killed then): '
    f'{len(in_saves)}; {sum(k.partial_saves_left > 0 for k in in_saves)} of '
    'them left a partial save behind, which the rerun removed and resumed '
    'past.',
    '- Kills of the rerun at a random moment within the time the killed run '
    f'took to open its save: {len(kills) - len(in_saves)} ('
    f'{sum(k.partial_saves_left > 0 for k in kills if k not in in_saves)} '
    'of them left a partial save); drawn moments that came after the rerun '
    f'had finished (no kill): {record["missed"]}.',
    f'- Every rerun succeeded; final results.json equal to the uninterrupted '
    f'run in {sum(record["equal"])} of {record["rounds"]} rounds.',
    *(
      [
        f'- **Stopped at the cap of {record["rounds"]} rounds with '
        f'{len(kills)} kills of the {record["asked"]} asked**: too many drawn '
        'moments came after the rerun had finished.'
      ]
      if len(kills) < record['asked']
      else []
    ),
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
  parser.add_argument('--kills', type=int, default=12, help='>= 1')
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--workroot')
  parser.add_argument('--launcher', default='benchmarks.main')
  parser.add_argument(
    '--out', default='workdir/fault_soak.md',
    help='the record (the committed one is benchmarks/results/fault_soak.md)',
  )  # fmt: skip
  args = parser.parse_args()
  if args.kills < 1:
    parser.error(f'--kills is {args.kills}; allowed: an int >= 1.')
  workroot = args.workroot or tempfile.mkdtemp(prefix='fault_soak_')
  record = soak(workroot, args.kills, args.seed, args.launcher)
  text = markdown(
    record,
    ['python', '-m', 'benchmarks.tools.faults.fault_soak'] + sys.argv[1:],
  )
  print(text)
  with open(args.out, 'w') as file:
    file.write(text)
  if not all(record['equal']):
    sys.exit('error: a resumed run differs from the uninterrupted one.')


if __name__ == '__main__':
  main()
