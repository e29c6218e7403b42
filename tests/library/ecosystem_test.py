"""`plp` inside Flax training states and orbax checkpoints."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optax_plp

# Flax and orbax are not the library's dependencies: where they are missing
# (as in `make test-min`) these integration tests are skipped.
nnx = pytest.importorskip('flax.nnx')
nn = pytest.importorskip('flax.linen')
train_state = pytest.importorskip('flax.training.train_state')
ocp = pytest.importorskip('orbax.checkpoint')

# Every prediction rule: the paper's, and the variants of `order` and `gate`.
RULES = list(optax_plp.RULES.values())


@pytest.mark.parametrize('rule', RULES)
def test_linen_train_state_moves_along_the_prediction(rule):
  model = nn.Dense(3)
  params = model.init(jax.random.key(0), jnp.ones((1, 2)))['params']
  state = train_state.TrainState.create(
    apply_fn=model.apply,
    params=params,
    tx=optax.chain(optax.sgd(0.25), optax_plp.plp(**rule)),
  )
  grads = jax.tree.map(lambda p: -jnp.ones_like(p), params)
  step = jax.jit(lambda s: s.apply_gradients(grads=grads))
  for _ in range(3):
    state = step(state)
  moved = jax.tree.map(lambda new, old: new - old, state.params, params)
  for leaf in jax.tree.leaves(moved):
    np.testing.assert_allclose(leaf, 0.875, rtol=1e-6)


@pytest.mark.parametrize('rule', RULES)
def test_nnx_optimizer_moves_along_the_prediction(rule):
  model = nnx.Linear(2, 3, rngs=nnx.Rngs(0))
  before = jax.tree.map(jnp.copy, nnx.state(model, nnx.Param))
  tx = optax.chain(optax.sgd(0.25), optax_plp.plp(**rule))
  optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

  @nnx.jit
  def step(model, optimizer):
    grads = jax.tree.map(
      lambda p: -jnp.ones_like(p), nnx.state(model, nnx.Param)
    )
    optimizer.update(model, grads)

  for _ in range(3):
    step(model, optimizer)
  after = nnx.state(model, nnx.Param)
  moved = jax.tree.map(lambda new, old: new - old, after, before)
  for leaf in jax.tree.leaves(moved):
    np.testing.assert_allclose(leaf, 0.875, rtol=1e-6)


@pytest.mark.parametrize('rule', RULES)
def test_orbax_round_trip_continues_bit_identically(tmp_path, rule):
  tx = optax.chain(optax.sgd(0.1, momentum=0.9), optax_plp.plp(every=4, **rule))
  params = {'w': jnp.linspace(-1.0, 1.0, 12).reshape(3, 4)}

  @jax.jit
  def step(params, state):
    grads = jax.tree.map(lambda p: jnp.sin(3 * p), params)
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state

  def run(params, state, num_steps):
    for _ in range(num_steps):
      params, state = step(params, state)
    return params, state

  want = run(params, tx.init(params), 11)
  halfway = run(params, tx.init(params), 6)
  checkpointer = ocp.StandardCheckpointer()
  checkpointer.save(tmp_path / 'ckpt', halfway)
  checkpointer.wait_until_finished()
  template = jax.tree.map(ocp.utils.to_shape_dtype_struct, halfway)
  restored = checkpointer.restore(tmp_path / 'ckpt', template)
  assert isinstance(restored[1][1], optax_plp.PLPState)
  got = run(*restored, 5)
  jax.tree.map(np.testing.assert_array_equal, got, want)
