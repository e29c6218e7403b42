"""The reference CIFAR-100 recipe: 200 epochs, SGD, step decay at 60/120/160.

Batch 128, learning rate 0.1 with one linear warm-up epoch, divided by 5 at
30%, 60% and 80% of the epochs, Nesterov momentum 0.9, weight decay 5e-4,
random crops with 4-pixel padding and horizontal flips, per-channel
normalisation; baseline vs the same with `plp()` at the paper's settings.
"""

import ml_collections


def get_config():
  config = ml_collections.ConfigDict()
  config.model = 'ResNet18'
  config.width = 1.0
  config.compute_dtype = 'float32'  # 'bfloat16' on GPUs and TPUs.
  # BatchNorm's variance in one pass, E[x^2] - E[x]^2, as flax computes it by
  # default and every committed study ran; False: from the centred values, as
  # PyTorch does, which rounds alike however XLA fuses the step (see models).
  config.batch_norm_fast_variance = True
  config.arms = ('sgd', 'plp')
  config.seeds = (0,)

  config.epochs = 200
  config.batch_size = 128
  config.eval_batch_size = 1000
  # Held out of the training split, seeded by validation_seed (the same split
  # for every arm and seed); > 0 adds the validation-selected errors.
  config.validation_fraction = 0.0
  config.validation_seed = 0
  add_optimizer_fields(config)
  add_prediction_and_probe_fields(config)
  add_data_and_run_fields(config)
  return config


def add_optimizer_fields(config):
  """The base optimizers' rates, schedules, momentum and weight decay."""
  config.learning_rate = 0.1
  config.lr_schedule = 'step_decay'  # or 'cyclic', 'constant'
  # 'step_decay': linear warm-up, then x lr_decay at fractions of the epochs.
  config.warmup_epochs = 1.0
  config.lr_milestones = (0.3, 0.6, 0.8)
  config.lr_decay = 0.2
  # 'cyclic': PyTorch's triangular CyclicLR from learning_rate to
  # max_learning_rate and back, cycle_steps_up steps each way; with
  # cycle_momentum the momentum cycles inversely, momentum -> base_momentum.
  config.max_learning_rate = 0.1
  config.cycle_steps_up = 2000
  config.cycle_momentum = False
  config.base_momentum = 0.8
  config.momentum = 0.9
  config.nesterov = True
  config.weight_decay = 5e-4
  # Used by the arms on AdamW only ('adamw', 'adamw_plp', 'adamw_matched').
  config.adamw_learning_rate = 1e-3
  config.adamw_weight_decay = 5e-2


def add_prediction_and_probe_fields(config):
  """PLP's arguments, and what is measured beside the training."""
  # optax_plp.plp's arguments in the arms that predict.
  config.prediction = ml_collections.ConfigDict()
  config.prediction.step_size = 1.0
  config.prediction.every = 3
  config.prediction.start_epoch = 0.0
  # Every (steps per epoch // this) steps, each over 4 of its steps (so about
  # this many times per epoch), in the arms without PLP: how far PLP's
  # prediction would land from where training goes (see trajectory.py).
  # Costs no extra steps.
  config.trajectory_probes = 4
  # Also evaluate each epoch's model one step later, on a copy (see
  # experiment.one_step_later_record): every epoch of 312 steps ends on a PLP
  # jump. Costs one step and one evaluation an epoch; changes no run.
  config.evaluate_one_step_later = False
  # > 0: also evaluate each epoch's model with BatchNorm's statistics
  # recomputed at its weights from this many fixed training batches, on a copy
  # (see experiment.recalibrated_record), as SWA's update_bn does. Costs a
  # forward pass over those batches and one evaluation an epoch; changes no
  # run.
  config.batch_norm_recalibration_batches = 0


def add_data_and_run_fields(config):
  """Where the data come from, and how a run uses devices and reports."""
  config.dataset = 'cifar100'
  config.train_split = 'train'
  config.test_split = 'test'
  config.train_limit = ml_collections.config_dict.placeholder(int)
  config.test_limit = ml_collections.config_dict.placeholder(int)
  config.download = True
  config.num_devices = 0  # 0: every local device.
  # What a non-finite training loss does: 'stop' raises, 'record' marks the
  # run diverged and goes on with the next (see config_checks.ON_DIVERGENCE).
  config.on_divergence = 'stop'
  config.progress = True
