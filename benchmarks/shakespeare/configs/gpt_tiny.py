"""For the tests: a tiny GPT on a corpus the tests make (`data_dir`)."""

from benchmarks.shakespeare.configs import gpt_cpu


def get_config():
  config = gpt_cpu.get_config()
  config.layers = 2
  config.heads = 2
  config.width = 16
  config.context = 8
  config.batch_size = 4
  config.epochs = 3
  config.steps_per_epoch = 4
  config.warmup_steps = 2
  config.eval_windows = 16
  config.eval_batch_size = 8
  config.progress = False
  return config
