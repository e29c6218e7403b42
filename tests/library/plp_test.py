"""Tests for `optax_plp.plp` against the NumPy reference and optax's tools."""

import functools

import chex
import jax
from jax.flatten_util import ravel_pytree
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optax_plp
from tests.library import reference

NUM_STEPS = 14

# Every prediction rule: the paper's, and the variants of `order` and `gate`.
RULES = list(optax_plp.RULES.values())


def quadratic(seed=0, dim=12):
  """A well-conditioned quadratic loss, its NumPy gradient and a start."""
  rng = np.random.default_rng(seed)
  q = rng.normal(size=(dim, dim))
  a = q @ q.T / dim + np.eye(dim)
  b = rng.normal(size=dim)
  p0 = rng.normal(size=dim)
  return a, b, p0


def tree_params(flat):
  """Splits a flat vector into a small tree of float32 arrays."""
  template = {'kernel': jnp.zeros((2, 4)), 'bias': jnp.zeros(4)}
  _, unravel = ravel_pytree(template)
  return unravel(jnp.asarray(flat, jnp.float32))


def run_optax(tx, a, b, p0, num_steps=NUM_STEPS):
  """Runs `tx` on the quadratic with a tree of parameters, returns the path."""
  params = tree_params(p0)
  a32, b32 = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)

  def loss(p):
    flat, _ = ravel_pytree(p)
    return 0.5 * flat @ a32 @ flat - b32 @ flat

  @jax.jit
  def step(params, state):
    updates, state = tx.update(jax.grad(loss)(params), state, params)
    return optax.apply_updates(params, updates), state

  state = tx.init(params)
  path = []
  for _ in range(num_steps):
    params, state = step(params, state)
    path.append(np.asarray(ravel_pytree(params)[0]))
  return path, state


def reference_path(a, b, p0, base, **plp_kwargs):
  return reference.plp_trajectory(
    p0, lambda p: a @ p - b, base, NUM_STEPS, **plp_kwargs
  )


@pytest.mark.parametrize(
  'step_size,every,start_step',
  [
    (1.0, 3, 0),
    (0.5, 3, 0),
    (2.0, 3, 2),
    (1.0, 4, 0),
    (1.0, 6, 5),
    (-0.3, 5, 1),
  ],
)
@pytest.mark.parametrize('nesterov', [False, True])
def test_matches_reference_sgd(step_size, every, start_step, nesterov):
  a, b, p0 = quadratic()
  base = optax.sgd(0.05, momentum=0.9, nesterov=nesterov)
  tx = optax.chain(
    base,
    optax_plp.plp(step_size, every=every, start_step=start_step),
  )
  got, _ = run_optax(tx, a, b, p0)
  want = reference_path(
    a,
    b,
    p0,
    reference.sgd_momentum(0.05, 0.9, nesterov),
    step_size=step_size,
    every=every,
    start_step=start_step,
  )
  np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


def test_matches_reference_adam():
  a, b, p0 = quadratic(seed=1)
  tx = optax.chain(optax.adam(0.02), optax_plp.plp())
  got, _ = run_optax(tx, a, b, p0)
  want = reference_path(a, b, p0, reference.adam(0.02))
  np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


def test_schedule_is_evaluated_at_the_predicting_step():
  a, b, p0 = quadratic(seed=2)
  schedule = optax.linear_schedule(0.0, 2.0, transition_steps=NUM_STEPS)
  tx = optax.chain(optax.sgd(0.05, 0.9), optax_plp.plp(schedule))
  got, _ = run_optax(tx, a, b, p0)
  want = reference_path(
    a,
    b,
    p0,
    reference.sgd_momentum(0.05, 0.9),
    step_size=lambda t: float(schedule(t)),
  )
  np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize('step_size', [1.0, 0.5, 2.0])
