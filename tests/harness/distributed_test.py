"""Two processes on this machine train one run, as two hosts would.

Each process has one CPU device and runs the README's multi-host command on
TFDS's mock data (`tests.support.mock_main`); JAX's gloo collectives join them.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import jax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np
import pytest

from benchmarks import tasks
from benchmarks.harness import distributed
from benchmarks.tools.faults import fault_soak

# Their processes read the mock data's compact copy (tests/conftest.py).
pytestmark = pytest.mark.usefixtures('processes_read_mock_arrays')

DEVICE_COUNT_FLAG = '--xla_force_host_platform_device_count'
HEARTBEAT_TIMEOUT_SECONDS = 10
# The promise tested: a process whose peer dies does not hang; it exits
# within a small multiple of the configured heartbeat timeout. Noticing the
# missed heartbeats takes one timeout; the rest is the margin for a machine
# slowed several-fold (a busy 2-core one) to report it and exit.
EXIT_BOUND_SECONDS = 12 * HEARTBEAT_TIMEOUT_SECONDS
RUN_TIMEOUT_SECONDS = 600
# Past gloo's fixed 30 s for peers to join a first collective.
LATE_START_SECONDS = 35
# Two processes that start apart: process 1 comes late to their first
# collective, which works only if `arrive_together` waited for it. (Both
# create their devices first, which itself waits for every process.)
MEET_LATE = """
import sys, time
import jax
import numpy as np
from jax.experimental import multihost_utils
from benchmarks.harness import distributed

address, process_id, late = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
distributed.initialize(address, 2, process_id)
assert len(jax.devices()) == 2
time.sleep(late * process_id)
distributed.arrive_together('meet')
print(multihost_utils.process_allgather(np.int32(process_id)).tolist())
"""


def free_port():
  with socket.socket() as probe:
    probe.bind(('127.0.0.1', 0))
    return probe.getsockname()[1]


def environment(devices=1):
  """`devices` CPU devices; the session's other XLA flags and its disk cache
  of compilations (both set in conftest.py) kept."""
  flags = [
    flag
    for flag in os.environ.get('XLA_FLAGS', '').split()
    if not flag.startswith(f'{DEVICE_COUNT_FLAG}=')
  ]
  flags.append(f'{DEVICE_COUNT_FLAG}={devices}')
  return {**os.environ, 'XLA_FLAGS': ' '.join(flags)}


def launch(argv, env, log):
  """Starts `argv`, its output to the file `log` (a pipe could fill up)."""
  with open(log, 'w') as output:
    return subprocess.Popen(
      argv, env=env, stdout=output, stderr=subprocess.STDOUT
    )


def start_processes(workdir, logs):
  """Both processes of a 2-process run into `workdir`; their Popen objects."""
  address = f'127.0.0.1:{free_port()}'
  processes = []
  for process_id in (0, 1):
    argv = fault_soak.command(
      workdir,
      'tests.support.mock_main',
      '--distributed',
      f'--coordinator_address={address}',
      '--num_processes=2',
      f'--process_id={process_id}',
      f'--heartbeat_timeout_seconds={HEARTBEAT_TIMEOUT_SECONDS}',
    )
    log = logs / f'process_{process_id}.log'
    processes.append(launch(argv, environment(), log))
  return processes


def finish(processes, logs):
  """Waits for both processes; each one's output, after checking status 0."""
  outputs = []
  for process_id, process in enumerate(processes):
    status = process.wait(timeout=RUN_TIMEOUT_SECONDS)
    output = (logs / f'process_{process_id}.log').read_text()
    assert status == 0, output[-3000:]
    outputs.append(output)
  return outputs


@pytest.fixture(scope='module')
def two_processes(tmp_path_factory, processes_read_mock_arrays):
  """A 2-process run and, beside it, one process with 2 devices.

  Returns (workdir, results, outputs) of the first, and the results of the
  second.
  """
  workdir = tmp_path_factory.mktemp('two_processes')
  logs = tmp_path_factory.mktemp('two_processes_logs')
  single = tmp_path_factory.mktemp('two_devices')
  log = logs / 'two_devices.log'
  reference = launch(
    fault_soak.command(single, 'tests.support.mock_main'),
    environment(devices=2),
    log,
  )
  outputs = finish(start_processes(workdir, logs), logs)
  status = reference.wait(timeout=RUN_TIMEOUT_SECONDS)
  assert status == 0, log.read_text()[-3000:]
  return (
    workdir,
    tasks.load_results(workdir),
    outputs,
    tasks.load_results(single),
  )


def test_two_processes_match_one_with_two_devices(two_processes):
  _, got, _, want = two_processes
  assert got['data'] == want['data']
  for arm, seeds in want['runs'].items():
    for key in ('train_loss', 'test_loss', 'top1_error', 'top5_error'):
      np.testing.assert_allclose(
        [r[key] for r in got['runs'][arm]['0']],
        [r[key] for r in seeds['0']],
        rtol=1e-6,
        err_msg=f'{arm} {key}',
      )


