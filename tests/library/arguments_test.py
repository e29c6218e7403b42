"""`plp`'s and `with_plp`'s arguments: checked whatever their type, injected
with `optax.inject_hyperparams` in either form, and unusual leaves."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optax_plp
from tests.library import reference

BAD_ARGUMENTS = [
  ({'every': jnp.array(0)}, '`every` must be an int >= 3'),
  ({'every': jnp.array(2)}, '`every` must be an int >= 3'),
  ({'every': np.int64(-1)}, '`every` must be an int >= 3'),
  ({'every': jnp.array(3.0)}, '`every` must be an int >= 3'),
  ({'every': 2**40}, r'`every` must be an int >= 3 \(and <= 2147483647'),
  ({'start_step': jnp.array(-1)}, '`start_step` must be an int >= 0'),
  ({'start_step': 2**40}, '`start_step` must be an int >= 0'),
  ({'step_size': '1'}, "`step_size` must be a finite number .*, got '1'"),
  ({'step_size': 1e30}, '`step_size` must be a finite number with'),
  ({'step_size': jnp.array(jnp.nan)}, '`step_size` must be a finite number'),
  ({'step_size': None}, '`step_size` must be a finite number'),
  ({'order': jnp.array(3)}, r'`order` must be one of \(1, 2\), got 3'),
  ({'gate': ['cosine']}, '`gate` must be one of'),
  ({'history_dtype': 'int8'}, '`history_dtype` must be a floating'),
]


@pytest.mark.parametrize('kwargs,match', BAD_ARGUMENTS)
@pytest.mark.parametrize('factory', ['plp', 'with_plp'])
def test_bad_arguments_of_any_type_raise_naming_them(factory, kwargs, match):
  with pytest.raises(ValueError, match=match):
    if factory == 'plp':
      optax_plp.plp(**kwargs)
    else:
      optax_plp.with_plp(optax.sgd(0.1), **kwargs)


def test_concrete_arrays_act_as_the_numbers_they_hold():
  updates = [jnp.array([0.5]), jnp.array([1.5]), jnp.array([2.5])] * 2
  from_arrays = optax_plp.plp(
    jnp.array(0.5), every=jnp.array(4), start_step=np.int32(1), order=2
  )
  from_numbers = optax_plp.plp(0.5, every=4, start_step=1, order=2)
  chex.assert_trees_all_close(
    run(from_arrays, updates), run(from_numbers, updates)
  )


def run(tx, updates, jit=False):
  """Feeds `updates` (one per step) to `tx`; the parameters after each."""
  params = jnp.zeros_like(updates[0])
  state = tx.init(params)
  update = jax.jit(tx.update) if jit else tx.update
  path = []
  for u in updates:
    new, state = update(u, state, params)
    params = params + new
    path.append(params)
  return path


@pytest.mark.parametrize(
  'kwargs', [{'every': 0}, {'every': -1}, {'every': 2}, {'start_step': -3}]
)
def test_an_injected_bad_cycle_is_refused_at_init(kwargs):
  injected = optax.inject_hyperparams(optax_plp.plp)(**kwargs)
  with pytest.raises(ValueError, match='must be an int'):
    injected.init(jnp.zeros(2))


@pytest.mark.parametrize(
  'name,value',
  [
    ('every', 2), ('every', 0), ('start_step', -1), ('order', 3),
    # Not integers: stored as floats, which the state then holds.
    ('every', 3.5), ('start_step', 1.5), ('order', 1.5),
    # Past the bound `plp(step_size=...)` applies, or not finite.
    ('step_size', 1e30), ('step_size', float('inf')),
  ],
)  # fmt: skip
def test_an_injected_value_made_bad_later_gives_nan_not_a_silent_change(
  name, value
):
  # Once init has checked them, an injected hyperparameter can still be
  # changed in the state; the jitted update then returns NaN, loudly.
  injected = optax.inject_hyperparams(optax_plp.plp)()
  params = jnp.zeros(2)
  state = injected.init(params)
  update = jax.jit(injected.update)
  good, _ = update(jnp.ones(2), state, params)
  assert np.all(np.isfinite(good))
  dtype = None if isinstance(value, float) else state.hyperparams[name].dtype
  state.hyperparams[name] = jnp.asarray(value, dtype)
  for _ in range(3):
    bad, state = update(jnp.ones(2), state, params)
    assert np.all(np.isnan(bad)), (name, value)


def test_with_plp_under_inject_hyperparams_is_the_chain():
  updates = [jnp.array([1.0, -2.0]) * (step + 1) for step in range(7)]
  want = run(optax_plp.with_plp(optax.sgd(0.1), 0.5), updates)
  injected = optax.inject_hyperparams(optax_plp.with_plp)(
    optax.sgd(0.1), step_size=0.5
  )
  chex.assert_trees_all_close(run(injected, updates, jit=True), want)
  # Its step size is a hyperparameter to change, or a schedule.
  state = injected.init(jnp.zeros(2))
  assert float(state.hyperparams['step_size']) == 0.5
  scheduled = optax.inject_hyperparams(optax_plp.with_plp)(
    optax.sgd(0.1), step_size=optax.constant_schedule(0.5)
  )
  chex.assert_trees_all_close(run(scheduled, updates, jit=True), want)


def test_with_plp_after_an_injected_base_is_the_chain():
  updates = [jnp.array([1.0, -2.0]) * (step + 1) for step in range(7)]
  base = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
  got = run(optax_plp.with_plp(base, 0.5), updates, jit=True)
  chex.assert_trees_all_close(
    got, run(optax_plp.with_plp(optax.sgd(0.1), 0.5), updates)
  )


def test_a_straight_complex_path_is_extrapolated_by_every_rule():
  d = jnp.array([0.5 + 0.5j, -1.0 + 2.0j], jnp.complex64)
  for rule in optax_plp.RULES.values():
    path = run(optax_plp.plp(**rule), [d, d, d])
    np.testing.assert_allclose(path[-1], 3.5 * d, rtol=1e-6, err_msg=rule)


def test_the_cosine_gate_on_complex_updates_matches_the_reference():
  rng = np.random.default_rng(0)
  updates = [
    (rng.normal(size=3) + 1j * rng.normal(size=3)).astype(np.complex64)
    for _ in range(3)
  ]
  # The second update turned back in the imaginary part only: the real
  # vectors of twice the length are what the gate must see.
  updates[2] = updates[1].real - 0.2j * updates[1].imag
  path = run(optax_plp.plp(gate='cosine'), [jnp.asarray(u) for u in updates])
  h1, h2 = (np.asarray(p, np.complex128) for p in path[:2])
  h3 = h2 + updates[2]
  want = reference.prediction(h1, h2, h3, 1.0, gate='cosine')
  np.testing.assert_allclose(path[-1], want, rtol=1e-5)
  assert not np.allclose(path[-1], h3)  # the gate did not fall to 0


def test_a_real_history_for_complex_params_is_refused():
  tx = optax_plp.plp(history_dtype=jnp.float32)
  with pytest.raises(ValueError, match='drop its imaginary part'):
    tx.init({'w': jnp.zeros(2, jnp.complex64)})
  complex_history = optax_plp.plp(history_dtype=jnp.complex64)
  d = jnp.array([1.0 + 1.0j], jnp.complex64)
  path = run(complex_history, [d, d, d])
  np.testing.assert_allclose(path[-1], 3.5 * d)


def test_python_scalar_leaves_are_arrays():
  tx = optax.chain(optax.sgd(0.25), optax_plp.plp())
  params = {'w': 0.0, 'b': jnp.zeros(())}
  state = tx.init(params)
  for _ in range(3):
    grads = {'w': -1.0, 'b': -jnp.ones(())}
    updates, state = tx.update(grads, state, params)
    params = optax.apply_updates(params, updates)
  np.testing.assert_allclose(params['w'], 0.875)
  np.testing.assert_allclose(params['b'], 0.875)


@pytest.mark.parametrize(
  'at_update,message',
  [
    ({'w': jnp.zeros(3)}, r"params\['w'\] has shape \(3,\) at `update` but "
     r"\(1,\) at `init`"),
    ({'w': jnp.zeros(1, jnp.bfloat16)}, r"params\['w'\] has dtype bfloat16 at "
     r"`update` but float32 at `init`"),
    ({'w': jnp.zeros(1), 'b': jnp.zeros(1)},
     'another structure than at `init`'),
  ],
)  # fmt: skip
def test_params_unlike_those_at_init_are_refused_naming_the_leaf(
  at_update, message
):
  tx = optax_plp.plp()
  state = tx.init({'w': jnp.zeros(1)})
  updates = jax.tree.map(jnp.ones_like, at_update)
  with pytest.raises(ValueError, match=message):
    tx.update(updates, state, at_update)
  with pytest.raises(ValueError, match=message):  # at trace time, under jit
    jax.jit(tx.update)(updates, state, at_update)


def test_a_narrower_history_dtype_takes_params_of_the_inits_dtype():
  tx = optax_plp.plp(history_dtype=jnp.bfloat16)
  params = {'w': jnp.zeros(2)}
  state = tx.init(params)
  updates, _ = tx.update({'w': jnp.ones(2)}, state, params)
  assert updates['w'].dtype == jnp.float32


@pytest.mark.parametrize(
  'base',
  [
    optax_plp.with_plp(optax.sgd(0.1)),
    optax.chain(optax.sgd(0.1), optax_plp.plp()),
    optax.inject_hyperparams(optax_plp.with_plp)(optax.sgd(0.1)),
  ],
)
def test_with_plp_refuses_a_base_that_holds_plp(base):
  # It would apply PLP twice and train another path without a word.
  with pytest.raises(ValueError, match='`base` already holds PLP'):
    optax_plp.with_plp(base).init({'w': jnp.zeros(3)})


def test_with_plp_refuses_a_base_that_is_no_transformation():
  with pytest.raises(ValueError, match="optax.GradientTransformation .*'adam'"):
    optax_plp.with_plp('adam')


def test_updates_unlike_the_params_are_named():
  tx = optax_plp.plp()
  state = tx.init({'w': jnp.zeros(2)})
  with pytest.raises(ValueError, match=r"params\['w'\] has shape \(3,\)"):
    tx.update({'w': jnp.zeros(3)}, state, {'w': jnp.zeros(2)})
  with pytest.raises(ValueError, match='trees of one structure'):
    tx.update({'v': jnp.zeros(2)}, state, {'w': jnp.zeros(2)})


def test_a_step_size_past_the_parameters_dtype_is_refused():
  params = jnp.zeros(2, jnp.float16)
  with pytest.raises(ValueError, match='at most 256 in magnitude for float16'):
    optax_plp.plp(1e6).init(params)
  optax_plp.plp(200.0).init(params)  # within float16's bound
  with pytest.raises(ValueError, match='for float16'):
    optax_plp.plp(1e6, history_dtype=jnp.float16).init(jnp.zeros(2))