def test_straight_line_is_extrapolated_exactly(step_size):
  # sgd(0.25) with gradient -1 moves +0.25 per step: a straight line.
  tx = optax.chain(optax.sgd(0.25), optax_plp.plp(step_size))
  params = jnp.zeros(3)
  state = tx.init(params)
  path = []
  for _ in range(6):
    updates, state = tx.update(-jnp.ones(3), state, params)
    params = optax.apply_updates(params, updates)
    path.append(float(params[0]))
  # After a cycle: p0 + (2.5 + k) d, with d = 0.25.
  first = 0.25 * (2.5 + step_size)
  want = [0.25, 0.5, first, first + 0.25, first + 0.5]
  want.append(first + 0.25 * (2.5 + step_size))
  assert path == want


def test_first_two_steps_of_a_cycle_pass_through():
  tx = optax_plp.plp()
  updates = {'w': jnp.arange(4.0)}
  state = tx.init(updates)
  for _ in range(2):
    out, state = tx.update(updates, state, updates)
    chex.assert_trees_all_equal(out, updates)


def test_update_without_params_raises():
  tx = optax_plp.plp()
  state = tx.init(jnp.zeros(2))
  with pytest.raises(ValueError, match='`plp` needs the current params'):
    tx.update(jnp.ones(2), state)


def test_params_changed_outside_the_chain_are_part_of_the_slope():
  # h1 = 0.25 as returned, but an outside projection moves it to 0.0 before
  # the next step: the slope is then measured from 0.0.
  tx = optax.chain(optax.sgd(0.25), optax_plp.plp())
  params = jnp.zeros(1)
  state = tx.init(params)
  for projected in [0.0, None, None]:
    updates, state = tx.update(-jnp.ones(1), state, params)
    params = optax.apply_updates(params, updates)
    if projected is not None:
      params = jnp.full(1, projected)
  # h1 = 0.0, h2 = 0.25, h3 = 0.5: m23 + (m23 - m12) = 0.375 + 0.25.
  np.testing.assert_array_equal(params, [0.625])


def test_base_optimizer_state_is_untouched():
  base = optax.sgd(0.1, momentum=0.9, nesterov=True)
  tx = optax.chain(base, optax_plp.plp())
  params = {'w': jnp.ones(5)}
  grads = [{'w': jnp.full(5, float(i) - 3.0)} for i in range(7)]
  state, base_state = tx.init(params), base.init(params)
  for g in grads:
    _, state = tx.update(g, state, params)
    _, base_state = base.update(g, base_state, params)
  chex.assert_trees_all_close(state[0], base_state)


def test_state_holds_one_parameter_sized_buffer():
  params = {'a': jnp.ones((3, 4)), 'b': jnp.ones(7, jnp.bfloat16)}
  state = optax_plp.plp().init(params)
  assert isinstance(state, optax_plp.PLPState)
  chex.assert_trees_all_equal_shapes_and_dtypes(state.history, params)
  param_bytes = sum(x.nbytes for x in jax.tree.leaves(params))
  state_bytes = sum(x.nbytes for x in jax.tree.leaves(state.history))
  assert state_bytes == param_bytes
  half = optax_plp.plp(history_dtype=jnp.bfloat16).init({'a': params['a']})
  assert half.history['a'].dtype == jnp.bfloat16
  assert half.history['a'].nbytes * 2 == params['a'].nbytes


def test_bfloat16_history_stays_close_to_reference():
  a, b, p0 = quadratic(seed=3)
  tx = optax.chain(
    optax.sgd(0.05, 0.9), optax_plp.plp(history_dtype=jnp.bfloat16)
  )
  got, _ = run_optax(tx, a, b, p0)
  want = reference_path(a, b, p0, reference.sgd_momentum(0.05, 0.9))
  np.testing.assert_allclose(got, want, rtol=1e-2, atol=1e-3)


