"""Checkpoints of a run: what they hold, saving, and restoring them safely."""

import json
import os

from flax import nnx
import jax
import orbax.checkpoint as ocp

from benchmarks.cifar100 import seed_directories

# Config fields a run may change when it resumes a checkpoint: they choose
# which runs are made and how they are shown, not what any run computes.
FIELDS_FREE_ON_RESUME = (
  'arms',
  'seeds',
  'download',
  'num_devices',
  'progress',
  'trajectory_probes',
  'on_divergence',
  'evaluate_one_step_later',
  'batch_norm_recalibration_batches',
  'data_dir',
)

# Config fields added after checkpoints had been made, each with the value
# that every checkpoint saved without it was made with.
FIELDS_ADDED_SINCE = {'batch_norm_fast_variance': True}


class CheckpointError(RuntimeError):
  """A checkpoint cannot be restored; older ones are left in place."""


def checkpointed_state(model, optimizer):
  """What a checkpoint holds (RNG streams are reseeded every step)."""
  return {
    'model': nnx.state(model, nnx.Any(nnx.Param, nnx.BatchStat)),
    'optimizer': nnx.state(optimizer),
  }


def training_fields(config):
  """The config fields that decide what a run computes, as JSON stores them."""
  fields = {
    k: v for k, v in config.to_dict().items() if k not in FIELDS_FREE_ON_RESUME
  }
  return json.loads(json.dumps(fields))


def checkpoint_manager(workdir, arm, seed):
  return ocp.CheckpointManager(
    os.path.abspath(
      seed_directories.seed_directory(
        os.path.join(workdir, 'checkpoints', arm), seed
      )
    ),
    # A save cut off by a kill leaves a temporary directory; it is removed
    # when the run resumes, so it never stands in the way.
    options=ocp.CheckpointManagerOptions(
      max_to_keep=2, cleanup_tmp_directories=True
    ),
  )


def latest_epoch(workdir, arm, seed):
  """The newest finished checkpoint's epoch of a run, 0 where it has none.

  Read from the directory names (orbax names a finished step by its number
  and an unfinished one with a suffix), without opening a manager.
  """
  directory = seed_directories.seed_directory(
    os.path.join(workdir, 'checkpoints', arm), seed
  )
  try:
    names = os.listdir(directory)
  except OSError:
    return 0
  return max((int(n) for n in names if n.isdigit()), default=0)


def restore(manager, model, optimizer, config):
  """Restores the latest checkpoint into model and optimizer; its records."""
  step = manager.latest_step()
  if step is None:
    return []
  where = os.path.join(manager.directory, str(step))
  abstract = jax.tree.map(
    ocp.utils.to_shape_dtype_struct, checkpointed_state(model, optimizer)
  )
  try:
    restored = manager.restore(
      step,
      args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract),
        records=ocp.args.JsonRestore(),
        config=ocp.args.JsonRestore(),
      ),
    )
  except Exception as error:  # orbax raises many types for a bad checkpoint.
    older = [s for s in manager.all_steps() if s != step]
    raise CheckpointError(
      f'Cannot restore the checkpoint {where} ({type(error).__name__}: '
      f'{error}). Older checkpoints kept: {older or "none"}. Delete {where} '
      'to resume from the previous one, or use a new --workdir.'
    ) from error
  wanted = training_fields(config)
  added = {k: v for k, v in FIELDS_ADDED_SINCE.items() if k in wanted}
  saved = {**added, **restored['config']}
  if saved != wanted:
    changed = sorted(
      k for k in saved.keys() | wanted.keys() if saved.get(k) != wanted.get(k)
    )
    raise CheckpointError(
      f'The checkpoint {where} was made with a different config (fields '
      f'{changed}); use a new --workdir, or the config it was made with.'
    )
  nnx.update(model, restored['state']['model'])
  nnx.update(optimizer, restored['state']['optimizer'])
  return restored['records']


def save(manager, epoch, model, optimizer, records, config):
  """Saves an epoch; a CheckpointError says what failed (a full disk, ...)."""
  try:
    manager.save(
      epoch,
      args=ocp.args.Composite(
        state=ocp.args.StandardSave(checkpointed_state(model, optimizer)),
        records=ocp.args.JsonSave(records),
        config=ocp.args.JsonSave(training_fields(config)),
      ),
    )
    manager.wait_until_finished()
  except Exception as error:  # orbax raises many types, from its threads too.
    text = str(error).strip()
    # Orbax reports a full disk as a ValueError from its storage layer, with
    # the OS's words deep in a long message: they are the cause to name.
    full = 'No space left on device'
    cause = full if full in text else text[:200]
    raise CheckpointError(
      f'Cannot save the checkpoint of epoch {epoch} in {manager.directory} '
      f'({type(error).__name__}: {cause}). The epochs before it are saved: '
      'free space or fix the directory, then rerun the same command to '
      'resume.'
    ) from error
