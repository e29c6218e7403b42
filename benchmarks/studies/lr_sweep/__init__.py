"""Does PLP beat SGD tuned as well as PLP? A learning-rate sweep at CPU scale.

ResNet18 at width 1/16 for 13 epochs in the paper's protocol (the
`paper_protocol` study's base config: 20% validation split, a cyclic rate
between `lr` and `2 lr`, cyclic momentum, weight decay 1e-4), with the base
rate on a factor-2 grid, arms `sgd` and `plp`, seeds 0-2 at every point. The
grid point 0.001 is the `paper_protocol` study's ResNet18 block (its seeds
0-2), borrowed rather than rerun. AdamW (optax's, betas 0.9 and 0.999,
epsilon 1e-8, decoupled weight decay 0.05; the same cyclic rate, no momentum
cycle) is swept from 1e-4 the same way. A run whose loss turns non-finite is
recorded as diverged, counts at chance error, and the sweep goes on.

The study grows in stages, each fixed by the choices entered below once the
stage before has all its runs (a test checks every entry against the rule
applied to the committed runs): a point a factor √2 on each side of each
arm's best grid point (`GRID_BEST`); then, at each arm's rate re-chosen
among all its points (`CHOSEN`), the confirmation on fresh seeds 3-10 (the
report's one headline test, stated in REPORT.md before its runs) and the
longer, wider runs (ResNet18 at width 1/8, 26 epochs, seeds 0-2). Then the
second confirmation (`SECOND_CONFIRMATION`, its own headline test stated in
REPORT.md before its runs): the longer, wider runs of `sgd` and `plp` on the
fresh seeds 3-10, and `plp` at `sgd`'s chosen rate at width 1/16 (PLP added
to a tuned SGD without retuning), both with BatchNorm-recalibrated errors
beside the plain ones.
"""

from typing import NamedTuple

from benchmarks import studies
from benchmarks.studies import Borrowed
from benchmarks.studies import Study
from benchmarks.studies import paper_protocol
from benchmarks.studies import sections
from benchmarks.studies.lr_sweep import figures
from benchmarks.studies.lr_sweep import sweep_sections

SEEDS = (0, 1, 2)
FRESH_SEEDS = tuple(range(3, 11))
SGD_RATES = (0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128)
ADAMW_RATES = (1e-4, 2e-4, 4e-4, 8e-4, 1.6e-3, 3.2e-3, 6.4e-3)
# Longer and wider: two learning-rate cycles at twice the width.
WIDER = {'width': 1 / 8, 'epochs': 26}
# The new runs also measure their errors with BatchNorm's statistics
# recomputed at each evaluation's weights, from this many training batches
# (6,400 images, 16% of the training split; experiment.recalibrated_record).
RECALIBRATED = {'batch_norm_recalibration_batches': 50}


class Sweep(NamedTuple):
  """One optimizer's sweep: its arms, the config field of its rate, its jobs."""

  baseline: str
  plp: str
  matched: str  # the baseline with PLP's 7/6 longer step: the control
  field: str
  prefix: str  # of its grid points' job names
  grid: tuple[float, ...]
  wider: bool  # whether its chosen rates are also run longer and wider


SWEEPS = {
  'SGD': Sweep(
    'sgd', 'plp', 'sgd_matched', 'learning_rate', 'sgd_lr_', SGD_RATES,
    wider=True,
  ),
  'AdamW': Sweep(
    'adamw', 'adamw_plp', 'adamw_matched', 'adamw_learning_rate', 'adamw_lr_',
    ADAMW_RATES, wider=False,
  ),
}  # fmt: skip

# Arm -> its best grid point by `sweep_sections.chosen_rates` (lowest mean
# validation top-1 over seeds 0-2), entered once its sweep's grid has run.
GRID_BEST = {
  'sgd': 0.032, 'plp': 0.064,  # SGD's grid
  'adamw': 0.0032, 'adamw_plp': 0.0032,  # AdamW's grid
}  # fmt: skip
# Arm -> its rate re-chosen by the same rule among its grid and √2 points,
# entered once those have run: the rates of the confirmation.
CHOSEN = {
  'sgd': 0.032 * 2**0.5, 'plp': 0.064,  # SGD's √2 points
  'adamw': 0.0032, 'adamw_plp': 0.0032,  # AdamW's √2 points
}  # fmt: skip


