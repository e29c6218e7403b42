"""Checkpoints of a run: what they hold, saving, and restoring them safely."""

from collections.abc import Mapping
import glob
import json
import os
import types
from typing import Any, NamedTuple

from absl import logging
from flax import nnx
import jax
import orbax.checkpoint as ocp

from benchmarks.harness import atomic_files

# Config fields of every task that a run may change when it resumes a
# checkpoint: they choose which runs are made, where the data lies and how
# the runs are shown, not what any run computes.
FIELDS_FREE_ON_RESUME = (
  'arms',
  'seeds',
  'num_devices',
  'progress',
  'on_divergence',
  'data_dir',
)


class ResumeFields(NamedTuple):
  """What a task says of its own config fields when a run resumes.

  Attributes:
    added_since: fields added after checkpoints had been made, each with the
      value every run made without it had (so that they resume and pool with
      newer ones).
    free: fields beyond `FIELDS_FREE_ON_RESUME` that a run may change when it
      resumes (what it measures or shows beside the training, not what the
      training computes).
  """

  added_since: Mapping[str, Any] = types.MappingProxyType({})
  free: tuple[str, ...] = ()


# A task that says nothing of its config fields on resume.
NO_RESUME_FIELDS = ResumeFields()


def seed_directory(parent, seed):
  """PARENT/seed_N: the one naming of a seed's own directory, for the
  checkpoints of a run and for each seed of a study's job."""
  return os.path.join(parent, f'seed_{seed}')


def seed_directories(parent):
  """The seed_N directories under `parent`, sorted."""
  return sorted(glob.glob(seed_directory(parent, '*')))


class CheckpointError(RuntimeError):
  """A checkpoint cannot be restored; older ones are left in place."""


def checkpointed_state(model, optimizer):
  """What a checkpoint holds (RNG streams are reseeded every step)."""
  return {
    'model': nnx.state(model, nnx.Any(nnx.Param, nnx.BatchStat)),
    'optimizer': nnx.state(optimizer),
  }


def training_fields(config, resume_fields=NO_RESUME_FIELDS):
  """The config fields that decide what a run computes, as JSON stores
  them: all but those free on resume (the harness's and the task's)."""
  free = {*FIELDS_FREE_ON_RESUME, *resume_fields.free}
  fields = {k: v for k, v in config.to_dict().items() if k not in free}
  return json.loads(json.dumps(fields))


def checkpoint_directory(workdir, arm, seed):
  """WORKDIR/checkpoints/ARM/seed_N: where a run's checkpoints live."""
  return seed_directory(os.path.join(workdir, 'checkpoints', arm), seed)


def checkpoint_manager(workdir, arm, seed):
  return ocp.CheckpointManager(
    os.path.abspath(checkpoint_directory(workdir, arm, seed)),
    # A save cut off by a kill leaves a temporary directory; it is removed
    # when the run resumes, so it never stands in the way.
    options=ocp.CheckpointManagerOptions(
      max_to_keep=2, cleanup_tmp_directories=True
    ),
  )


# Each finished save's manifest, in its step's directory: the SHA-256 of every
# file orbax wrote there, checked before the step is restored.
MANIFEST = 'sha256.json'


def file_digests(step_directory):
  """Relative path -> SHA-256 of every file of a step (not the manifest)."""
  digests = {}
  for root, _, names in os.walk(step_directory):
    for name in names:
      path = os.path.join(root, name)
      relative = os.path.relpath(path, step_directory)
      if relative != MANIFEST:
        digests[relative] = atomic_files.sha256_of(path)
  return digests


def write_manifest(step_directory):
  atomic_files.write_atomically(
    os.path.join(step_directory, MANIFEST),
    json.dumps(file_digests(step_directory), sort_keys=True),
  )


def damage(step_directory):
  """What is wrong with a step's files against its manifest, or None.

  A step is whole only once its manifest is written, right after orbax's
  save: a step without one (a save cut off between the two) is not trusted,
  since orbax itself does not notice a changed byte.
  """
  path = os.path.join(step_directory, MANIFEST)
  if not os.path.exists(path):
    return 'it has no manifest (its save was cut off before one was written)'
  try:
    with open(path) as file:
      want = dict(json.load(file))
  except (OSError, ValueError, TypeError) as error:
    return f'its manifest cannot be read ({type(error).__name__})'
  got = file_digests(step_directory)
  changed = sorted(
    k for k in want.keys() | got.keys() if want.get(k) != got.get(k)
  )
  return (
    f'{", ".join(changed[:3])} differ from its manifest' if changed else None
  )


def set_aside_damaged(workdir, arm, seed):
  """Renames the newest steps whose files fail their manifest to
  STEP.damaged (orbax ignores them), so that the run resumes from the newest
  good one; says so for each. Nothing is deleted."""
  directory = checkpoint_directory(workdir, arm, seed)
  for step in sorted(steps_in(directory), reverse=True):
    where = os.path.join(directory, str(step))
    problem = damage(where)
    if problem is None:
      return
    os.replace(where, f'{where}.damaged')
    logging.warning(
      'The checkpoint %s is damaged (%s): set aside as %s.damaged; the run '
      'resumes from the newest good checkpoint before it.', where, problem,
      where,
    )  # fmt: skip


def steps_in(directory):
  """The finished steps in a run's checkpoint directory, by their names
  (orbax names a finished step by its number, an unfinished one with a
  suffix); none where it is missing."""
  try:
    names = os.listdir(directory)
  except OSError:
    return []
  return [int(n) for n in names if n.isdigit()]


def latest_epoch(workdir, arm, seed):
  """The newest finished checkpoint's epoch of a run, 0 where it has none."""
  return max(steps_in(checkpoint_directory(workdir, arm, seed)), default=0)


def restore(manager, model, optimizer, config, resume_fields=NO_RESUME_FIELDS):
  """Restores the latest checkpoint into model and optimizer; its records.

  A checkpoint restores only into a run of the config it was made with, but
  for the fields free on resume and those added since (`resume_fields`: the
  task's).
  """
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
    # Orbax's messages can run to pages (a TensorStore spec): the first
    # line, cut short, names the cause.
    cause = (str(error).strip().splitlines() or [''])[0][:200]
    raise CheckpointError(
      f'Cannot restore the checkpoint {where} ({type(error).__name__}: '
      f'{cause}). Older checkpoints kept: {older or "none"}. Delete {where} '
      'to resume from the previous one, or use a new --workdir.'
    ) from error
  wanted = training_fields(config, resume_fields)
  added = {k: v for k, v in resume_fields.added_since.items() if k in wanted}
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


def save(
  manager,
  epoch,
  model,
  optimizer,
  records,
  config,
  resume_fields=NO_RESUME_FIELDS,
):
  """Saves an epoch; a CheckpointError says what failed (a full disk, ...)."""
  try:
    manager.save(
      epoch,
      args=ocp.args.Composite(
        state=ocp.args.StandardSave(checkpointed_state(model, optimizer)),
        records=ocp.args.JsonSave(records),
        config=ocp.args.JsonSave(training_fields(config, resume_fields)),
      ),
    )
    manager.wait_until_finished()
    if jax.process_index() == 0:
      write_manifest(os.path.join(manager.directory, str(epoch)))
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
