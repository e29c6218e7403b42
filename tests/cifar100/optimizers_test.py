"""Tests for the arms' optimizers and schedules against hand-derived values."""

import functools
import importlib
import pkgutil

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from benchmarks import studies
from benchmarks import tasks
from benchmarks.cifar100 import optimizers
from benchmarks.cifar100 import train
from benchmarks.cifar100.configs import paper
from benchmarks.cifar100.configs import reference_recipe
from benchmarks.shakespeare import train as shakespeare
import optax_plp

# torch.optim.lr_scheduler.CyclicLR(base_lr=0.001, max_lr=0.002,
# step_size_up=2000, mode='triangular', cycle_momentum=True, base_momentum=0.8,
# max_momentum=0.9), by its documented formula: with cycle = floor(1 + t/4000)
# and x = 1 + t/4000 - cycle, scale = x/0.5 if x <= 0.5 else (x - 1)/(0.5 - 1);
# lr = 0.001 + 0.001 * scale, momentum = 0.9 - 0.1 * scale. Worked by hand:
CYCLIC = [
  # step, x, scale, learning rate, momentum
  (0, 0.0, 0.0, 0.001, 0.9),
  (500, 0.125, 0.25, 0.00125, 0.875),
  (2000, 0.5, 1.0, 0.002, 0.8),
  (3000, 0.75, 0.5, 0.0015, 0.85),
  (4000, 0.0, 0.0, 0.001, 0.9),
  (4056, 0.014, 0.028, 0.001028, 0.8972),
  (6500, 0.625, 0.75, 0.00175, 0.825),
]


@pytest.mark.parametrize('step,x,scale,learning_rate,momentum', CYCLIC)
def test_cyclic_schedules_match_pytorchs_cycliclr(
  step, x, scale, learning_rate, momentum
):
  config = paper.get_config()
  rate = optimizers.learning_rate_schedule(0.001, 312, config)
  arm = optimizers.ARMS['sgd']
  cycle_momentum = optimizers.momentum_schedule(arm, 312, config)
  assert float(rate(step)) == pytest.approx(learning_rate, rel=1e-5)
  assert float(cycle_momentum(step)) == pytest.approx(momentum, rel=1e-6)


def test_without_cycle_momentum_the_momentum_is_constant():
  config = paper.get_config()
  config.cycle_momentum = False
  assert (
    optimizers.momentum_schedule(optimizers.ARMS['sgd'], 312, config) == 0.9
  )


def demon_numpy(beta, t, total):
  remaining = 1 - t / total
  return beta * remaining / ((1 - beta) + beta * remaining)


def test_demon_decays_momentum_by_its_rule():
  schedule = optimizers.demon_schedule(0.9, 100)
  assert float(schedule(0)) == pytest.approx(0.9)
  assert float(schedule(50)) == pytest.approx(0.45 / 0.55)  # by hand
  assert float(schedule(100)) == 0.0
  for t in (1, 17, 99):
    assert float(schedule(t)) == pytest.approx(demon_numpy(0.9, t, 100))


def test_demon_decays_the_cyclic_momentum_of_the_paper_config():
  config = paper.get_config()
  config.epochs = 10
  demon = optimizers.momentum_schedule(optimizers.ARMS['demon'], 400, config)
  total = 4000
  for step, _, _, _, momentum in CYCLIC[:5]:
    want = demon_numpy(momentum, min(step, total), total)
    assert float(demon(step)) == pytest.approx(want, rel=1e-5, abs=1e-7)


