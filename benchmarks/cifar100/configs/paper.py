"""The PLP paper's own protocol (Ying et al., Sci. Rep. 14:15197, 2024).

What the paper states: CIFAR-100 with 20% of the training split held out for
validation; PyTorch's default initialisation; 100 epochs; momentum 0.9;
weight decay 1e-4; a cyclic learning rate between 0.001 and 0.002; 10 models
per network and method (PLP, SGD, DEMON); the errors of the model that the
validation split selects. Where it is silent, the fields take the defaults of
the tools it names (PyTorch 2.0.1's SGD and CyclicLR), each marked below.
The arms add `sgd_matched`, SGD whose steps are as long as PLP's (see
`optimizers.matched_step_factor`): does PLP do more than step farther?
"""

from benchmarks.cifar100.configs import reference_recipe


def get_config():
  config = reference_recipe.get_config()
  config.arms = ('sgd', 'plp', 'sgd_matched', 'demon')
  config.seeds = tuple(range(10))
  config.epochs = 100
  config.validation_fraction = 0.2
  config.batch_size = 128  # not stated; the choice for PyTorch's 1
  config.learning_rate = 0.001
  config.lr_schedule = 'cyclic'
  config.max_learning_rate = 0.002
  # Not stated: CyclicLR's defaults, mode='triangular', step_size_up=2000
  # iterations, cycle_momentum=True between base 0.8 and max 0.9.
  config.cycle_steps_up = 2000
  config.cycle_momentum = True
  config.base_momentum = 0.8
  config.momentum = 0.9
  config.nesterov = False  # not stated; torch.optim.SGD's default
  config.weight_decay = 1e-4  # added to the gradient, as torch.optim.SGD does
  config.trajectory_probes = 4
  return config
