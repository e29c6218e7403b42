"""The learning-rate sweep of the paper's protocol at CPU scale, as jobs.

  python -m benchmarks.cifar100.study lr_sweep WORKROOT [--jobs ...]

ResNet18 at width 1/16, 13 epochs, the paper's protocol (`sci_rep.py`: 20%
validation split, the cyclic rate between `lr` and `2 lr`, cyclic momentum,
weight decay 1e-4), with the base rate `lr` on a factor-2 grid. SGD's grid
point 0.001 is the paper-protocol study's ResNet18 block (seeds 0-2). A run
whose loss turns non-finite is recorded as diverged and the sweep goes on.
"""

from benchmarks.cifar100.configs import sci_rep_study
from benchmarks.cifar100.configs import study

SEEDS = (0, 1, 2)
SGD_RATES = (0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128)
ADAMW_RATES = (1e-4, 2e-4, 4e-4, 8e-4, 1.6e-3, 3.2e-3, 6.4e-3)


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


def get_config(job='sgd_lr_0.032'):
  if job not in JOBS:
    raise ValueError(f'job is {job!r}; allowed: {sorted(JOBS)}.')
  config = sci_rep_study.get_config('ResNet18')
  study.apply_overrides(config, JOBS[job])
  config.on_divergence = 'record'
  return config
