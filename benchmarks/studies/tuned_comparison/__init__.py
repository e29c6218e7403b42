"""A tuned comparison of optimizers on one task, defined as data.

A `TunedComparison` states what the protocol needs: the task's config, the
arms, the grid of peak rates, the selection seeds, each stage's entry and the
confirmation's tests; `.study()` is the `Study` that runs and reports it. The
protocol, stage by stage, each stage's entry made once the stage before has
all its runs and committed with them (a test holds every entry to the rule
on the committed runs, `rule_entries`):

1. The grid: every arm at each rate of `grid` (a factor 2 apart) on the
   selection seeds, one job a rate.
2. `grid_best`: each arm's best grid point by the rule (`best_rate`). A best
   at an edge widens the grid by a factor 2 past it, until none is.
3. A point a factor √2 on each side of each arm's best grid point (one job a
   rate, training the arms whose point it is); `chosen`: each arm's rate by
   the rule among all of its points.
4. The confirmation on fresh seeds (`confirmation_seeds`, as many as the
   power statement gives at the selection seeds' spread), each arm at its
   chosen rate, one arm a job; `untuned` also runs an arm at its control's
   chosen rate (added without retuning). Its `tests` (one headline, the
   rest secondaries) are stated in the study's REPORT.md before its runs.

The rule: the rate of lowest mean selection metric over the selection seeds
(the final validation loss; on CIFAR-100 the validation top-1 error of the
validation-selected epoch), a diverged run counting as the worst (infinite
loss, chance error), ties (to 4 decimals) to the smaller rate. Validation
only: the test split is read by the confirmation's tests alone.
"""

from collections.abc import Callable
from collections.abc import Mapping
import dataclasses
from typing import Any

import ml_collections
import numpy as np

from benchmarks import studies

# A stated test: (block, arm, control, 'headline' or 'secondary').
Test = tuple[str, str, str, str]


def learning_rate(rate):
  """The config overrides of a point at `rate`: the peak learning rate."""
  return {'learning_rate': rate}


@dataclasses.dataclass(frozen=True)
class TunedComparison:
  """A tuned comparison's definition: its arms, grid, entries and tests.

  Attributes:
    name: the study's name (its module's).
    base_config: the task's config every job starts from.
    arms: the arms tuned and compared.
    grid: the grid's peak rates, a factor 2 apart, widened past an edge.
    seeds: the selection seeds, on which every point is run.
    selection: (study, blocks) -> arm -> [(rate, seed -> its selection
      metric)], the points the rule chooses among, from the runs in.
    sections: the report's sections (functions of the study and its
      blocks); `figures` draws the study's own figures.
    results_root: the folder of its task's committed reports.
    grid_best: arm -> its best grid point by the rule (stage 2's entry;
      None before the stage has run).
    chosen: arm -> its rate by the rule among its points (stage 3's).
    confirmation_seeds: the confirmation's fresh seeds.
    tests: the confirmation's stated tests, the headline first.
    target_loss: the validation loss whose first step the confirmation's
      runs report, where the study states one.
    untuned: (arm, control): the arm also runs at the control's chosen rate.
    groups: the confirmation's jobs, each the arms it trains at its first
      arm's chosen rate (a control with the arm it matches); one arm a job
      by default.
    rate_overrides: rate -> the config overrides of a point at that rate.
    job_prefix: the points' job names', before the rate.
    confirm_block: the confirmation's block, and its jobs' names' start.
    labels: arm -> its name in the confirmation's job names (an arm given
      as 'package.module:function' needs a short one).
    borrowed: job -> another study's committed runs it reuses: a grid point
      run there, or a control tuned there (the first of the confirmation's
      block).
  """

  name: str
  base_config: Callable[[], ml_collections.ConfigDict]
  arms: tuple[str, ...]
  grid: tuple[float, ...]
  seeds: tuple[int, ...]
  selection: Callable[..., Mapping[str, list]]
  sections: tuple[Callable[..., str], ...]
  results_root: str
  figures: Callable[..., Any] | None = None
  grid_best: Mapping[str, float] = dataclasses.field(default_factory=dict)
  chosen: Mapping[str, float] = dataclasses.field(default_factory=dict)
  confirmation_seeds: tuple[int, ...] = ()
  tests: tuple[Test, ...] = ()
  target_loss: float | None = None
  untuned: tuple[str, str] | None = None
  groups: tuple[tuple[str, ...], ...] = ()
  rate_overrides: Callable[[float], Mapping[str, Any]] = learning_rate
  job_prefix: str = 'lr_'
  confirm_block: str = 'confirm'
  labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
  borrowed: Mapping[str, studies.Borrowed] = dataclasses.field(
    default_factory=dict
  )

  @property
  def sweep_jobs(self):
    """The grid's and the √2 points' jobs, by name."""
    return tuple(sweep_jobs(self))

  def study(self):
    """The `Study` that trains and reports this comparison alone."""
    jobs, blocks = jobs_and_blocks(self)
    return studies.Study(
      name=self.name,
      base_config=self.base_config,
      jobs=jobs,
      blocks=blocks,
      sections=self.sections,
      figures=self.figures,
      borrowed=borrowed(self),
      settings=self,
      results_root=self.results_root,
    )


def point_name(rate, prefix='lr_'):
  """A point's job name: its rate."""
  return f'{prefix}{rate:g}'


def jobs_and_blocks(comparison):
  """Every job its entries call for, and the report's blocks: each point a
  block, then the confirmation's."""
  confirming = confirmation_jobs(comparison)
  blocks = {job: (job,) for job in sweep_blocks(comparison)}
  return sweep_jobs(comparison) | confirming, blocks | confirmation_blocks(
    comparison, confirming
  )


