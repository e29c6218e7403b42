"""Shows the language-model pipeline in about a minute: not for comparing.

nanoGPT's CPU model (`gpt_cpu.py`) for 300 steps, evaluated every 100.
"""

from benchmarks.shakespeare.configs import gpt_cpu


def get_config():
  config = gpt_cpu.get_config()
  config.epochs = 3
  config.warmup_steps = 30
  return config
