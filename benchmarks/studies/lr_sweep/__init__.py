"""Does PLP beat SGD tuned as well as PLP? A learning-rate sweep at CPU scale.

ResNet18 at width 1/16 for 13 epochs in the paper's protocol
(`paper_protocol`'s base config: 20% validation split, a cyclic rate between
`lr` and `2 lr`, cyclic momentum, weight decay 1e-4). Two sweeps, each a
tuned comparison (`tuned_comparison`, its rule on the validation top-1 error
of the validation-selected epoch; a diverged run counts at chance): `sgd`
and `plp` from 0.001 (`paper_protocol`'s ResNet18 block, borrowed), and
`adamw` and `adamw_plp` (optax's AdamW, decoupled weight decay 0.05, the
same cyclic rate) from 1e-4; each confirmation on fresh seeds 3-10 with the
matched control at PLP's rate. Beside the protocol (`later_stages`): the
longer, wider runs and the second confirmation.
"""

from benchmarks import studies
from benchmarks.studies import Borrowed
from benchmarks.studies import Study
from benchmarks.studies import paper_protocol
from benchmarks.studies import sections
from benchmarks.studies import tuned_comparison
from benchmarks.studies.lr_sweep import figures
from benchmarks.studies.lr_sweep import later_stages
from benchmarks.studies.lr_sweep import sweep_sections

SEEDS = (0, 1, 2)
FRESH_SEEDS = tuple(range(3, 11))
# SGD's grid point 0.001 is the `paper_protocol` study's ResNet18 block.
SGD_RATES = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128)
ADAMW_RATES = (1e-4, 2e-4, 4e-4, 8e-4, 1.6e-3, 3.2e-3, 6.4e-3)


SWEEPS = {
  'SGD': sweep_sections.Sweep(
    'sgd', 'plp', 'sgd_matched', 'learning_rate', 'sgd_lr_', SGD_RATES,
    wider=True,
  ),
  'AdamW': sweep_sections.Sweep(
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
    rate_overrides=later_stages.rate_overrides(sweep.field),
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


def study_jobs_and_blocks(grid_best, chosen):
  """The jobs the entries made so far call for, and their blocks: each
  sweep's by the protocol (each point a block, then the confirmation), then
  its later stages' (a job given as None is another block's, reused)."""
  jobs, blocks = {}, {}
  for sweep in SWEEPS.values():
    protocol = comparison(sweep, grid_best, chosen)
    sweep_jobs, sweep_blocks = tuned_comparison.jobs_and_blocks(protocol)
    jobs, blocks = jobs | sweep_jobs, blocks | sweep_blocks
    later = later_stages.blocks(sweep, chosen, SEEDS, FRESH_SEEDS)
    for block, stage_jobs in later.items():
      jobs |= {job: o for job, o in stage_jobs.items() if o is not None}
      blocks[block] = tuple(stage_jobs)
  return jobs, blocks


JOBS, BLOCKS = study_jobs_and_blocks(GRID_BEST, CHOSEN)
COMPARISONS = tuple(comparison(s, GRID_BEST, CHOSEN) for s in SWEEPS.values())
# Exploratory, for the transformer study (`adamw_peers`): how straight the
# path of plain SGD and AdamW is here, by the language model's measure (the
# trajectory probes' path cosine), at their chosen rates, on seed 0. A
# measurement: shown in that study's report, not compared here.
PATH_COSINE = 'path_cosine'
JOBS[PATH_COSINE] = {
  **later_stages.point_job(
    SWEEPS['SGD'], CHOSEN['sgd'], ('sgd', 'adamw'), (0,)
  ),
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
  arm_blocks=(
    'confirm_sgd',
    'wider_sgd',
    'confirm_wider_sgd',
    'untuned_sgd',
    'confirm_adamw',
  ),  # fmt: skip
  settings=sweep_sections.SweepSettings(
    seeds=SEEDS,
    # Sweep name -> its `Sweep`: arms, control, grid field, job prefix.
    sweeps=SWEEPS,
    headline=sweep_sections.stated_tests(SWEEPS),
  ),
)
