"""A real single-node SLURM on this machine, for the engine's tests.

`running(folder)` starts munge (where no munged answers), `slurmctld` and
`slurmd` with a `slurm.conf` written under `folder` (no accounting, no
cgroups: `proctrack/linuxproc`, `task/affinity`, one node with the CPUs and
memory `slurmd -C` reports, one partition), on free ports, points the client
commands at it (`SLURM_CONF`), waits until `sinfo` answers with the node idle,
and stops what it started by PID when the block ends. Debian 12's packages
`slurmctld slurmd slurm-client munge` (SLURM 22.05) install with `make
slurm`. As root only: `SlurmUser` is root.

    python -m tests.support.single_node_slurm [-- COMMAND ...]

runs COMMAND (a shell where none is given) with a SLURM up, then stops it.
"""

import contextlib
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time

TIMEOUT = 120  # seconds: a guard against a hang, never a measured moment
PACKAGES = ('slurmctld', 'slurmd', 'slurm-client', 'munge')
COMMANDS = ('slurmctld', 'slurmd', 'sbatch', 'sinfo', 'munged')


def missing():
  """Why a SLURM cannot be started here, in one line; '' where it can."""
  absent = [c for c in COMMANDS if not shutil.which(c)]
  if absent:
    return f'no {", ".join(absent)} on PATH: `make slurm` installs SLURM'
  if os.geteuid() != 0:
    return 'a single-node SLURM needs root (its SlurmUser is root)'
  return ''


def free_port():
  with socket.socket() as probe:
    probe.bind(('127.0.0.1', 0))
    return probe.getsockname()[1]


def node_line():
  """`slurmd -C`'s NodeName line: CPUs, sockets, cores and memory."""
  printed = subprocess.run(
    ['slurmd', '-C'], capture_output=True, text=True, check=True
  ).stdout
  return next(line for line in printed.splitlines() if line.startswith('Node'))


def config_text(folder):
  """slurm.conf for one node, its state, spool, pids and logs in `folder`."""
  host = socket.gethostname()
  folder = pathlib.Path(folder)
  ctld_port, node_port = free_port(), free_port()
  node = node_line().replace(
    f'NodeName={host.split(".")[0]} ', f'NodeName={host} '
  )
  fields = dict(field.split('=', 1) for field in node.split())
  # Without it a job asks for the whole node's memory, and they run one by one.
  per_cpu = int(fields['RealMemory']) // int(fields['CPUs'])
  return f"""\
ClusterName=single
SlurmctldHost={host}
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SlurmctldPort={ctld_port}
SlurmdPort={node_port}
StateSaveLocation={folder / 'state'}
SlurmdSpoolDir={folder / 'spool'}
SlurmctldPidFile={folder / 'slurmctld.pid'}
SlurmdPidFile={folder / 'slurmd.pid'}
SlurmctldLogFile={folder / 'slurmctld.log'}
SlurmdLogFile={folder / 'slurmd.log'}
MinJobAge=600
KillWait=5
DefMemPerCPU={per_cpu}
{node}
PartitionName=main Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def munge_answers():
  check = subprocess.run(
    'munge -n | unmunge', shell=True, capture_output=True, check=False
  )
  return check.returncode == 0


def start_munge():
  """Starts munged as user munge where none answers; its process or None."""
  if munge_answers():
    return None
  for folder in ('/run/munge', '/var/log/munge', '/var/lib/munge'):
    os.makedirs(folder, exist_ok=True)
    shutil.chown(folder, 'munge', 'munge')
  key = pathlib.Path('/etc/munge/munge.key')
  if not key.exists():
    subprocess.run(['mungekey', '--create'], check=True)
  shutil.chown(key, 'munge', 'munge')
  key.chmod(0o400)
  process = subprocess.Popen(
    ['runuser', '-u', 'munge', '--', 'munged', '--foreground', '--force'],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
  )  # fmt: skip
  wait_for(munge_answers, 'munged')
  return process


def wait_for(ready, what):
  deadline = time.monotonic() + TIMEOUT
  while not ready():
    if time.monotonic() > deadline:
      raise TimeoutError(f'{what} did not start within {TIMEOUT} s')
    time.sleep(0.2)


def node_idle():
  answer = subprocess.run(
    ['sinfo', '--noheader', '--format=%t'],
    capture_output=True, text=True, check=False,
  )  # fmt: skip
  return answer.returncode == 0 and answer.stdout.strip() == 'idle'


def stop(process):
  if process is not None and process.poll() is None:
    process.send_signal(signal.SIGTERM)
    try:
      process.wait(timeout=30)
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()


@contextlib.contextmanager
def running(folder):
  """A single-node SLURM while the block runs; `SLURM_CONF` set meanwhile."""
  folder = pathlib.Path(folder)
  for sub in ('state', 'spool'):
    (folder / sub).mkdir(parents=True, exist_ok=True)
  conf = folder / 'slurm.conf'
  conf.write_text(config_text(folder))
  previous = os.environ.get('SLURM_CONF')
  os.environ['SLURM_CONF'] = str(conf)
  started = []
  try:
    started.append(start_munge())
    for daemon in (['slurmctld', '-D', '-i'], ['slurmd', '-D']):
      started.append(
        subprocess.Popen(
          [*daemon, '-f', str(conf)],
          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
      )  # fmt: skip
    wait_for(node_idle, 'the SLURM node')
    yield conf
  finally:
    for process in reversed(started):
      stop(process)
    if previous is None:
      os.environ.pop('SLURM_CONF', None)
    else:
      os.environ['SLURM_CONF'] = previous


if __name__ == '__main__':
  import sys
  import tempfile

  command = sys.argv[2:] if sys.argv[1:2] == ['--'] else []
  with tempfile.TemporaryDirectory() as temporary, running(temporary) as path:
    print(f'SLURM is up (SLURM_CONF={path}).', flush=True)
    done = subprocess.run(command or [os.environ.get('SHELL', 'bash')])
  sys.exit(done.returncode)