def base_config():
  config = paper_protocol.base_config()
  config.on_divergence = 'record'
  return config


def point_job(sweep, rate, arms=None, seeds=SEEDS):
  """The job of one point: `arms` (the sweep's pair) at base rate `rate`."""
  job = {
    'arms': tuple(arms or (sweep.baseline, sweep.plp)),
    'seeds': seeds,
    sweep.field: rate,
  }
  if sweep.field == 'learning_rate':
    job['max_learning_rate'] = 2 * rate
  return job


def grid_jobs(sweep):
  return {
    f'{sweep.prefix}{rate:g}': point_job(sweep, rate) for rate in sweep.grid
  }


def refinement_jobs(sweep, grid_best):
  """A point a factor √2 on each side of each of the sweep's arms' best.

  Two arms' points at one rate (by name) are one job with both arms.
  """
  points = studies.refinement_points(
    grid_best, (sweep.baseline, sweep.plp), lambda r: f'{sweep.prefix}{r:g}'
  )
  return {
    name: point_job(sweep, rate, arms) for name, (rate, arms) in points.items()
  }


def chosen_rate_block(
  sweep, chosen, stage, seeds, one_arm_jobs=False, **overrides
):
  """The baseline at its chosen rate; PLP and the matched control at PLP's.

  `one_arm_jobs`: a job per arm, instead of PLP and its control in one job.
  Returns (block, its jobs): no jobs before both rates are `chosen`.
  """
  block = f'{stage}_{sweep.baseline}'
  if sweep.baseline not in chosen or sweep.plp not in chosen:
    return block, {}
  rate_from = {  # arm -> the arm whose chosen rate it runs at
    sweep.baseline: sweep.baseline,
    sweep.plp: sweep.plp,
    sweep.matched: sweep.plp,
  }
  groups = [(sweep.baseline,), (sweep.plp, sweep.matched)]
  if one_arm_jobs:
    groups = [(arm,) for arm in rate_from]
  return block, {
    f'{block}_{arms[0]}': {
      **point_job(sweep, chosen[rate_from[arms[0]]], arms, seeds),
      **overrides,
    }
    for arms in groups
  }


def chosen_rate_blocks(sweep, chosen):
  """The confirmation and the longer, wider runs: block -> its jobs."""
  stages = [chosen_rate_block(sweep, chosen, 'confirm', FRESH_SEEDS)]
  if sweep.wider:
    # One run a job: a job resumes only from its own checkpoints, so a lost
    # work tree costs at most one run (a wider run is 26 epochs, each about
    # 1.5 times a width-1/16 epoch: 73 s against 48 s on one machine).
    stages.append(
      chosen_rate_block(
        sweep, chosen, 'wider', SEEDS, one_arm_jobs=True, **WIDER
      )
    )
  return {block: jobs for block, jobs in stages if jobs}


def second_confirmation_blocks(sweep, chosen):
  """The second confirmation, on the fresh seeds: block -> its jobs.

  'confirm_wider_sgd': the baseline and PLP at their chosen rates, longer
  and wider (the headline of 2026-12-02), one run a job. 'untuned_sgd': PLP
  at the baseline's chosen rate at the study's width, against the first
  confirmation's baseline runs.
  """
  if not (sweep.wider and {sweep.baseline, sweep.plp} <= chosen.keys()):
    return {}
  wider = f'confirm_wider_{sweep.baseline}'
  untuned = f'untuned_{sweep.baseline}'
  rates = {sweep.baseline: chosen[sweep.baseline], sweep.plp: chosen[sweep.plp]}
  wider_jobs = {
    f'{wider}_{arm}': {
      **point_job(sweep, rate, (arm,), FRESH_SEEDS),
      **WIDER,
      **RECALIBRATED,
    }
    for arm, rate in rates.items()
  }
  untuned_job = {
    f'{untuned}_{sweep.plp}': {
      **point_job(sweep, chosen[sweep.baseline], (sweep.plp,), FRESH_SEEDS),
      **RECALIBRATED,
    }
  }
  baseline_job = f'confirm_{sweep.baseline}_{sweep.baseline}'
  return {
    wider: wider_jobs,
    untuned: {baseline_job: None, **untuned_job},
  }


