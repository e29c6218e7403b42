"""optax's common tests for contributed optimizers, faced by `plp`.

The tests of ``optax/contrib/_common_test.py``, written for `plp` chained
after a base optimizer (as optax tests a wrapper: with the base fixed, each
rule of `plp` in turn), on the same targets and tolerances: extra arguments
and no recompilation, convergence over 30,000 scanned steps at
rtol = atol = 3e-2, `inject_hyperparams`, dtypes, `MultiSteps`, state
stability under `lax.cond`, and schedules.

The base optimizers run at learning rates with which they converge alone on
every target. One combination does not converge, and its test asserts the
documented behaviour (see `KNOWN_NOT_CONVERGING` and the README).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optax_plp

# optax's common tests for contributed optimizers are a private test module,
# and their helpers (`optax._src.test_utils`) ship with optax 0.2.7 and later.
# With an older optax (the library itself supports 0.2.4 on) this file is
# skipped, and the library's own tests still run.
NEEDS = 'optax >= 0.2.7, whose private contrib test helpers this file runs'
test_utils = pytest.importorskip('optax._src.test_utils', reason=NEEDS)
utils = pytest.importorskip('optax._src.utils', reason=NEEDS)
common = pytest.importorskip('optax.contrib._common_test', reason=NEEDS)

BASES = {
  'sgd': lambda: optax.sgd(1e-3),
  'sgd_momentum': lambda: optax.sgd(1e-3, momentum=0.9),
  'adam': lambda: optax.adam(1e-2),
}
RULES = optax_plp.RULES
TARGETS = {
  'parabola': common._setup_parabola,
  'rosenbrock': common._setup_rosenbrock,
  'matrix': common._setup_matrix_parabola,
  'mixed': common._setup_mixed_tensor_target,
}
# (base, rule, target) that do not converge in 30,000 steps: Rosenbrock's
# narrow curved valley with heavy-ball momentum at lr 1e-3. The base alone
# converges, and so does the base at PLP's matched learning rate (7/6 x), so
# the longer step is not the cause; halving the learning rate converges.
KNOWN_NOT_CONVERGING = {
  ('sgd_momentum', 'linear', 'rosenbrock'),
  ('sgd_momentum', 'gated', 'rosenbrock'),
}
CASES = [(b, r) for b in BASES for r in RULES]


def with_plp(base, step_size=1.0, *, every=3, start_step=0, order=1, gate=None):
  """`plp` used as a wrapper: chained after `base`."""
  return optax.chain(
    base,
    optax_plp.plp(
      step_size, every=every, start_step=start_step, order=order, gate=gate
    ),
  )


def optimizer(base, rule):
  return with_plp(BASES[base](), **RULES[rule])


def converged(params, final):
  return all(
    np.allclose(p, f, rtol=3e-2, atol=3e-2)
    for p, f in zip(
      jax.tree.leaves(params), jax.tree.leaves(final), strict=True
    )
  )


@functools.partial(jax.jit, static_argnums=(0, 1))
def scanned(opt, target_name, steps=30_000):
  initial_params, _, objective = TARGETS[target_name](jnp.float32)

  def step(carry, _):
    params, state = carry
    updates, state = opt.update(jax.grad(objective)(params), state, params)
    return (optax.apply_updates(params, updates), state), None

  state = opt.init(initial_params)
  state = optax.tree.map_params(opt, lambda v: v, state)
  (params, _), _ = jax.lax.scan(step, (initial_params, state), length=steps)
  return params


@pytest.mark.parametrize('base,rule', CASES)
def test_accepts_extra_args_and_does_not_recompile(base, rule):
  opt = optimizer(base, rule)
  initial_params, _, objective = common._setup_rosenbrock(jnp.float32)

  @jax.jit
  def step(params, state):
    updates = jax.grad(objective)(params)
    updates, state = opt.update(
      updates, state, params, unexpected_extra_args_your_optimizer=1
    )
    return optax.apply_updates(params, updates), state

  params, state = step(initial_params, opt.init(initial_params))
  with test_utils.log_compilations() as compilations:
    step(params, state)
  assert not compilations


@pytest.mark.parametrize('target', TARGETS)
@pytest.mark.parametrize('base,rule', CASES)
def test_converges_like_optax_contrib_optimizers(base, rule, target):
  _, final, _ = TARGETS[target](jnp.float32)
  params = scanned(optimizer(base, rule), target)
  if (base, rule, target) in KNOWN_NOT_CONVERGING:
    assert not converged(params, final)
    assert np.all(np.isfinite(jax.tree.leaves(params)))  # bounded, not NaN
  else:
    assert converged(params, final)


@pytest.mark.parametrize('base,rule,target', sorted(KNOWN_NOT_CONVERGING))
def test_the_known_failure_is_not_the_longer_step(base, rule, target):
  _, final, _ = TARGETS[target](jnp.float32)
  alone = scanned(BASES[base](), target)
  matched = scanned(optax.sgd(1e-3 * 7 / 6, momentum=0.9), target)
  slower = scanned(
    with_plp(optax.sgd(5e-4, momentum=0.9), **RULES[rule]), target
  )
  assert converged(alone, final) and converged(matched, final)
  assert converged(slower, final)


@pytest.mark.parametrize('base,rule', CASES)
def test_inject_hyperparams_gives_the_same_updates_and_state(base, rule):
  factory = functools.partial(with_plp, BASES[base]())
  opt = factory(**RULES[rule])
  injected = optax.inject_hyperparams(factory)(**RULES[rule])
  params = [-jnp.ones((2, 3)), jnp.ones((2, 5, 2))]
  grads = [jnp.ones((2, 3)), -jnp.ones((2, 5, 2))]
  state, state_injected = opt.init(params), injected.init(params)
  for _ in range(3):  # through a prediction
    updates, state = jax.jit(opt.update)(grads, state, params)
    updates_injected, state_injected = jax.jit(injected.update)(
      grads, state_injected, params
    )
    test_utils.assert_trees_all_close(updates_injected, updates, rtol=1e-5)
    test_utils.assert_trees_all_close(
      state_injected.inner_state, state, rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize('dtype', ['bfloat16', 'float32'])
@pytest.mark.parametrize('base,rule', CASES)
def test_preserves_dtype_and_accumulates_zero_updates(base, rule, dtype):
  params = jnp.array([1.0, 2.0], dtype=jnp.dtype(dtype))
  grads = jax.grad(lambda x: jnp.sum(x**2))(params)
  opt = optimizer(base, rule)
  updates, _ = jax.jit(opt.update)(grads, jax.jit(opt.init)(params), params)
  assert updates.dtype == params.dtype
  multi = optax.MultiSteps(opt, every_k_schedule=4)
  updates, _ = jax.jit(multi.update)(grads, jax.jit(multi.init)(params), params)
  test_utils.assert_trees_all_equal(updates, jnp.zeros_like(grads))


@pytest.mark.parametrize(
  'dtype', [jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64]
)
@pytest.mark.parametrize('base,rule', CASES)
def test_state_is_stable_under_lax_cond(base, rule, dtype):
  with utils.x64_precision(dtype == jnp.float64):
    opt = optimizer(base, rule)
    initial_params, _, objective = common._setup_parabola(dtype)

    @jax.jit
    def step(params, state):
      updates = jax.grad(objective)(params)
      cond = jax.random.randint(jax.random.key(0), (), 0, 2) == 0
      updates, state = jax.lax.cond(
        cond,
        lambda: opt.update(updates, state, params),
        lambda: (params, state),
      )
      return optax.apply_updates(params, updates), state

    params, state = initial_params, opt.init(initial_params)
    for _ in range(3):
      params, state = step(params, state)
      assert jax.tree.leaves(params)[0].dtype == dtype


@pytest.mark.parametrize('rule', RULES)
def test_schedules_equal_their_constant_values(rule):
  initial_params, _, objective = common._setup_parabola(jnp.float32)
  scheduled = optax.chain(
    optax.sgd(optax.constant_schedule(1e-3), momentum=0.9),
    optax_plp.plp(optax.constant_schedule(0.7), **RULES[rule]),
  )
  constant = optax.chain(
    optax.sgd(1e-3, momentum=0.9), optax_plp.plp(0.7, **RULES[rule])
  )
  paths = []
  for opt in (scheduled, constant):
    params, state = initial_params, opt.init(initial_params)
    for _ in range(10):
      grads = jax.grad(objective)(params)
      updates, state = opt.update(grads, state, params)
      params = optax.apply_updates(params, updates)
    paths.append(params)
  test_utils.assert_trees_all_close(*paths)
