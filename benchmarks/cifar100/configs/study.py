"""The reproduction study on a 2-core CPU: each model, 2 epochs, 3 seeds.

  --config=benchmarks/cifar100/configs/study.py:VGG16

The reference recipe (see `reference_recipe.py`) on the full training split with the
learning-rate shape compressed to 2 epochs: a 0.2-epoch linear warm-up, then
/5 at 30%, 60% and 80% of the steps. Widths are chosen so that the whole study
(3 models x 3 seeds x 2 arms, plus the ResNet18 ablations) fits about two
hours of this CPU; GoogLeNet, the slowest per image on CPU, is the narrowest.
"""

from benchmarks.cifar100.configs import reference_recipe

WIDTHS = {'VGG16': 0.125, 'ResNet18': 0.125, 'GoogLeNet': 0.0625}


def get_config(model='ResNet18'):
  if model not in WIDTHS:
    raise ValueError(f'model is {model!r}; allowed: {sorted(WIDTHS)}.')
  config = reference_recipe.get_config()
  config.model = model
  config.width = WIDTHS[model]
  config.epochs = 2
  config.warmup_epochs = 0.2
  config.seeds = (0, 1, 2)
  config.trajectory_probes = 24  # every 16 steps
  return config