def borrowed(comparison):
  """The borrowed runs the study reads: its grid points run elsewhere, and
  its borrowed controls once it confirms."""
  names = set(sweep_blocks(comparison))
  confirming = bool(confirmation_jobs(comparison))
  return {
    job: runs
    for job, runs in comparison.borrowed.items()
    if job in names or confirming
  }


def sweep_blocks(comparison):
  """The points' names: the grid's in its order, then the √2 points'."""
  return [
    point_name(rate, comparison.job_prefix) for rate in comparison.grid
  ] + list(refinement(comparison))


def refinement(comparison):
  """A √2 point each side of each arm's best grid point: name -> (rate,
  the arms whose point it is)."""
  return studies.refinement_points(
    entered(comparison.grid_best),
    comparison.arms,
    lambda rate: point_name(rate, comparison.job_prefix),
  )


def sweep_jobs(comparison):
  """Each grid point's job (every arm; none for a point borrowed), then a
  √2 point each side of each arm's best grid point (the arms whose point it
  is; two arms' points at one rate, by name, are one job)."""
  points = [(rate, comparison.arms) for rate in comparison.grid]
  points += list(refinement(comparison).values())
  jobs = {
    point_name(rate, comparison.job_prefix): job_overrides(
      comparison, rate, arms, comparison.seeds
    )
    for rate, arms in points
  }
  return {
    name: job for name, job in jobs.items() if name not in comparison.borrowed
  }


def job_overrides(comparison, rate, arms, seeds):
  """The overrides of a job training `arms` at `rate` on `seeds`."""
  return {'arms': arms, 'seeds': seeds, **comparison.rate_overrides(rate)}


def groups(comparison):
  """The confirmation's groups of arms, one job each: the comparison's,
  or one arm a group."""
  return comparison.groups or tuple((arm,) for arm in comparison.arms)


def entered(entries):
  """The entries made: arm -> rate, without those still None."""
  return {arm: rate for arm, rate in entries.items() if rate is not None}


def label(comparison, arm):
  return comparison.labels.get(arm, arm)


def confirmation_jobs(comparison):
  """Each group of arms at its first arm's chosen rate on the fresh seeds,
  one group a job (a lost work tree costs one job), and the untuned arm at
  its control's rate where that differs from its own: job -> its
  overrides; none before every arm's rate is chosen."""
  chosen = entered(comparison.chosen)
  if not set(comparison.arms) <= set(chosen):
    return {}
  jobs = {
    confirmation_job(comparison, group[0]): job_overrides(
      comparison, chosen[group[0]], group, comparison.confirmation_seeds
    )
    for group in groups(comparison)
  }
  if comparison.untuned:
    arm, control = comparison.untuned
    if chosen[arm] != chosen[control]:
      jobs[f'untuned_{label(comparison, arm)}'] = {
        **jobs[confirmation_job(comparison, arm)],
        **comparison.rate_overrides(chosen[control]),
      }
  return jobs


def confirmation_job(comparison, arm):
  """The name of the confirmation's job that `arm` leads."""
  return f'{comparison.confirm_block}_{label(comparison, arm)}'


def confirmation_blocks(comparison, jobs):
  """The confirmation's block: every arm at its chosen rate (the borrowed
  controls first); 'untuned': the untuned arm at its control's rate beside
  the control (the confirmation's own runs where the two rates are one).
  None before the confirmation has jobs."""
  if not jobs:
    return {}
  points = set(sweep_blocks(comparison))
  confirm = tuple(job for job in comparison.borrowed if job not in points)
  confirm += tuple(
    confirmation_job(comparison, group[0]) for group in groups(comparison)
  )
  blocks = {comparison.confirm_block: confirm}
  if comparison.untuned:
    arm, control = comparison.untuned
    untuned = f'untuned_{label(comparison, arm)}'
    blocks['untuned'] = (
      confirmation_job(comparison, control),
      untuned if untuned in jobs else confirmation_job(comparison, arm),
    )
  return blocks


def best_rate(points, seeds):
  """The rule: the rate of lowest mean selection metric over `seeds` (a
  diverged run counts as the worst), ties (to 4 decimals) to the smaller;
  among `points` ((rate, seed -> metric)) run on every seed. None where
  there are none."""
  complete = [
    (round(float(np.mean([losses[s] for s in seeds])), 4), rate)
    for rate, losses in points
    if set(seeds) <= set(losses)
  ]
  return min(complete)[1] if complete else None


def rule_entries(comparison, points):
  """The entries the rule makes of the committed runs (`points`: arm ->
  [(rate, seed -> selection metric)]), for those entered: grid_best
  and chosen, each arm -> its rate, and what is amiss (a grid point not run
  on every seed, a best at an unwidened edge) as messages."""
  seeds, grid = comparison.seeds, comparison.grid
  amiss, grid_best, chosen = [], {}, {}
  for arm in entered(comparison.grid_best):
    on_grid = [p for p in points[arm] if p[0] in grid]
    run = [rate for rate, losses in on_grid if set(seeds) <= set(losses)]
    if run != list(grid):
      amiss.append(f'{arm}: grid points {sorted(set(grid) - set(run))} miss')
    grid_best[arm] = best_rate(on_grid, seeds)
    if grid_best[arm] in (min(grid), max(grid)):
      amiss.append(f'{arm}: its best, {grid_best[arm]:g}, is an edge')
  for arm in entered(comparison.chosen):
    chosen[arm] = best_rate(points[arm], seeds)
  return grid_best, chosen, amiss