def test_bfloat16_params_keep_their_dtype():
  a, b, p0 = quadratic(seed=4)
  params = jax.tree.map(lambda x: x.astype(jnp.bfloat16), tree_params(p0))
  tx = optax.chain(optax.sgd(0.05, 0.9), optax_plp.plp())
  state = tx.init(params)
  grads = jax.tree.map(jnp.ones_like, params)
  for _ in range(3):
    updates, state = tx.update(grads, state, params)
    chex.assert_trees_all_equal_dtypes(updates, params)
    params = optax.apply_updates(params, updates)
  chex.assert_trees_all_equal_dtypes(params, state[1].history)


@pytest.mark.parametrize(
  'kwargs,match',
  [
    ({'every': 2}, '`every` must be an int >= 3'),
    ({'every': 3.0}, '`every` must be an int >= 3'),
    ({'every': True}, '`every` must be an int >= 3'),
    ({'start_step': -1}, '`start_step` must be an int >= 0'),
    ({'history_dtype': jnp.int32}, '`history_dtype` must be a floating'),
    ({'step_size': float('nan')}, '`step_size` must be a finite number'),
    ({'step_size': float('inf')}, '`step_size` must be a finite number'),
    ({'order': 3}, r'`order` must be one of \(1, 2\), got 3'),
    ({'order': True}, '`order` must be one of'),
    ({'gate': 'sine'}, r"`gate` must be one of \(None, 'cosine'\), got 'sine'"),
  ],
)
def test_bad_static_arguments_raise(kwargs, match):
  with pytest.raises(ValueError, match=match):
    optax_plp.plp(**kwargs)


def test_inject_hyperparams_gives_the_same_updates_and_state():
  a, b, p0 = quadratic(seed=5)
  plain = optax.chain(
    optax.sgd(0.05, 0.9), optax_plp.plp(0.7, every=4, start_step=1)
  )
  injected = optax.chain(
    optax.sgd(0.05, 0.9),
    optax.inject_hyperparams(optax_plp.plp, static_args=('every',))(
      step_size=0.7, every=4, start_step=1
    ),
  )
  got, got_state = run_optax(injected, a, b, p0)
  want, want_state = run_optax(plain, a, b, p0)
  np.testing.assert_array_equal(got, want)
  chex.assert_trees_all_equal(got_state[1].inner_state, want_state[1])


@pytest.mark.parametrize('rule', RULES)
def test_multisteps_predicts_on_accumulated_steps(rule):
  params = {'w': jnp.zeros(3)}
  grads = [{'w': jnp.full(3, -float(i + 1))} for i in range(12)]
  inner = optax.chain(optax.sgd(0.1), optax_plp.plp(**rule))
  multi = optax.MultiSteps(inner, every_k_schedule=2)
  state = multi.init(params)
  for g in grads:
    updates, state = multi.update(g, state, params)
    params = optax.apply_updates(params, updates)
  want_params = {'w': jnp.zeros(3)}
  inner_state = inner.init(want_params)
  for g1, g2 in zip(grads[::2], grads[1::2], strict=True):
    mean = jax.tree.map(lambda x, y: (x + y) / 2, g1, g2)
    updates, inner_state = inner.update(mean, inner_state, want_params)
    want_params = optax.apply_updates(want_params, updates)
  chex.assert_trees_all_close(params, want_params, rtol=1e-6)


@pytest.mark.parametrize('rule', RULES)
def test_masked_leaves_are_left_alone(rule):
  params = {'kernel': jnp.zeros(3), 'scale': jnp.zeros(2)}
  mask = {'kernel': True, 'scale': False}
  tx = optax.chain(optax.sgd(0.25), optax.masked(optax_plp.plp(**rule), mask))
  state = tx.init(params)
  grads = jax.tree.map(lambda p: -jnp.ones_like(p), params)
  for _ in range(3):
    updates, state = tx.update(grads, state, params)
    params = optax.apply_updates(params, updates)
  np.testing.assert_array_equal(params['kernel'], jnp.full(3, 0.875))
  np.testing.assert_array_equal(params['scale'], jnp.full(2, 0.75))


