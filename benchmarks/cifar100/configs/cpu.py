"""A CPU-sized study: ResNet18 at width 1/4, full data, 15 epochs.

The reference schedule's shape (warm-up, then /5 at 30%, 60% and 80% of the
epochs) compressed to 15 epochs. Its committed run trained 278 images/s an
arm on 2 cores (benchmarks/results/cifar100/resnet18_w025_cpu_seed0/).
"""

from benchmarks.cifar100.configs import reference_recipe


def get_config():
  config = reference_recipe.get_config()
  config.width = 0.25
  config.epochs = 15
  return config
