"""The training harness: data, models, optimizers, training, checkpoints."""