def test_only_process_0_writes_results_plots_and_table(two_processes):
  workdir, results, (first, second), _ = two_processes
  assert set(results['runs']) == {'sgd', 'plp'}
  assert (workdir / 'curves.png').exists()
  assert 'plp - sgd' in first and 'results: ' in first
  assert 'plp - sgd' not in second and 'results: ' not in second
  # Both processes took part in every save: each arm has its 2 last epochs.
  for arm in ('sgd', 'plp'):
    steps = os.listdir(workdir / 'checkpoints' / arm / 'seed_0')
    assert sorted(steps) == ['2', '3']


def epochs_done(workdir):
  try:
    results = json.loads((workdir / 'results.json').read_text())
  except (FileNotFoundError, json.JSONDecodeError):
    return 0
  return sum(len(seeds['0']) for seeds in results['runs'].values() if seeds)


def test_a_killed_process_stops_the_other_and_both_resume(
  two_processes, tmp_path
):
  _, want, _, _ = two_processes
  workdir, logs = tmp_path / 'run', tmp_path
  survivor, victim = start_processes(workdir, logs)
  assert fault_soak.wait_for(
    victim, lambda: epochs_done(workdir) >= 2, RUN_TIMEOUT_SECONDS
  )
  victim.send_signal(signal.SIGKILL)
  killed_at = time.monotonic()
  status = survivor.wait(timeout=EXIT_BOUND_SECONDS)
  assert status != 0
  assert time.monotonic() - killed_at < EXIT_BOUND_SECONDS
  said = (logs / 'process_0.log').read_text()
  assert 'Rerun every process' in said or 'JAX distributed service' in said
  victim.wait()
  finish(start_processes(workdir, logs), logs)
  got = tasks.load_results(workdir)
  assert tasks.reproducible(got) == tasks.reproducible(want)


def test_processes_that_start_apart_still_meet(tmp_path):
  address = f'127.0.0.1:{free_port()}'
  processes = [
    launch(
      [
        sys.executable,
        '-c',
        MEET_LATE,
        address,
        str(i),
        str(LATE_START_SECONDS),
      ],
      environment(),
      tmp_path / f'process_{i}.log',
    )
    for i in (0, 1)
  ]
  for output in finish(processes, tmp_path):
    assert output.splitlines()[-1] == '[0, 1]'


@pytest.fixture
def mesh():
  return distributed.data_mesh(jax.devices()[:4])


@pytest.mark.parametrize(
  'spec', [P(), P(distributed.DATA_AXIS), P(None, distributed.DATA_AXIS)]
)
def test_global_array_lays_out_the_host_array_as_device_put(mesh, spec):
  host = np.arange(8 * 4, dtype=np.int32).reshape(8, 4)
  sharding = NamedSharding(mesh, spec)
  placed = distributed.global_array(host, sharding)
  assert placed.sharding == sharding
  np.testing.assert_array_equal(placed, host)
  for shard in placed.addressable_shards:
    np.testing.assert_array_equal(shard.data, host[shard.index])


def test_one_process_holds_every_part(mesh):
  sharding = NamedSharding(mesh, P(distributed.DATA_AXIS))
  assert distributed.local_part((8, 3), sharding) == (
    slice(0, 8),
    slice(0, 3),
  )


def test_on_devices_replicates_arrays_scalars_and_keys(mesh):
  tree = {'w': np.ones((2, 3)), 'step': np.int32(7), 'key': jax.random.key(3)}
  placed = distributed.on_devices(tree, NamedSharding(mesh, P()))
  assert all(x.sharding.is_fully_replicated for x in jax.tree.leaves(placed))
  assert int(placed['step']) == 7
  np.testing.assert_array_equal(
    jax.random.key_data(placed['key']), jax.random.key_data(tree['key'])
  )


def test_failing_fast_exits_at_once_only_when_distributed(monkeypatch):
  exits = []
  monkeypatch.setattr(os, '_exit', exits.append)
  with pytest.raises(ValueError):
    with distributed.failing_fast(False):
      raise ValueError('one process: raised as usual')
  with distributed.failing_fast(True):
    raise ValueError('several: no shutdown barrier')
  with distributed.failing_fast(True):
    sys.exit('error: a config error')
  assert exits == [1, 1]


def test_cluster_flags_without_distributed_say_what_to_add(tmp_path):
  argv = fault_soak.command(tmp_path, 'benchmarks.main', '--process_id=1')
  done = subprocess.run(argv, capture_output=True, text=True, check=False)
  assert done.returncode == 1
  assert 'error: --process_id given without --distributed' in done.stderr
