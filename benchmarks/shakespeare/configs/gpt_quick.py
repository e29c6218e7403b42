"""The language-model pipeline, about 70 seconds on 2 cores: not to compare.

nanoGPT's CPU model (`gpt_cpu.py`) for 300 steps, evaluated every 100.
"""

from benchmarks.shakespeare.configs import gpt_cpu


def get_config():
  config = gpt_cpu.get_config()
  config.epochs = 3
  config.warmup_steps = 30
  return config