def sweep_jobs_and_blocks(sweep, grid_best, chosen):
  """The jobs that the choices made so far call for, and their blocks.

  Each grid or √2 point is a block; each chosen-rate stage's jobs one.
  """
  jobs = {**grid_jobs(sweep), **refinement_jobs(sweep, grid_best)}
  blocks = {job: (job,) for job in jobs}
  stages = {
    **chosen_rate_blocks(sweep, chosen),
    **second_confirmation_blocks(sweep, chosen),
  }
  for block, stage_jobs in stages.items():
    # A job given as None is another block's, reused in this one.
    jobs.update({job: o for job, o in stage_jobs.items() if o is not None})
    blocks[block] = tuple(stage_jobs)
  return jobs, blocks


def study_jobs_and_blocks(grid_best, chosen):
  """Every sweep's jobs and blocks, after the borrowed grid point's block."""
  jobs, blocks = {}, {BORROWED: (BORROWED,)}
  for sweep in SWEEPS.values():
    sweep_jobs, sweep_blocks = sweep_jobs_and_blocks(sweep, grid_best, chosen)
    jobs.update(sweep_jobs)
    blocks.update(sweep_blocks)
  return jobs, blocks


BORROWED = 'sgd_lr_0.001'
JOBS, BLOCKS = study_jobs_and_blocks(GRID_BEST, CHOSEN)
# Exploratory, for the transformer study (`adamw_peers`): how straight the
# path of plain SGD and AdamW is here, by the language model's measure (the
# trajectory probes' path cosine), at their chosen rates, on seed 0. A
# measurement: shown in that study's report, not compared here.
PATH_COSINE = 'path_cosine'
JOBS[PATH_COSINE] = {
  **point_job(SWEEPS['SGD'], CHOSEN['sgd'], ('sgd', 'adamw'), (0,)),
  'adamw_learning_rate': CHOSEN['adamw'],
}
BLOCKS[PATH_COSINE] = (PATH_COSINE,)

STUDY = Study(
  name='lr_sweep',
  figures=figures.sweep_figures,
  base_config=base_config,
  measurements=(PATH_COSINE,),
  jobs=JOBS,
  blocks=BLOCKS,
  sections=(
    sweep_sections.headline,
    sweep_sections.second_confirmation,
    sweep_sections.untuned_secondary,
    sweep_sections.recalibration_moves,
    sections.arms,
    sweep_sections.sweep,
    sections.differences,
    sections.trajectory,
  ),
  # Grid points run by another study: job -> its committed runs.
  borrowed={
    BORROWED: Borrowed(
      'benchmarks/results/cifar100/paper_protocol/ResNet18', SEEDS
    ),
  },
  # The arms table shows the chosen-rate stages (the sweep table the rest).
  arm_blocks=tuple(
    f'{stage}_{s.baseline}'
    for s in SWEEPS.values()
    for stage in ('confirm', 'wider', 'confirm_wider', 'untuned')
    if stage == 'confirm' or s.wider
  ),
  settings=sweep_sections.SweepSettings(
    seeds=SEEDS,
    # Sweep name -> its `Sweep`: arms, control, grid field, job prefix.
    sweeps=SWEEPS,
    # The confirmation: block -> (its arm, its control, whether headline).
    headline={
      f'confirm_{s.baseline}': (
        (s.plp, s.baseline, name == 'SGD'),
        (s.plp, s.matched, False),
      )
      for name, s in SWEEPS.items()
    }
    | {
      # The second confirmation: its own headline.
      f'confirm_wider_{s.baseline}': ((s.plp, s.baseline, True),)
      for s in SWEEPS.values()
      if s.wider
    }
    | {
      f'untuned_{s.baseline}': ((s.plp, s.baseline, False),)
      for s in SWEEPS.values()
      if s.wider
    },
  ),
)
