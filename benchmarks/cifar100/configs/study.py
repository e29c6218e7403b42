"""The reproduction study on a 2-core CPU: each model, 2 epochs, 3 seeds.

  python -m benchmarks.cifar100.study study WORKROOT [--jobs JOB ...]
  --config=benchmarks/cifar100/configs/study.py:JOB   (one job by hand)

The reference recipe (see `reference_recipe.py`) on the full training split
with the learning-rate shape compressed to 2 epochs: a 0.2-epoch linear
warm-up, then /5 at 30%, 60% and 80% of the steps. Widths are chosen so that
the whole study (3 models x 3 seeds x 2 arms, plus the ResNet18 ablations)
fits about two hours of this CPU; GoogLeNet, the slowest per image on CPU, is
the narrowest.
"""

from benchmarks.cifar100.configs import reference_recipe

WIDTHS = {'VGG16': 0.125, 'ResNet18': 0.125, 'GoogLeNet': 0.0625}
ABLATION = {'seeds': (0, 1), 'arms': ('plp',)}
# Job -> its config's overrides (dotted names for nested fields).
JOBS = {
  'VGG16': {'model': 'VGG16'},
  'GoogLeNet': {'model': 'GoogLeNet'},
  'ResNet18': {},
  'ResNet18_step_size_0.5': {**ABLATION, 'prediction.step_size': 0.5},
  'ResNet18_step_size_2': {**ABLATION, 'prediction.step_size': 2.0},
  'ResNet18_every_6': {**ABLATION, 'prediction.every': 6},
  'ResNet18_start_after_warmup': {**ABLATION, 'prediction.start_epoch': 0.2},
  'ResNet18_adamw': {**ABLATION, 'arms': ('adamw', 'adamw_plp')},
  # PLP's variants and the matched-step control, paired with ResNet18's seeds.
  'ResNet18_variants': {'arms': ('sgd_matched', 'plp_quadratic', 'plp_gated')},
}
# Ablation job -> (the arm it adds, the job and arm it is compared with).
ABLATIONS = {
  'ResNet18_step_size_0.5': ('plp', 'ResNet18', 'sgd'),
  'ResNet18_step_size_2': ('plp', 'ResNet18', 'sgd'),
  'ResNet18_every_6': ('plp', 'ResNet18', 'sgd'),
  'ResNet18_start_after_warmup': ('plp', 'ResNet18', 'sgd'),
  'ResNet18_adamw': ('adamw_plp', 'ResNet18_adamw', 'adamw'),
}


def apply_overrides(config, overrides):
  """Sets each (dotted) field of `overrides` on `config`; returns it."""
  for field, value in overrides.items():
    *parents, name = field.split('.')
    target = config
    for parent in parents:
      target = target[parent]
    target[name] = value
  return config


def get_config(job='ResNet18'):
  if job not in JOBS:
    raise ValueError(f'job is {job!r}; allowed: {sorted(JOBS)}.')
  config = reference_recipe.get_config()
  config.epochs = 2
  config.warmup_epochs = 0.2
  config.seeds = (0, 1, 2)
  config.trajectory_probes = 24  # every 16 steps
  config.progress = False
  apply_overrides(config, JOBS[job])
  config.width = WIDTHS[config.model]
  return config
