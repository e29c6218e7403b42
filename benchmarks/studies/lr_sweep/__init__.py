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

Each sweep is a tuned comparison (`tuned_comparison`: its stages and rule,
here on the validation top-1 error of the validation-selected epoch): each
arm's best grid point (`GRID_BEST`), its rate chosen among its grid and √2
points (`CHOSEN`), the confirmation on fresh seeds 3-10 (the report's one
headline test, stated in REPORT.md before its runs), where the control
`sgd_matched` (`adamw_matched`) runs at PLP's rate with PLP's longer step.
Beside the protocol, at the chosen rates: the longer, wider runs (ResNet18
at width 1/8, 26 epochs, seeds 0-2); then the second confirmation (its own
headline test stated in REPORT.md before its runs): the longer, wider runs
of `sgd` and `plp` on the fresh seeds 3-10, and `plp` at `sgd`'s chosen rate
at width 1/16 (PLP added to a tuned SGD without retuning), both with
BatchNorm-recalibrated errors beside the plain ones.
"""

from typing import NamedTuple

from benchmarks import studies
from benchmarks.studies import Borrowed
from benchmarks.studies import Study
from benchmarks.studies import paper_protocol
from benchmarks.studies import sections
from benchmarks.studies import tuned_comparison
from benchmarks.studies.lr_sweep import figures
from benchmarks.studies.lr_sweep import sweep_sections

SEEDS = (0, 1, 2)
FRESH_SEEDS = tuple(range(3, 11))
# SGD's grid point 0.001 is the `paper_protocol` study's ResNet18 block.
SGD_RATES = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128)
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

GRID_BEST = {
  'sgd': 0.032, 'plp': 0.064,  # SGD's grid
  'adamw': 0.0032, 'adamw_plp': 0.0032,  # AdamW's grid
}  # fmt: skip
CHOSEN = {
  'sgd': 0.032 * 2**0.5, 'plp': 0.064,  # SGD's √2 points
  'adamw': 0.0032, 'adamw_plp': 0.0032,  # AdamW's √2 points
}  # fmt: skip
BORROWED = 'sgd_lr_0.001'


def base_config():
  config = paper_protocol.base_config()
  config.on_divergence = 'record'
  return config


def rate_overrides(field):
  """A point's overrides: the rate's field (SGD's cycle peaks at twice it)."""

  def overrides(rate):
    if field == 'learning_rate':
      return {field: rate, 'max_learning_rate': 2 * rate}
    return {field: rate}

  return overrides


def comparison(sweep, grid_best, chosen):
  """One sweep as a tuned comparison, with the entries made for its arms."""
  arms = (sweep.baseline, sweep.plp)
  return tuned_comparison.TunedComparison(
    name='lr_sweep',
    base_config=base_config,
    arms=arms,
    grid=sweep.grid,
    seeds=SEEDS,
    selection=lambda study, blocks: sweep_sections.selection(
      study, blocks, sweep
    ),
    sections=(),
    results_root=studies.RESULTS_ROOT,
    grid_best={arm: grid_best[arm] for arm in arms if arm in grid_best},
    chosen={arm: chosen[arm] for arm in arms if arm in chosen},
    confirmation_seeds=FRESH_SEEDS,
    groups=((sweep.baseline,), (sweep.plp, sweep.matched)),
    rate_overrides=rate_overrides(sweep.field),
    job_prefix=sweep.prefix,
    confirm_block=f'confirm_{sweep.baseline}',
    borrowed={
      BORROWED: Borrowed(
        'benchmarks/results/cifar100/paper_protocol/ResNet18', SEEDS
      )
    }
    if sweep.field == 'learning_rate'
    else {},
  )


def point_job(sweep, rate, arms, seeds):
  """The job of `arms` at base rate `rate` on `seeds`."""
  return {
    'arms': tuple(arms), 'seeds': seeds, **rate_overrides(sweep.field)(rate),
  }  # fmt: skip


def wider_blocks(sweep, chosen):
  """The longer, wider runs, one arm a job, each at its arm's chosen rate
  (the matched control at PLP's): block -> its jobs. One run a job: a job
  resumes only from its own checkpoints, so a lost work tree costs at most
  one run (a wider run is 26 epochs, each about 1.5 times a width-1/16
  epoch: 73 s against 48 s on one machine)."""
  if not (sweep.wider and {sweep.baseline, sweep.plp} <= chosen.keys()):
    return {}
  block = f'wider_{sweep.baseline}'
  rate_from = {sweep.baseline: sweep.baseline, sweep.plp: sweep.plp}
  rate_from[sweep.matched] = sweep.plp
  return {
    block: {
      f'{block}_{arm}': {
        **point_job(sweep, chosen[source], (arm,), SEEDS), **WIDER,
      }
      for arm, source in rate_from.items()
    }
  }  # fmt: skip


def second_confirmation_blocks(sweep, chosen):
  """The second confirmation, on the fresh seeds: block -> its jobs.

  'confirm_wider_sgd': the baseline and PLP at their chosen rates, longer
  and wider (its own headline), one run a job. 'untuned_sgd': PLP
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
  """The jobs that the choices made so far call for, and their blocks: the
  protocol's (each point a block, then the confirmation), then the wider
  runs' and the second confirmation's."""
  jobs, blocks = tuned_comparison.jobs_and_blocks(
    comparison(sweep, grid_best, chosen)
  )
  stages = {
    **wider_blocks(sweep, chosen),
    **second_confirmation_blocks(sweep, chosen),
  }
  for block, stage_jobs in stages.items():
    # A job given as None is another block's, reused in this one.
    jobs.update({job: o for job, o in stage_jobs.items() if o is not None})
    blocks[block] = tuple(stage_jobs)
  return jobs, blocks


def study_jobs_and_blocks(grid_best, chosen):
  """Every sweep's jobs and blocks."""
  jobs, blocks = {}, {}
  for sweep in SWEEPS.values():
    sweep_jobs, sweep_blocks = sweep_jobs_and_blocks(sweep, grid_best, chosen)
    jobs.update(sweep_jobs)
    blocks.update(sweep_blocks)
  return jobs, blocks


JOBS, BLOCKS = study_jobs_and_blocks(GRID_BEST, CHOSEN)
COMPARISONS = tuple(comparison(s, GRID_BEST, CHOSEN) for s in SWEEPS.values())
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
  borrowed=COMPARISONS[0].borrowed,
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
