"""Runs a command while busy loops keep every core of this machine busy.

  python -m tests.support.under_load COMMAND [ARGS ...]

One spinning process per core (`os.cpu_count()`) at the command's priority,
so that the command gets about half the machine: every test must still pass
on a machine at least 2x slower than this one. Exits with the command's
status; the loops end with it.
"""

import multiprocessing
import os
import subprocess
import sys
import time


def spin():
  while True:
    pass


def main():
  command = sys.argv[1:]
  if not command:
    sys.exit('usage: python -m tests.support.under_load COMMAND [ARGS ...]')
  hogs = [
    multiprocessing.Process(target=spin, daemon=True)
    for _ in range(os.cpu_count() or 1)
  ]
  for hog in hogs:
    hog.start()
  start = time.monotonic()
  try:
    status = subprocess.call(command)
  finally:
    for hog in hogs:
      hog.terminate()
  print(
    f'under_load: {len(hogs)} busy loops; {" ".join(command)} exited '
    f'{status} after {time.monotonic() - start:.0f} s',
    flush=True,
  )
  sys.exit(status)


if __name__ == '__main__':
  main()
