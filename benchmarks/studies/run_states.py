"""Where each planned run of a study stands, read from its run directory.

No engine is asked (SLURM without accounting cannot say): a run is finished
or diverged by its results.json, running while a live process holds its
workdir's lock, failed or stopped by the record its task left
(`TASK_RECORD`, written by `engine.RunTask`), stopped where it has trained
part of the way, and not started otherwise.
"""

import collections
import dataclasses
import json
import os

import tabulate

from benchmarks import studies
from benchmarks import tasks
from benchmarks.harness import atomic_files
from benchmarks.harness import summary
from benchmarks.harness import workdir_lock

TASK_RECORD = 'task.json'
STATES = ('finished', 'diverged', 'running', 'failed', 'stopped', 'not started')
DONE = ('finished', 'diverged')  # never submitted again


@dataclasses.dataclass(frozen=True)
class RunState:
  """One run's state, and what to show with it (holder, error, log)."""

  job: str
  seed: int
  state: str
  detail: str = ''


def write_record(workdir, **fields):
  """Writes the task's account of how it ended to WORKDIR/TASK_RECORD."""
  data = json.dumps(fields, indent=1) + '\n'
  atomic_files.write_atomically(os.path.join(workdir, TASK_RECORD), data)


def read_record(workdir):
  try:
    with open(os.path.join(workdir, TASK_RECORD)) as file:
      return json.load(file)
  except (OSError, ValueError):
    return {}


def trained_state(workdir, config):
  """'finished' or 'diverged' where every arm of the run is done, 'stopped'
  where some record is in, else ''."""
  try:
    results = tasks.load_results(workdir)
  except (OSError, ValueError):
    return ''
  if not results:
    return ''
  runs, seed = results.get('runs', {}), str(config.seeds[0])
  records = [runs.get(arm, {}).get(seed, []) for arm in config.arms]
  diverged = [bool(r) and bool(r[-1].get('diverged')) for r in records]
  finished = [
    seed in summary.finished({arm: runs.get(arm, {})}, arm, config.epochs)
    for arm in config.arms
  ]
  if all(f or d for f, d in zip(finished, diverged, strict=True)):
    return 'diverged' if any(diverged) else 'finished'
  return 'stopped' if any(records) else ''


def state_of(workdir, config):
  """(state, detail) of the run of `config` (one seed) in `workdir`."""
  trained = trained_state(workdir, config)
  if trained in DONE:
    return trained, ''
  holder = workdir_lock.running_holder(workdir)
  if holder:
    return 'running', holder
  record = read_record(workdir)
  if record.get('state') == 'failed':
    return 'failed', f'{record.get("error", "")} (log: {record.get("log")})'
  if record.get('state') in ('stopped', 'requeued') or trained:
    return 'stopped', record.get('detail', 'partly trained')
  return 'not started', ''


def study_states(study, workroot, jobs=None, seeds=None):
  """The `RunState` of each planned run (of `jobs` and `seeds`, if given)."""
  return [
    RunState(
      job, seed, *state_of(studies.run_directory(workroot, job, seed), c)
    )
    for job, seed, c in studies.planned_runs(study, jobs, seeds)
  ]


def counts(states):
  """State -> how many runs are in it, every state named."""
  found = collections.Counter(s.state for s in states)
  return {state: found[state] for state in STATES}


def progress_line(states):
  """'k of N finished, r running, f failed' and the other states held."""
  held = counts(states)
  done = held['finished'] + held['diverged']
  rest = ', '.join(f'{n} {s}' for s, n in held.items() if s not in DONE)
  return f'{done} of {len(states)} finished or diverged; {rest}'


def status_table(states):
  """A row per job with its runs' counts by state, then a line for each run
  running (its holder) or failed (its error and log)."""
  by_job = collections.defaultdict(list)
  for state in states:
    by_job[state.job].append(state)
  rows = [
    [job, len(runs), *counts(runs).values()] for job, runs in by_job.items()
  ]
  table = tabulate.tabulate(rows, ['job', 'planned', *STATES])
  lines = [
    f'{s.job} seed {s.seed} {s.state}: {s.detail}'
    for s in states
    if s.state in ('running', 'failed')
  ]
  return '\n'.join([table, '', progress_line(states), *lines])
