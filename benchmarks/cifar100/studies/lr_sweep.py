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
"""

from benchmarks.cifar100.studies import Study
from benchmarks.cifar100.studies import paper_protocol
from benchmarks.cifar100.studies import sections

SEEDS = (0, 1, 2)
SGD_RATES = (0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128)
ADAMW_RATES = (1e-4, 2e-4, 4e-4, 8e-4, 1.6e-3, 3.2e-3, 6.4e-3)


def base_config():
  config = paper_protocol.base_config()
  config.on_divergence = 'record'
  return config


def sgd_job(rate):
  return {
    'arms': ('sgd', 'plp'),
    'seeds': SEEDS,
    'learning_rate': rate,
    'max_learning_rate': 2 * rate,
  }


def adamw_job(rate):
  return {
    'arms': ('adamw', 'adamw_plp'),
    'seeds': SEEDS,
    'adamw_learning_rate': rate,
  }


JOBS = {
  **{f'sgd_lr_{rate:g}': sgd_job(rate) for rate in SGD_RATES},
  **{f'adamw_lr_{rate:g}': adamw_job(rate) for rate in ADAMW_RATES},
}
BORROWED = 'sgd_lr_0.001'

STUDY = Study(
  name='lr_sweep',
  base_config=base_config,
  jobs=JOBS,
  blocks={job: (job,) for job in (BORROWED, *JOBS)},
  sections=(sections.sweep, sections.differences),
  options={
    # Grid points run by another study: job -> its committed runs.
    'borrowed': {
      BORROWED: 'benchmarks/results/cifar100/paper_protocol/ResNet18',
    },
    'seeds': SEEDS,
    # Sweep -> (its arms, the config field its grid sets, job name prefix).
    'sweeps': {
      'SGD': (('sgd', 'plp'), 'learning_rate', 'sgd_lr_'),
      'AdamW': (('adamw', 'adamw_plp'), 'adamw_learning_rate', 'adamw_lr_'),
    },
  },
)
