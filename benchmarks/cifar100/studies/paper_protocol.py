"""The paper's protocol (`configs/paper_protocol.py`) scaled to a 2-core CPU.

What is scaled, and nothing else: the models' widths (1/16; GoogLeNet 1/32),
the number of epochs (13 epochs of 312 steps = 4,056 steps, just over one
full learning-rate cycle of 2 x 2,000 steps, where the paper trains 100
epochs) and the number of seeds (5 for ResNet18 and 3 for the others, where
the paper has 10). The data, the split, the batch, the optimizers, the
schedules and the selection are the paper's protocol.
"""

from benchmarks.cifar100.configs import paper_protocol
from benchmarks.cifar100.studies import Study
from benchmarks.cifar100.studies import sections


def base_config():
  """ResNet18 at width 1/16 for 13 epochs, in the paper's protocol."""
  config = paper_protocol.get_config()
  config.model = 'ResNet18'
  config.width = 1 / 16
  config.epochs = 13
  config.progress = False
  return config


MATCHED = ('sgd', 'plp', 'sgd_matched')


def constant_rate(rate):
  """A job without the cycle: the rate and the momentum held constant."""
  return {
    'arms': MATCHED, 'seeds': (0, 1, 2), 'lr_schedule': 'constant',
    'learning_rate': rate, 'max_learning_rate': rate,
    'cycle_momentum': False,
  }  # fmt: skip


STUDY = Study(
  name='paper_protocol',
  base_config=base_config,
  jobs={
    'ResNet18': {'arms': MATCHED, 'seeds': tuple(range(5))},
    'ResNet18_demon': {'arms': ('demon',), 'seeds': tuple(range(5))},
    # PLP's variants, paired with the ResNet18 job's seeds.
    'ResNet18_variants': {
      'arms': ('plp_quadratic', 'plp_gated'),
      'seeds': (0, 1, 2),
    },
    'VGG16': {'model': 'VGG16', 'arms': MATCHED, 'seeds': (0, 1, 2)},
    'GoogLeNet': {
      'model': 'GoogLeNet',
      'width': 1 / 32,
      'arms': ('sgd', 'plp'),
      'seeds': (0, 1, 2),
    },
    # Sensitivity: no schedule, at the cycle's two ends.
    'ResNet18_constant_0.001': constant_rate(0.001),
    'ResNet18_constant_0.002': constant_rate(0.002),
    # A measurement, not a comparison: each epoch (312 steps, a multiple of
    # PLP's 3) ends on a PLP jump; the same seed also evaluated one step on.
    'ResNet18_one_step_later': {
      'arms': ('sgd', 'plp'),
      'seeds': (0,),
      'evaluate_one_step_later': True,
    },
  },  # fmt: skip
  blocks={
    'ResNet18': ('ResNet18', 'ResNet18_demon', 'ResNet18_variants'),
    'VGG16': ('VGG16',),
    'GoogLeNet': ('GoogLeNet',),
    'ResNet18_constant_0.001': ('ResNet18_constant_0.001',),
    'ResNet18_constant_0.002': ('ResNet18_constant_0.002',),
    'ResNet18_one_step_later': ('ResNet18_one_step_later',),
  },
  plot_blocks=('ResNet18', 'VGG16'),
  sections=(
    sections.arms,
    sections.differences,
    sections.pooled,
    sections.trajectory,
    sections.one_step_later,
  ),
  options={
    # Blocks that measure rather than compare: only their own section.
    'measurements': ('ResNet18_one_step_later',),
    # Exploratory, chosen after the cyclic and constant-0.001 ResNet18 blocks
    # had run (their top-5 differences leaned one way): one comparison pooled
    # over blocks of the same model and arms at different learning rates,
    # each (block, seed) one pair.
    'pooled_comparison': ('plp', 'sgd_matched'),
    'pools': {
      'ResNet18, cyclic and constant': (
        'ResNet18',
        'ResNet18_constant_0.001',
        'ResNet18_constant_0.002',
      ),
    },
  },  # fmt: skip
)
