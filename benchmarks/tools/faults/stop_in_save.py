"""Runs a training launcher that stops itself once a checkpoint save is open.

  python -m benchmarks.tools.faults.stop_in_save LAUNCHER [its flags]

For the fault soak: the process sends itself SIGSTOP, which freezes all its
threads at once, when orbax has started a save (its temporary directory is on
disk) and before it waits for the save to finish; the soak, waiting for that
stop, then kills it. So a kill during a save is aimed by the event itself, not
by a guess at when saves happen, and it lands on a machine of any speed.
"""

import os
import runpy
import signal
import sys

import orbax.checkpoint as ocp

from benchmarks.tools.faults import fault_soak


def stop_once_a_save_is_open(workdir):
  """Patches orbax's `wait_until_finished` to stop at the first open save."""
  wait_until_finished = ocp.CheckpointManager.wait_until_finished

  def stopping_wait(manager):
    if fault_soak.partial_saves(workdir):
      os.kill(os.getpid(), signal.SIGSTOP)
    return wait_until_finished(manager)

  ocp.CheckpointManager.wait_until_finished = stopping_wait


def main():
  launcher, *flags = sys.argv[1:]
  (workdir,) = [f.split('=', 1)[1] for f in flags if f.startswith('--workdir=')]
  stop_once_a_save_is_open(workdir)
  sys.argv = [launcher, *flags]
  runpy.run_module(launcher, run_name='__main__', alter_sys=True)


if __name__ == '__main__':
  main()
