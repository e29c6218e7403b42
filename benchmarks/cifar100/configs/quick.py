"""What `make demo` runs: both arms on CIFAR-100, about 2 minutes on 2 cores.

ResNet18 at width 1/8 on the first 10,000 training images for 3 epochs,
tested on the full test split. Too short to compare the arms; it shows the
whole pipeline working end to end.
"""

from benchmarks.cifar100.configs import reference_recipe


def get_config():
  config = reference_recipe.get_config()
  config.width = 0.125
  config.epochs = 3
  config.warmup_epochs = 0.5
  config.train_limit = 10_000
  return config