def test_integer_params_are_refused_with_what_to_do():
  params = {'kernel': jnp.zeros(3), 'steps': jnp.zeros((), jnp.int32)}
  with pytest.raises(ValueError, match=r"\['steps'\].*int32.*optax.masked"):
    optax_plp.plp().init(params)
  mask = {'kernel': True, 'steps': False}
  state = optax.masked(optax_plp.plp(), mask).init(params)  # as it says
  assert state.inner_state.history['kernel'].shape == (3,)


@pytest.mark.parametrize('rule', RULES)
def test_apply_if_finite_skips_the_bad_step_without_counting_it(rule):
  tx = optax.apply_if_finite(
    optax.chain(optax.sgd(0.25), optax_plp.plp(**rule)),
    max_consecutive_errors=3,
  )
  params = jnp.zeros(2)
  state = tx.init(params)
  grads = [-jnp.ones(2), jnp.array([jnp.nan, 1.0]), -jnp.ones(2), -jnp.ones(2)]
  for g in grads:
    updates, state = tx.update(g, state, params)
    params = optax.apply_updates(params, updates)
  np.testing.assert_array_equal(params, jnp.full(2, 0.875))
  assert int(state.total_notfinite) == 1


@pytest.mark.parametrize('rule', RULES)
def test_scan_loop_equals_python_loop(rule):
  a, b, p0 = quadratic(seed=6)
  tx = optax.chain(optax.sgd(0.05, 0.9), optax_plp.plp(**rule))
  want, _ = run_optax(tx, a, b, p0)
  a32, b32 = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)

  def body(carry, _):
    params, state = carry
    flat, unravel = ravel_pytree(params)
    updates, state = tx.update(unravel(a32 @ flat - b32), state, params)
    params = optax.apply_updates(params, updates)
    return (params, state), ravel_pytree(params)[0]

  p = tree_params(p0)
  _, got = jax.lax.scan(body, (p, tx.init(p)), length=NUM_STEPS)
  np.testing.assert_allclose(got, np.stack(want), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('rule', RULES)
def test_jit_with_donation_does_not_retrace_or_alias(rule):
  tx = optax.chain(optax.sgd(0.1, momentum=0.9), optax_plp.plp(**rule))
  traces = []

  @functools.partial(jax.jit, donate_argnums=(0, 1))
  def step(params, state, grads):
    traces.append(1)
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state

  params = {'w': jnp.ones((64, 32)), 'b': jnp.zeros(32)}
  state = tx.init(params)
  grads = jax.tree.map(jnp.ones_like, params)
  for _ in range(7):
    params, state = step(params, state, grads)
    param_buffers = {p.unsafe_buffer_pointer() for p in jax.tree.leaves(params)}
    for history in jax.tree.leaves(state[1].history):
      assert history.unsafe_buffer_pointer() not in param_buffers
  assert len(traces) == 1
  assert int(state[1].count) == 7


@pytest.mark.parametrize('rule', RULES)
def test_sharded_state_follows_params_and_matches_one_device(rule):
  devices = np.array(jax.devices()[:4])
  assert devices.size == 4, 'conftest.py forces four CPU devices'
  mesh = jax.sharding.Mesh(devices, ('model',))
  sharding = jax.sharding.NamedSharding(
    mesh, jax.sharding.PartitionSpec('model')
  )
  tx = optax.chain(optax.sgd(0.1, momentum=0.9), optax_plp.plp(**rule))
  params = {'w': jnp.arange(32.0).reshape(8, 4) / 32}
  grads = {'w': jnp.cos(params['w'])}
  sharded_params = jax.device_put(params, sharding)
  sharded_grads = jax.device_put(grads, sharding)

  @jax.jit
  def step(params, state, grads):
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state

  state = jax.jit(tx.init)(sharded_params)
  assert state[1].history['w'].sharding.is_equivalent_to(sharding, 2)
  single_state = tx.init(params)
  for _ in range(5):
    sharded_params, state = step(sharded_params, state, sharded_grads)
    params, single_state = step(params, single_state, grads)
  assert state[1].history['w'].sharding.is_equivalent_to(sharding, 2)
  # The gate's dot products sum across shards, in another order than on one
  # device: their rounding shows in values near zero.
  atol = 1e-7 if 'gate' in rule else 0
  chex.assert_trees_all_close(sharded_params, params, rtol=1e-6, atol=atol)


# Segments of the flat vector that `tree_params` makes: 'bias' then 'kernel'.
SEGMENTS = [slice(0, 4), slice(4, 12)]


@pytest.mark.parametrize('order', [1, 2])
@pytest.mark.parametrize('gate', [None, 'cosine'])
@pytest.mark.parametrize('every,start_step', [(3, 0), (3, 2), (5, 1)])
@pytest.mark.parametrize('scheduled', [False, True])
def test_rules_match_the_literal_reference(
  order, gate, every, start_step, scheduled
):
  a, b, p0 = quadratic(seed=7)
  schedule = optax.linear_schedule(0.5, 1.5, transition_steps=NUM_STEPS)
  step_size = schedule if scheduled else 0.8
  tx = optax.chain(
    optax.sgd(0.05, 0.9),
    optax_plp.plp(
      step_size, every=every, start_step=start_step, order=order, gate=gate
    ),
  )
  got, _ = run_optax(tx, a, b, p0)
  want = reference_path(
    a,
    b,
    p0,
    reference.sgd_momentum(0.05, 0.9),
    step_size=(lambda t: float(schedule(t))) if scheduled else 0.8,
    every=every,
    start_step=start_step,
    order=order,
    gate=gate,
    segments=SEGMENTS,
  )
  np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


def test_order_one_is_bit_identical_to_the_default():
  a, b, p0 = quadratic(seed=8)
  default = optax.chain(optax.sgd(0.05, 0.9), optax_plp.plp(0.7))
  explicit = optax.chain(
    optax.sgd(0.05, 0.9), optax_plp.plp(0.7, order=1, gate=None)
  )
  np.testing.assert_array_equal(
    run_optax(default, a, b, p0)[0], run_optax(explicit, a, b, p0)[0]
  )


def run_cycle(tx, updates):
  """Feeds `updates` (one per step) to `tx`; the parameters after each."""
  params = jnp.zeros_like(updates[0])
  state = tx.init(params)
  path = []
  for update in updates:
    new, state = tx.update(update, state, params)
    params = params + new
    path.append(params)
  return path


@pytest.mark.parametrize('step_size', [0.5, 1.0, 2.0])
def test_a_parabola_is_extrapolated_exactly_by_order_two(step_size):
  # h_t = c t^2 from h_0 = 0: the base update of step t is c (2t - 1).
  c = jnp.array([0.5, -2.0])
  updates = [c * (2 * t - 1) for t in (1, 2, 3)]
  path = run_cycle(optax_plp.plp(step_size, order=2), updates)
  t = 2.5 + step_size
  np.testing.assert_allclose(path[-1], c * t**2, rtol=1e-6)
  # The line through the midpoints does not follow the bend.
  linear = run_cycle(optax_plp.plp(step_size), updates)
  assert not np.allclose(linear[-1], c * t**2)


def test_the_gate_keeps_a_straight_line_and_stops_a_reversal():
  straight = [jnp.full(3, 0.25)] * 3
  for order in (1, 2):
    gated = run_cycle(optax_plp.plp(order=order, gate='cosine'), straight)
    plain = run_cycle(optax_plp.plp(order=order), straight)
    np.testing.assert_array_equal(gated[-1], plain[-1])
    np.testing.assert_allclose(gated[-1], jnp.full(3, 0.875))
  back = [jnp.full(3, 0.25), jnp.full(3, 0.25), jnp.full(3, -0.25)]
  for order in (1, 2):
    gated = run_cycle(optax_plp.plp(order=order, gate='cosine'), back)
    np.testing.assert_array_equal(gated[-1], jnp.full(3, 0.25))  # h3 itself


def test_the_gate_is_per_array():
  tx = optax_plp.plp(gate='cosine')
  params = {'on': jnp.zeros(2), 'off': jnp.zeros(2)}
  steps = [
    {'on': jnp.ones(2), 'off': jnp.ones(2)},
    {'on': jnp.ones(2), 'off': jnp.ones(2)},
    {'on': jnp.ones(2), 'off': -jnp.ones(2)},
  ]
  state = tx.init(params)
  for update in steps:
    new, state = tx.update(update, state, params)
    params = jax.tree.map(jnp.add, params, new)
  np.testing.assert_allclose(params['on'], jnp.full(2, 3.5))
  np.testing.assert_allclose(params['off'], jnp.full(2, 1.0))


def test_the_gate_is_finite_at_zero_updates():
  tx = optax_plp.plp(order=2, gate='cosine')
  params = jnp.zeros(4)

  def third_update(scale):
    state = tx.init(params)
    for _ in range(2):
      _, state = tx.update(scale * jnp.ones(4), state, params)
    new, _ = tx.update(scale * jnp.ones(4), state, params)
    return jnp.sum(new)

  assert float(third_update(0.0)) == 0.0
  assert np.isfinite(jax.grad(third_update)(0.0))
  gate = optax_plp._plp._cosine_gate
  for other in (jnp.zeros(4), jnp.array([0.0, 1.0, 0.0, 0.0])):
    assert float(gate(jnp.zeros(4), other)) == 0.0
    grads = jax.grad(lambda u, other=other: gate(u, other))(jnp.zeros(4))
    assert np.all(np.isfinite(grads))


def test_a_traced_order_selects_the_rule():
  updates = [jnp.array([0.5]), jnp.array([1.5]), jnp.array([2.5])]
  for order in (1, 2):
    injected = optax.inject_hyperparams(optax_plp.plp)(order=order)
    np.testing.assert_allclose(
      run_cycle(injected, updates)[-1],
      run_cycle(optax_plp.plp(order=order), updates)[-1],
      rtol=1e-6,
    )


@pytest.mark.parametrize('rule', RULES)
def test_with_plp_is_the_chain_with_plp_last(rule):
  base = optax.sgd(0.1, momentum=0.9)
  wrapped = optax_plp.with_plp(base, 0.5, every=4, **rule)
  chained = optax.chain(base, optax_plp.plp(0.5, every=4, **rule))
  params = {'w': jnp.arange(3.0), 'b': jnp.ones(2)}
  states = [tx.init(params) for tx in (wrapped, chained)]
  chex.assert_trees_all_equal(*states)
  both = [params, params]
  for step in range(9):
    grads = jax.tree.map(functools.partial(jnp.add, step), params)
    grads = jax.tree.map(jnp.sin, grads)
    for i, tx in enumerate((wrapped, chained)):
      updates, states[i] = tx.update(grads, states[i], both[i])
      both[i] = optax.apply_updates(both[i], updates)
    chex.assert_trees_all_equal(*both)
    params = both[0]


@pytest.mark.parametrize(
  'history_dtype,prediction',
  [
    # The default history stores h1: u2 = params − h1 holds the outside
    # change (+10), so the predicting update is u3 + u2 / 2 = 1 + 11 / 2.
    (None, 6.5),
    # A narrower history stores the chain's own update u2 = 1: 1 + 1 / 2.
    (jnp.bfloat16, 1.5),
  ],
)
def test_the_history_modes_count_an_outside_change_as_documented(
  history_dtype, prediction
):
  tx = optax_plp.plp(history_dtype=history_dtype)
  params = jnp.zeros(2, jnp.float32)
  state = tx.init(params)
  ones = jnp.ones(2, jnp.float32)
  for step in range(3):
    if step == 2:  # between the cycle's second and predicting steps
      params = params + 10.0
    updates, state = tx.update(ones, state, params)
    params = optax.apply_updates(params, updates)
  np.testing.assert_allclose(updates, [prediction] * 2)
