"""The paper's protocol (`sci_rep.py`) scaled to a 2-core CPU, as jobs.

  python -m benchmarks.cifar100.study sci_rep_study WORKROOT [--jobs ...]

What is scaled, and nothing else: the models' widths (`WIDTHS`), the number
of epochs (13 epochs of 312 steps = 4,056 steps, just over one full
learning-rate cycle of 2 x 2,000 steps, where the paper trains 100 epochs)
and the number of seeds (5 for ResNet18 and 3 for the others, where the paper
has 10). The data, the split, the batch, the optimizers, the schedules and the
selection are the paper's protocol as `sci_rep.py` sets it.
"""

from benchmarks.cifar100.configs import sci_rep
from benchmarks.cifar100.configs import study

WIDTHS = {'ResNet18': 1 / 16, 'VGG16': 1 / 16, 'GoogLeNet': 1 / 32}
EPOCHS = 13
MATCHED = ('sgd', 'plp', 'sgd_matched')
# Job -> its config's overrides. Each seed of a job is its own run directory,
# so that every finished seed can be committed on its own.
JOBS = {
  'ResNet18': {'arms': MATCHED, 'seeds': tuple(range(5))},
  'ResNet18_demon': {'arms': ('demon',), 'seeds': tuple(range(5))},
  # PLP's variants (issue 12), paired with the ResNet18 job's seeds.
  'ResNet18_variants': {
    'arms': ('plp_quadratic', 'plp_gated'), 'seeds': (0, 1, 2),
  },
  'VGG16': {'model': 'VGG16', 'arms': MATCHED, 'seeds': (0, 1, 2)},
  'GoogLeNet': {
    'model': 'GoogLeNet', 'arms': ('sgd', 'plp'), 'seeds': (0, 1, 2),
  },
  # Sensitivity: no schedule, at the cycle's two ends.
  'ResNet18_constant_0.001': {
    'arms': MATCHED, 'seeds': (0, 1, 2), 'lr_schedule': 'constant',
    'learning_rate': 0.001, 'max_learning_rate': 0.001,
    'cycle_momentum': False,
  },
  'ResNet18_constant_0.002': {
    'arms': MATCHED, 'seeds': (0, 1, 2), 'lr_schedule': 'constant',
    'learning_rate': 0.002, 'max_learning_rate': 0.002,
    'cycle_momentum': False,
  },
}  # fmt: skip
# Report blocks: jobs trained with the same config but for their arms, whose
# runs are compared with each other by seed.
BLOCKS = {
  'ResNet18': ('ResNet18', 'ResNet18_demon', 'ResNet18_variants'),
  'VGG16': ('VGG16',),
  'GoogLeNet': ('GoogLeNet',),
  'ResNet18_constant_0.001': ('ResNet18_constant_0.001',),
  'ResNet18_constant_0.002': ('ResNet18_constant_0.002',),
}
# Exploratory, chosen after the cyclic and constant-0.001 ResNet18 blocks had
# run (their top-5 differences leaned one way): one comparison pooled over
# blocks of the same model and arms at different learning rates, each (block,
# seed) one pair. Each block's own seeds are paired; the pool mixes regimes.
POOLED_COMPARISON = ('plp', 'sgd_matched')
POOLS = {
  'ResNet18, cyclic and constant': (
    'ResNet18', 'ResNet18_constant_0.001', 'ResNet18_constant_0.002',
  ),
}  # fmt: skip


def get_config(job='ResNet18'):
  if job not in JOBS:
    raise ValueError(f'job is {job!r}; allowed: {sorted(JOBS)}.')
  config = sci_rep.get_config()
  config.model = 'ResNet18'
  study.apply_overrides(config, JOBS[job])
  config.width = WIDTHS[config.model]
  config.epochs = EPOCHS
  config.progress = False
  return config
