"""For tests: a very small ResNet18 on a few examples (use with mock data)."""

from benchmarks.cifar100.configs import reference_recipe


def get_config():
  config = reference_recipe.get_config()
  config.width = 0.0625
  config.epochs = 3
  config.warmup_epochs = 0.5
  config.batch_size = 8
  config.eval_batch_size = 12
  config.train_limit = 32
  config.test_limit = 20
  config.download = False
  config.progress = False
  return config
