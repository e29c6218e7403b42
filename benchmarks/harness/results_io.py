"""results.json: what it holds, and writing, loading, merging and copying it.

What differs by task is given by the caller, from the task's declaration
(`experiment.Task`): its `summarize`, its `reproducible` fields and what it
says of its config fields on resume, `resume_fields` (`benchmarks.tasks`
reads them from a results' config).
"""

import glob
import json
import os

from absl import logging

from benchmarks.harness import atomic_files
from benchmarks.harness import checkpoints
from benchmarks.harness import summary

# results.json is written compactly: the same values in three quarters of
# the bytes (committed runs are most of the repository's weight).
COMPACT = (',', ':')


def no_resume_fields(config):
  """A task that says nothing of its config fields on resume."""
  del config
  return checkpoints.NO_RESUME_FIELDS


def write_json_atomically(path, data):
  """Writes `data` to `path` as compact JSON, whole or not at all."""
  atomic_files.write_atomically(path, json.dumps(data, separators=COMPACT))


def load_results(directory, resume_fields=no_resume_fields):
  """The results in `directory`, merging its seed_N/ run directories if any.

  A study trains each seed of a job in a directory of its own
  (`studies.run_directory`); the merged results hold every arm and seed and
  the first run's config and data sizes, and no summary (`with_summary` adds
  one). None where there are no results. `resume_fields`: a config -> its
  task's `checkpoints.ResumeFields` (`trained_like`).
  """
  path = os.path.join(directory, 'results.json')
  seed_dirs = checkpoints.seed_directories(directory)
  if os.path.exists(path) and seed_dirs:
    raise PoolingError(
      f'{path} would shadow the runs of {", ".join(seed_dirs)}: a job folder '
      'holds either its own results.json or seed_N folders, not both; move '
      'one of them away.'
    )
  if os.path.exists(path):
    with open(path) as file:
      return json.load(file)
  parts = [load_results(d, resume_fields) for d in seed_dirs]
  return merge_results(parts, seed_dirs, resume_fields)


class PoolingError(ValueError):
  """Runs that must not be pooled: the message names them and why."""


def trained_like(config, resume_fields):
  """The fields of a run's config that decide what it computes (those free
  on resume left out, those added later at the value older runs had)."""
  fields = {**resume_fields.added_since, **config}
  free = {*checkpoints.FIELDS_FREE_ON_RESUME, *resume_fields.free}
  return {k: v for k, v in fields.items() if k not in free}


def merge_results(parts, names=None, resume_fields=no_resume_fields):
  """One results dict holding every arm and seed of `parts` (Nones skipped).

  The config and data sizes are the first part's; there is no summary. An
  arm's runs are pooled only where their configs agree beyond the seed
  (`trained_like`); else a `PoolingError` names the parts (`names`, their
  folders) and the fields that differ.
  """
  names = names or [f'part {i}' for i in range(len(parts))]
  merged, first_of = None, {}  # arm -> (name, trained_like) of its first
  for name, part in zip(names, parts, strict=True):
    if part is None:
      continue
    merged = merged or {
      'config': part['config'],
      'data': part['data'],
      'runs': {},
    }
    for arm, seeds in part['runs'].items():
      config = arm_config(part, arm)
      like = trained_like(config, resume_fields(config))
      check_poolable(arm, name, like, first_of)
      merged['runs'].setdefault(arm, {}).update(seeds)
  return merged


def check_poolable(arm, name, config, first_of):
  """Refuses `arm`'s runs of `name` where its earlier runs' config differs."""
  first_name, first = first_of.setdefault(arm, (name, config))
  differ = sorted(
    k for k in first.keys() | config.keys() if first.get(k) != config.get(k)
  )
  if differ:
    raise PoolingError(
      f'the {arm} runs of {first_name} and {name} were trained with '
      f'different configs (fields {differ}) and cannot be pooled as seeds of '
      'one arm: report them apart.'
    )


def merged_block(parts, summarize, names=None, resume_fields=no_resume_fields):
  """Runs of one model and protocol but for their arms (`parts`), as one
  summarised results dict whose arms are all of theirs; None where every
  part is None. Its config is the first part's; 'arm_configs' keeps each
  arm's own, whose rates may differ (a confirmation's arms each run at
  their own chosen rate). `summarize` and `resume_fields`: as
  `with_summary`'s and `merge_results`'.
  """
  merged = merge_results(parts, names, resume_fields)
  if merged is None:
    return None
  merged['config'] = {**merged['config'], 'arms': list(merged['runs'])}
  merged['arm_configs'] = {
    arm: arm_config(part, arm) for part in parts if part for arm in part['runs']
  }
  return with_summary(merged, summarize)


