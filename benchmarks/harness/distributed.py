"""One run over several processes (hosts), with JAX's multi-process runtime.

Every process runs the same command; `main.py --distributed` calls
`initialize` first. Each process loads the same data, builds the same model
from the same seed and computes the same results; the devices of all
processes form one mesh, the parameters are replicated over it and every
batch is sharded along it, each process feeding only its own devices' part
(`global_array`). Process 0 alone writes results.json, the plots and the
table (`is_writer`); orbax's checkpoints are saved and restored by all of
them, in one directory that every process sees. Processes that start apart
meet before their first collective (`arrive_together`).

If a process dies, the others stop within a bounded time: a collective with
the dead process fails at once (its connection is reset) and `failing_fast`
exits; a process that is not in a collective is stopped by JAX's runtime
once the dead one misses its heartbeats for `heartbeat_timeout_seconds`.
"""

import contextlib
import functools
import os
import sys
import traceback

import jax
from jax.experimental import multihost_utils
import numpy as np
import orbax.checkpoint as ocp

# JAX's own default, and the bound on how long a process outlives a dead one.
HEARTBEAT_TIMEOUT_SECONDS = 100
# How long processes wait for each other in `arrive_together`: the slowest may
# still be loading the data or compiling on a busy machine.
ARRIVAL_TIMEOUT_SECONDS = 600
# The mesh axis the batch is sharded over (the parameters are replicated).
DATA_AXIS = 'data'


def data_mesh(devices=None):
  """A mesh of `devices` (default: all) along `DATA_AXIS`."""
  return jax.sharding.Mesh(np.array(devices or jax.devices()), (DATA_AXIS,))


def batch_sharding(mesh):
  """A batch split along its first axis over the mesh's devices."""
  return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(DATA_AXIS))


def initialize(
  coordinator_address=None,
  num_processes=None,
  process_id=None,
  heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_SECONDS,
):
  """Joins the processes of a run; None detects them (SLURM, TPU pods...)."""
  # Without it, JAX's CPU backend has no collectives across processes; it
  # changes nothing on GPUs and TPUs, which bring their own.
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(
    coordinator_address,
    num_processes,
    process_id,
    heartbeat_timeout_seconds=heartbeat_timeout_seconds,
  )


def arrive_together(name, timeout_seconds=ARRIVAL_TIMEOUT_SECONDS):
  """Waits until every process gets here, then opens their collectives.

  On CPUs, the first collective across processes sets up gloo's connections,
  and gives up if a peer has not joined within 30 s (a fixed timeout in XLA);
  processes that load data or compile at different speeds can be further
  apart than that. So they first meet at a barrier of JAX's coordination
  service, which waits up to `timeout_seconds`, and then run one collective
  together, which sets up those connections while every process is present.
  Call it with the same, unique `name` on every process; a single process
  returns at once.
  """
  if jax.process_count() == 1:
    return
  meet = ocp.multihost.get_barrier_sync_fn()
  meet(key=name, timeout_ms=int(timeout_seconds * 1000))
  multihost_utils.sync_global_devices(name)


def is_writer():
  """Whether this process writes the run's files (process 0 does)."""
  return jax.process_index() == 0


@functools.cache  # asked for every batch, with a few shapes and shardings
def local_part(shape, sharding):
  """The slices of a global array of `shape` that this process's devices hold.

  For a mesh whose devices are grouped by process (as `jax.devices()` orders
  them), that part is one block: from the lowest start to the highest stop
  of its devices' shards, along every axis.
  """
  shards = sharding.addressable_devices_indices_map(shape).values()
  bounds = []
  for size, slices in zip(shape, zip(*shards, strict=True), strict=True):
    ranges = [s.indices(size)[:2] for s in slices]
    bounds.append(slice(min(r[0] for r in ranges), max(r[1] for r in ranges)))
  return tuple(bounds)


def global_array(host, sharding):
  """`host` (the same NumPy array on every process) laid out by `sharding`.

  Each process transfers only the part its own devices hold.
  """
  host = np.asarray(host)
  if not host.shape:
    return jax.make_array_from_process_local_data(sharding, host)
  return jax.make_array_from_process_local_data(
    sharding, host[local_part(host.shape, sharding)], host.shape
  )


def on_devices(tree, sharding):
  """Every array of `tree` laid out by `sharding` (PRNG keys included)."""

  def put(value):
    if jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
      data = global_array(jax.random.key_data(value), sharding)
      return jax.random.wrap_key_data(data, impl=jax.random.key_impl(value))
    return global_array(value, sharding)

  return jax.tree.map(put, tree)


@contextlib.contextmanager
def failing_fast(distributed):
  """In a multi-process run, any exception ends this process at once.

  Python's normal exit would run JAX's shutdown barrier, which waits for every
  process, a dead one included; so the error is printed and the process exits
  with status 1 (or `sys.exit`'s) without it. A single process exits normally.
  """
  try:
    yield
  except BaseException as error:
    if not distributed:
      raise
    if isinstance(error, SystemExit):
      status = error.code if isinstance(error.code, int | None) else 1
      if isinstance(error.code, str):
        print(error.code, file=sys.stderr)
    else:
      status = 1
      traceback.print_exc()
      print(
        f'error: process {jax.process_index()} stops on the error above (if '
        'another process died, a collective with it fails so). Rerun every '
        "process's command to resume from the last checkpoint.",
        file=sys.stderr,
      )
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status or 0)