def test_sgd_is_pytorchs_sgd_with_scheduled_rate_and_momentum():
  rate, momentum, decay = optax.linear_schedule(0.1, 0.05, 6), None, 0.01
  momentum = optimizers.triangular_schedule(0.9, 0.8, 3)
  tx = optimizers.sgd(rate, momentum, nesterov=False, weight_decay=decay)
  target = np.array([1.0, -2.0, 0.5])
  params = jnp.zeros(3)
  state = tx.init(params)
  p, buffer = np.zeros(3), np.zeros(3)
  for t in range(8):
    grads = params - target
    updates, state = tx.update(grads, state, params)
    params = optax.apply_updates(params, updates)
    # torch.optim.SGD: d = g + wd * p; buf = m * buf + d; p -= lr * buf.
    d = (p - target) + decay * p
    buffer = float(momentum(t)) * buffer + d
    p = p - float(rate(t)) * buffer
    np.testing.assert_allclose(params, p, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize('step_size,every', [(1.0, 3), (0.5, 3), (2.0, 5)])
def test_matched_step_walks_as_far_as_plp_on_a_straight_path(step_size, every):
  factor = optimizers.matched_step_factor(step_size, every)
  if (step_size, every) == (1.0, 3):
    assert factor == pytest.approx(7 / 6)
  grads = -jnp.ones(2)  # a straight line walked in equal steps of 0.1
  predicted = optax.chain(optax.sgd(0.1), optax_plp.plp(step_size, every=every))
  matched = optax.sgd(0.1 * factor)
  paths = []
  for tx in (predicted, matched):
    params, state, path = jnp.zeros(2), tx.init(jnp.zeros(2)), []
    for _ in range(4 * every):
      updates, state = tx.update(grads, state, params)
      params = optax.apply_updates(params, updates)
      path.append(params)
    paths.append(path)
  for cycle_end in range(every - 1, 4 * every, every):
    np.testing.assert_allclose(
      paths[0][cycle_end], paths[1][cycle_end], rtol=1e-6
    )


def first_update(name, config):
  tx = optimizers.arm_optimizer(name, config, 312)
  params = {'w': jnp.ones(3)}
  updates, _ = tx.update({'w': jnp.full(3, 0.5)}, tx.init(params), params)
  return updates['w']


def test_arms_are_their_base_optimizers_with_the_named_changes():
  config = paper.get_config()
  sgd = first_update('sgd', config)
  np.testing.assert_allclose(first_update('plp', config), sgd)  # step 1
  np.testing.assert_allclose(
    first_update('sgd_matched', config), 7 / 6 * sgd, rtol=1e-6
  )
  np.testing.assert_allclose(first_update('demon', config), sgd)  # no trace
  adamw = first_update('adamw', config)
  np.testing.assert_allclose(first_update('adamw_plp', config), adamw)
  np.testing.assert_allclose(
    first_update('adamw_matched', config), 7 / 6 * adamw, rtol=1e-6
  )
  tx = optimizers.arm_optimizer('plp', config, 312)
  state = tx.init({'w': jnp.ones(3)})
  assert isinstance(state[-1], optax_plp.PLPState)
  assert set(optimizers.ARMS) >= {
    a for pair in optimizers.CONTROLS for a in pair
  }


def test_every_base_optimizer_is_registered_with_a_checked_rate():
  assert {arm.base for arm in optimizers.ARMS.values()} == set(
    optimizers.BASE_OPTIMIZERS
  )
  for base in optimizers.BASE_OPTIMIZERS.values():
    config = reference_recipe.get_config()
    config[base.rate_field] = 0.0
    with pytest.raises(ValueError, match=f'config.{base.rate_field}'):
      train.validate_config(config)


CONFIG_MODULES = [
  m.name
  for m in pkgutil.iter_modules(
    importlib.import_module('benchmarks.cifar100.configs').__path__
  )
]
STUDY_JOBS = [
  (name, job) for name in studies.names() for job in studies.load(name).jobs
]


def has_plp_state(state):
  found = jax.tree.leaves(
    state, is_leaf=lambda x: isinstance(x, optax_plp.PLPState)
  )
  return any(isinstance(leaf, optax_plp.PLPState) for leaf in found)


def check_every_arm_builds(config):
  """Every arm of the config's task builds; only PLP's arms hold PLP."""
  task = tasks.task_of(config)
  task.validate_config(config)
  predicting = {n for n, arm in optimizers.ARMS.items() if arm.rule}
  arms = optimizers.ARMS
  if task is shakespeare.TASK:
    arms, predicting = shakespeare.ARMS, {'adamw_plp'}
  for name in arms:
    tx = task.arm_optimizer(name, config, {'steps_per_epoch': 312})
    state = jax.eval_shape(tx.init, {'w': jnp.ones(3)})
    assert has_plp_state(state) == (name in predicting), name


def test_the_configs_folder_holds_single_run_configs_only():
  assert sorted(CONFIG_MODULES) == [
    'cpu', 'paper', 'quick', 'reference_recipe', 'tiny',
  ]  # fmt: skip


@pytest.mark.parametrize('name', CONFIG_MODULES)
def test_every_arm_builds_in_every_shipped_config(name):
  module = importlib.import_module(f'benchmarks.cifar100.configs.{name}')
  check_every_arm_builds(module.get_config())


@pytest.mark.parametrize('name,job', STUDY_JOBS)
def test_every_arm_builds_in_every_study_job(name, job):
  check_every_arm_builds(studies.job_config(studies.load(name), job))


def test_schedule_phases_start_at_the_decay_boundaries():
  config = studies.job_config(studies.load('recipe_ablations'), 'ResNet18')
  phases = optimizers.schedule_phases(config, 390)
  assert phases == [
    (0, '1 × base'),
    (234, '0.2 × base'),
    (468, '0.04 × base'),
    (624, '0.008 × base'),
  ]
  assert optimizers.schedule_phases(paper.get_config(), 312) == [
    (0, 'cyclic 0.001-0.002')
  ]


def test_schedule_phases_name_the_rates_of_the_arms_base_optimizer():
  study = studies.load('lr_sweep')
  adamw_point = studies.job_config(study, 'adamw_lr_0.0016')
  sgd_point = studies.job_config(study, 'sgd_lr_0.0452548')
  assert optimizers.schedule_phases(adamw_point, 312, 'adamw_plp') == [
    (0, 'cyclic 0.0016-0.0032')
  ]
  assert optimizers.schedule_phases(sgd_point, 312, 'plp') == [
    (0, 'cyclic 0.0452548-0.0905097')
  ]
  # A matched-step arm runs its base rates × PLP's step length.
  assert optimizers.schedule_phases(sgd_point, 312, 'sgd_matched') == [
    (0, 'cyclic 0.0452548-0.0905097 × 7/6')
  ]
  recipe = studies.job_config(studies.load('recipe_ablations'), 'ResNet18')
  assert optimizers.schedule_phases(recipe, 390, 'sgd_matched')[1] == (
    234,
    '0.2 × base × 7/6',
  )


def test_equal_configs_share_one_optimizer_and_its_compilations():
  config = paper.get_config()
  first = optimizers.arm_optimizer('plp', config, 312)
  again = optimizers.arm_optimizer('plp', paper.get_config(), 312)
  assert again is first
  assert optimizers.arm_optimizer('sgd', config, 312) is not first
  assert optimizers.arm_optimizer('plp', config, 390) is not first
  config.prediction.step_size = 0.5
  assert optimizers.arm_optimizer('plp', config, 312) is not first
  # What the sharing is for: a jitted step whose static argument holds the
  # optimizer traces and compiles once for both.
  traces = []

  @functools.partial(jax.jit, static_argnums=0)
  def step(tx, params):
    traces.append(1)
    return tx.update(params, tx.init(params), params)[0]

  step(first, {'w': jnp.ones(3)})
  step(again, {'w': jnp.ones(3)})
  assert len(traces) == 1
