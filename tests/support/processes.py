"""Running the harness's command as a real process, for the tests: start it,
wait for its events (the lock's holder, its end), read its one-line error.

Never a guessed moment: every wait is for an event, bounded by `TIMEOUT`
only as a guard against a hang.
"""

import pathlib
import subprocess

from benchmarks.harness import workdir_lock
from benchmarks.tools.faults import fault_soak

TIMEOUT = 600  # seconds: a guard against a hang, never a measured moment
LAUNCHER = 'tests.support.mock_main'


def start(workdir, *flags, launcher=LAUNCHER):
  return subprocess.Popen(
    fault_soak.command(workdir, launcher, *flags),
    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
  )  # fmt: skip


def finish(process):
  """(return code, stderr) of `process`, once it has ended."""
  _, stderr = process.communicate(timeout=TIMEOUT)
  return process.returncode, stderr


def lock_holder(workdir):
  path = pathlib.Path(workdir) / workdir_lock.LOCK_NAME
  return path.read_text() if path.exists() else ''


def wait_until_locked(process, workdir):
  """Waits until `process` holds the workdir's lock (its pid is written)."""
  held = fault_soak.wait_for(
    process, lambda: f'process {process.pid} ' in lock_holder(workdir), TIMEOUT
  )
  assert held, 'the run never took the lock'


def short_error(stderr):
  """The error a failed run ends with: 'error: ...', in one or two lines."""
  lines = stderr.strip().splitlines()
  starts = [i for i, line in enumerate(lines) if line.startswith('error: ')]
  assert starts and len(lines) - starts[-1] <= 2, stderr[-3000:]
  message = ' '.join(lines[starts[-1] :])
  assert len(message) < 1000, message
  return message