def arm_config(results, arm):
  """The config `arm` of `results` ran with (a merged block keeps each's)."""
  return results.get('arm_configs', {}).get(arm, results['config'])


def with_summary(results, summarize):
  """`results` with a summary computed from its runs where it has none, by
  its task's `summarize` (runs, arms, epochs)."""
  if 'summary' in results:
    return results
  runs = {
    arm: {int(s): r for s, r in seeds.items()}
    for arm, seeds in results['runs'].items()
  }
  arms = [a for a in results['config']['arms'] if a in runs]
  arms += [a for a in runs if a not in arms]
  epochs = results['config']['epochs']
  return {**results, 'summary': summarize(runs, arms, epochs)}


def copy_results(source, destination):
  """Copies a run or job directory's results.json (compactly), nothing else.

  Not its checkpoints, nor its per-run figures: those are drawn on request
  (`draw_run_figures`), so that the committed tree stays light.
  """
  for path in glob.glob(
    os.path.join(source, '**', 'results.json'), recursive=True
  ):
    relative = os.path.relpath(path, source)
    if 'checkpoints' in relative.split(os.sep):
      continue
    with open(path) as file:
      data = json.load(file)
    write_json_atomically(os.path.join(destination, relative), data)


def reproducible(results, fields):
  """The `fields` of every record of `results` (its task's reproducible
  ones), run by run."""
  return {
    arm: {
      seed: [{k: r.get(k) for k in fields} for r in records]
      for seed, records in seeds.items()
    }
    for arm, seeds in results['runs'].items()
  }


def collect_results(config, runs, data_sizes, summarize):
  """What results.json holds: the config, the data, every run, the summary
  (by the task's `summarize`)."""
  return {
    'config': config.to_dict(),
    'data': data_sizes,
    'runs': {
      arm: {str(s): h for s, h in seeds.items()} for arm, seeds in runs.items()
    },
    'summary': summarize(runs, list(config.arms), config.epochs),
  }


def held_runs(workdir):
  """(arm, seed) -> the number of trained records of every run in
  WORKDIR/results.json that has records.

  Empty where the file is missing or unreadable (`set_aside_unreadable`
  keeps an unreadable one aside before a run rewrites it).
  """
  path = os.path.join(workdir, 'results.json')
  if not os.path.exists(path):
    return {}
  try:
    return runs_held_in(path)
  except (OSError, ValueError, KeyError, TypeError, AttributeError):
    return {}


def runs_held_in(path):
  with open(path) as file:
    runs = json.load(file)['runs']
  return {
    (arm, str(seed)): len(summary.trained(records))
    for arm, seeds in runs.items()
    for seed, records in seeds.items()
    if records
  }


def set_aside_unreadable(workdir):
  """Renames an unreadable WORKDIR/results.json to results.json.unreadable
  (numbered, never over another), so that nothing is lost when the run
  writes a new one, and says so: what the checkpoints give back is rebuilt,
  the rest trains again."""
  path = os.path.join(workdir, 'results.json')
  if not os.path.exists(path):
    return None
  try:
    runs_held_in(path)
    return None
  except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
    problem = f'{type(error).__name__}: {error}'
  aside, number = f'{path}.unreadable', 1
  while os.path.exists(aside):
    number += 1
    aside = f'{path}.unreadable.{number}'
  os.replace(path, aside)
  logging.warning(
    '%s cannot be read (%s): kept as %s. The runs its checkpoints hold are '
    'rebuilt from them; any others train again.', path, problem, aside,
  )  # fmt: skip
  return aside


def stored_data(workdir):
  """The data sizes WORKDIR/results.json records; {} where it has none or
  cannot be read."""
  try:
    with open(os.path.join(workdir, 'results.json')) as file:
      data = json.load(file).get('data')
  except (OSError, ValueError, AttributeError):
    return {}
  return data if isinstance(data, dict) else {}


def write_results(workdir, results):
  write_json_atomically(os.path.join(workdir, 'results.json'), results)
