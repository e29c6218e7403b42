"""One process per workdir: a lock held for the whole run.

Two runs in one workdir corrupt each other: orbax's start-up cleanup deletes
the other's save in progress, and each rewrites results.json with its own
runs. `held` takes WORKDIR/.lock, and the workdir directory itself, with
`fcntl.flock` before anything in the workdir is read or cleaned, and a
second process is refused with a message naming the holder (the directory's
lock holds even when the file is deleted). The kernel releases the locks
when their holder dies, however it dies, so a crashed run never blocks the
next; the holder's description,
left in the file by a run that did not end cleanly, is logged when the next
run takes the lock over.
"""

import contextlib
import datetime
import fcntl
import os
import socket
import sys

from absl import logging

from benchmarks.harness import atomic_files

LOCK_NAME = '.lock'


class WorkdirError(RuntimeError):
  """The workdir cannot be used: the message says why and what to do."""


class WorkdirInUseError(WorkdirError):
  """Another process holds the workdir's lock; the message names it."""


def usable_directory(workdir):
  """Creates `workdir` if missing; a WorkdirError where it cannot be used."""
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise WorkdirError(
      f'--workdir {workdir} is a file; give a directory (it is created if '
      'missing).'
    )
  try:
    os.makedirs(workdir, exist_ok=True)
  except OSError as error:
    raise WorkdirError(
      f'cannot create the workdir {workdir} ({error.strerror}); give one '
      'that can be created.'
    ) from None


def holder_description():
  """Who holds the lock: process, host, start time and command."""
  started = datetime.datetime.now().isoformat(timespec='seconds')
  return (
    f'process {os.getpid()} on {socket.gethostname()} since {started} '
    f'({" ".join(sys.argv)})'
  )


def read_holder(descriptor):
  os.lseek(descriptor, 0, os.SEEK_SET)
  return os.read(descriptor, 4096).decode(errors='replace').strip()


def write_holder(descriptor, text):
  os.ftruncate(descriptor, 0)
  os.lseek(descriptor, 0, os.SEEK_SET)
  os.write(descriptor, text.encode())
  os.fsync(descriptor)


def open_lock_file(workdir):
  path = os.path.join(workdir, LOCK_NAME)
  try:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  except OSError as error:
    raise WorkdirError(
      f'cannot write to the workdir {workdir} ({error.strerror}); give one '
      'you can write to.'
    ) from None


def lock_directory(workdir):
  """Locks the workdir directory itself; its descriptor, or None where the
  file system cannot lock a directory (the file lock still holds there).

  The file lock alone is bypassed when WORKDIR/.lock is deleted while held
  (a second run would create and lock a new file); the directory's is not.
  """
  descriptor = os.open(workdir, os.O_RDONLY)
  try:
    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    os.close(descriptor)
    raise
  except OSError:
    os.close(descriptor)
    return None
  return descriptor


@contextlib.contextmanager
def held(workdir):
  """Holds `workdir`'s lock while the block runs; a WorkdirError if taken."""
  usable_directory(workdir)
  descriptor = open_lock_file(workdir)
  try:
    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    directory = lock_directory(workdir)
  except BlockingIOError:
    holder = (
      read_holder(descriptor) or 'another process (its lock file was deleted)'
    )
    os.close(descriptor)
    raise WorkdirInUseError(
      f'the workdir {workdir} is in use by {holder}. Wait for that run to '
      'end (or stop it), or give another --workdir.'
    ) from None
  previous = read_holder(descriptor)
  if previous:
    logging.warning(
      'Took over the lock of %s: %s ended without releasing it.',
      workdir,
      previous,
    )
  try:
    write_holder(descriptor, holder_description())
    yield
  finally:
    os.ftruncate(descriptor, 0)  # a clean end leaves no holder behind
    os.close(descriptor)  # and releases the lock
    if directory is not None:
      os.close(directory)


def running_holder(workdir):
  """The description of the process that trains in `workdir` now, or ''.

  Read without taking the lock, so that a look never turns a starting run
  away: the holder a run writes is running where its process, on this host,
  is alive; a holder on another host (a shared file system) is tested by
  trying the lock itself.
  """
  path = os.path.join(workdir, LOCK_NAME)
  try:
    with open(path) as file:
      holder = file.read().strip()
  except OSError:
    return ''
  found = holder_process(holder)
  if found is None:
    return ''
  pid, host = found
  if host == socket.gethostname():
    return holder if atomic_files.running(pid) else ''
  return holder if locked_elsewhere(path) else ''


def holder_process(holder):
  """(process id, host) of a holder's description ('process PID on HOST
  since ...'), or None where it is not one."""
  fields = holder.split(' ', 4)
  if len(fields) < 4 or fields[0] != 'process' or not fields[1].isdigit():
    return None
  return int(fields[1]), fields[3]


def locked_elsewhere(path):
  """Whether another process holds the lock file at `path`."""
  descriptor = os.open(path, os.O_RDONLY)
  try:
    fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
  except BlockingIOError:
    return True
  finally:
    os.close(descriptor)  # releases the shared lock where it was taken
  return False
