"""The reference recipe on a 2-core CPU: each model, 2 epochs, 3 seeds.

The reference recipe (`configs/reference_recipe.py`) on the full training
split with the learning-rate shape compressed to 2 epochs: a 0.2-epoch
linear warm-up, then /5 at 30%, 60% and 80% of the steps. Widths are chosen
so that the whole study (3 models x 3 seeds x 2 arms, plus the ResNet18
ablations) fits about two hours of this CPU; GoogLeNet, the slowest per
image on CPU, is the narrowest.
"""

from benchmarks.cifar100.configs import reference_recipe
from benchmarks.cifar100.studies import Study
from benchmarks.cifar100.studies import sections


def base_config():
  config = reference_recipe.get_config()
  config.width = 0.125
  config.epochs = 2
  config.warmup_epochs = 0.2
  config.seeds = (0, 1, 2)
  config.trajectory_probes = 24  # every 16 steps
  config.progress = False
  return config


ABLATION = {'seeds': (0, 1), 'arms': ('plp',)}

STUDY = Study(
  name='recipe_ablations',
  base_config=base_config,
  jobs={
    'VGG16': {'model': 'VGG16'},
    'GoogLeNet': {'model': 'GoogLeNet', 'width': 0.0625},
    'ResNet18': {},
    'ResNet18_step_size_0.5': {**ABLATION, 'prediction.step_size': 0.5},
    'ResNet18_step_size_2': {**ABLATION, 'prediction.step_size': 2.0},
    'ResNet18_every_6': {**ABLATION, 'prediction.every': 6},
    'ResNet18_start_after_warmup': {
      **ABLATION,
      'prediction.start_epoch': 0.2,
    },
    'ResNet18_adamw': {**ABLATION, 'arms': ('adamw', 'adamw_plp')},
    # PLP's variants and the matched-step control, paired by seed with the
    # ResNet18 job's arms.
    'ResNet18_variants': {
      'arms': ('sgd_matched', 'plp_quadratic', 'plp_gated'),
    },
  },  # fmt: skip
  sections=(
    sections.models_section,
    sections.ablations,
    sections.variants,
    sections.trajectory,
  ),
  options={
    # Job -> (the arm it adds, the job and arm it is compared with, label).
    'ablations': {
      'ResNet18': ('plp', 'ResNet18', 'sgd', 'paper settings'),
      'ResNet18_step_size_0.5': ('plp', 'ResNet18', 'sgd', 'step size 0.5'),
      'ResNet18_step_size_2': ('plp', 'ResNet18', 'sgd', 'step size 2'),
      'ResNet18_every_6': ('plp', 'ResNet18', 'sgd', 'every 6'),
      'ResNet18_start_after_warmup': (
        'plp',
        'ResNet18',
        'sgd',
        'start after warmup',
      ),
      'ResNet18_adamw': ('adamw_plp', 'ResNet18_adamw', 'adamw', 'adamw'),
    },  # fmt: skip
    'ablation_seeds': ABLATION['seeds'],
    'variant_jobs': ('ResNet18', 'ResNet18_variants'),
  },
)
