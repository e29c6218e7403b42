"""Studies: sets of runs defined as data, trained and reported by one command.

  python -m benchmarks.studies run NAME WORKROOT [--jobs=J,...] \
      [--seeds=N,...]
  python -m benchmarks.studies report NAME WORKROOT [--out=DIR]
  python -m benchmarks.studies figures NAME DIR [--out=RESULTS]

A study is one module of this package that defines ``STUDY``, a `Study`: the
config its jobs start from, each job's overrides (its seeds among them), the
report's blocks (jobs whose runs are compared by seed) and sections, and
where the report goes. Each seed of each job trains into
WORKROOT/JOB/seed_N (`run_directory`), so that a finished seed can be
committed on its own; `run` again resumes every unfinished run from its
checkpoints, and two shells with different --seeds fill two cores. `report`
copies the finished runs to the output folder and writes its tables.md from
them (see `report.py`).
"""

from collections.abc import Callable
from collections.abc import Mapping
import dataclasses
import importlib
import os
import pkgutil
from typing import Any

import ml_collections

from benchmarks.harness import checkpoints
from benchmarks.harness import config_checks

RESULTS_ROOT = 'benchmarks/results/cifar100'
# Modules of this package that define no study.
NOT_STUDIES = (
  'report',
  'sections',
  'comparisons',
  'engine',
  'run_states',
  'tuned_comparison',
  '__main__',
)


@dataclasses.dataclass(frozen=True)
class Study:
  """A study's jobs, and how its report groups and shows their runs.

  Attributes:
    base_config: returns the config every job starts from.
    jobs: job name -> its config overrides (dotted names for nested fields),
      including its ``seeds``.
    sections: the report's sections in order, each a function of the study
      and its blocks (name -> merged, summarised results) returning markdown.
    blocks: block name -> the jobs trained with one config but for their
      arms, merged and compared by seed; by default each job is a block.
    plot_blocks: the blocks whose curves the report draws to BLOCK.png (the
      figures its REPORT.md shows).
    figures: draws the study's own figures (the study, its blocks, the
      output folder), if it has any.
    measurements: blocks that measure rather than compare arms: shown only
      in the study's own sections.
    arm_blocks: the blocks of the table of arms, if not all.
    borrowed: job -> the committed runs of another study's job it reuses.
    settings: what the study's own sections read, as its own typed
      settings (pools, ablations, sweeps, ...).
    results_root: the folder of its task's committed reports.
  """

  name: str
  base_config: Callable[[], ml_collections.ConfigDict]
  jobs: Mapping[str, Mapping[str, Any]]
  sections: tuple[Callable[..., str], ...]
  blocks: Mapping[str, tuple[str, ...]] | None = None
  plot_blocks: tuple[str, ...] = ()
  figures: Callable[..., Any] | None = None
  measurements: tuple[str, ...] = ()
  arm_blocks: tuple[str, ...] | None = None
  borrowed: Mapping[str, 'Borrowed'] = dataclasses.field(default_factory=dict)
  settings: Any = None
  results_root: str = RESULTS_ROOT

  @property
  def report_blocks(self):
    return self.blocks or {job: (job,) for job in self.jobs}

  @property
  def out(self):
    """Where its report and copied runs are committed."""
    return os.path.join(self.results_root, self.name)


@dataclasses.dataclass(frozen=True)
class Borrowed:
  """The committed runs of another study's job, for seeds of this one."""

  results: str  # the folder of that job's results.json
  seeds: tuple[int, ...]


def names():
  """The studies defined in this package, one module each."""
  return sorted(
    m.name for m in pkgutil.iter_modules(__path__) if m.name not in NOT_STUDIES
  )


def load(name):
  """The `Study` of the module `name`; a ValueError names the choices."""
  if name not in names():
    raise ValueError(f'study is {name!r}; allowed: {names()}.')
  return importlib.import_module(f'{__name__}.{name}').STUDY


def apply_overrides(config, overrides):
  """Sets each (dotted) field of `overrides` on `config`; returns it."""
  for field, value in overrides.items():
    *parents, leaf = field.split('.')
    target = config
    for parent in parents:
      target = target[parent]
    target[leaf] = value
  return config


def job_config(study, job):
  """The config of one job: the study's base config with the job's overrides."""
  if job not in study.jobs:
    raise config_checks.ConfigError(
      f'job is {job!r}; allowed: {sorted(study.jobs)}.'
    )
  return apply_overrides(study.base_config(), study.jobs[job])


def refinement_points(grid_best, arms, point_name):
  """A point a factor √2 on each side of each of `arms`' best grid point:
  job name (`point_name(rate)`) -> (rate, the arms whose point it is); two
  arms' points at one rate (by name) are one job."""
  points = {}
  for arm in arms:
    if arm in grid_best:
      for rate in (grid_best[arm] / 2**0.5, grid_best[arm] * 2**0.5):
        rate, with_arms = points.get(point_name(rate), (rate, ()))
        points[point_name(rate)] = (rate, (*with_arms, arm))
  return points


def run_directory(workroot, job, seed):
  """Where one seed of one job trains: WORKROOT/JOB/seed_N."""
  return checkpoints.seed_directory(os.path.join(workroot, job), seed)


def planned_runs(study, jobs=None, seeds=None):
  """(job, seed, config) of every run, in the jobs' order, seed by seed.

  Checked whole before anything runs: a job the study lacks, or a seed that
  none of the chosen jobs plans, raises `ConfigError` naming them.
  """
  jobs = list(jobs or study.jobs)
  unknown = [job for job in jobs if job not in study.jobs]
  if unknown:
    raise config_checks.ConfigError(
      f'jobs {unknown} are not in the study {study.name!r}; allowed: '
      f'{sorted(study.jobs)}.'
    )
  configs = {job: job_config(study, job) for job in jobs}
  planned = {seed for config in configs.values() for seed in config.seeds}
  stray = sorted(set(seeds or ()) - planned)
  if stray:
    raise config_checks.ConfigError(
      f'seeds {stray} are planned by none of the jobs {jobs}; allowed: '
      f'{sorted(planned)}.'
    )
  runs = []
  for job, config in configs.items():
    for seed in config.seeds:
      if seeds is None or seed in seeds:
        single = config.copy_and_resolve_references()
        single.seeds = (seed,)
        runs.append((job, seed, single))
  return runs
