"""nanoGPT's character-level Shakespeare model at its CPU setting.

As karpathy/nanoGPT's README sets it for a laptop, by command-line overrides
of `config/train_shakespeare_char.py` (which is the GPU setting: 6 layers,
width 384): 4 layers, 4 heads, width 128, context 64, batch 12, 2,000 steps,
AdamW at 1e-3 (β2 0.99, weight decay 0.1), 100 warm-up steps, cosine decay
to 1e-4, dropout 0, gradients clipped at norm 1. Evaluated every 100 steps
on 256 fixed windows of 64 characters of each held-out split, and at the end
on every window of both.
"""

import ml_collections


def get_config():
  config = ml_collections.ConfigDict()
  config.task = 'shakespeare'
  config.arms = ('adamw', 'adamw_plp')
  config.seeds = (0,)
  # The model (models.GPT).
  config.layers = 4
  config.heads = 4
  config.width = 128
  config.context = 64
  # Training: `epochs` intervals of `steps_per_epoch` steps, each followed
  # by an evaluation and a checkpoint.
  config.batch_size = 12
  config.epochs = 20
  config.steps_per_epoch = 100
  config.learning_rate = 1e-3  # the peak
  config.warmup_steps = 100
  config.final_rate_fraction = 0.1  # cosine decay to 1e-4
  config.b1 = 0.9
  config.b2 = 0.99
  config.weight_decay = 0.1
  config.gradient_clip = 1.0
  config.prediction = ml_collections.ConfigDict({'step_size': 1.0, 'every': 3})
  # optax.lookahead at its authors' defaults.
  config.lookahead = ml_collections.ConfigDict(
    {'sync_period': 5, 'slow_step_size': 0.5}
  )
  # Evaluation after each interval: evenly spaced windows of each held-out
  # split (0: all); after the last, every window of both.
  config.eval_windows = 256
  config.eval_batch_size = 128
  # How runs are made and shown (free to change on resume).
  config.data_dir = ''  # '' is input_pipeline.DEFAULT_CACHE
  config.num_devices = 0
  config.progress = True
  config.on_divergence = 'stop'
  return config
