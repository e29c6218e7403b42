"""Parameter Linear Prediction (PLP) as an optax gradient transformation."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

ORDERS = (1, 2)
GATES = (None, 'cosine')
# Every prediction rule `plp` implements, by name: its `order` and `gate`.
RULES = {
  'linear': {},
  'quadratic': {'order': 2},
  'gated': {'gate': 'cosine'},
  'quadratic_gated': {'order': 2, 'gate': 'cosine'},
}


class PLPState(NamedTuple):
  """State of the `GradientTransformation` returned by `plp`.

  Attributes:
    count: Number of updates seen so far (int32 scalar).
    history: One buffer per parameter, written at the second-to-last step of
      each cycle: the ``params`` passed in at that step (:math:`h_1`), or,
      where ``history_dtype`` differs from the parameter's dtype, that step's
      incoming update (:math:`u_2 = h_2 - h_1`). A change made to the
      parameters outside the chain is then not part of the slope, as it is
      with :math:`h_1` (see the API page's known limitations).
  """

  count: jax.Array
  history: optax.Updates


# The step counter is int32 (`optax.safe_increment` saturates it there), so a
# cycle or a start beyond it would never be reached.
_MAX_COUNT = np.iinfo(np.int32).max
# Beyond this |k| the order-2 coefficient (s + s^2) / 2 overflows float32 and
# every prediction is inf or NaN.
_MAX_STEP_SIZE = float(np.sqrt(np.finfo(np.float32).max))


def _is_traced(value: Any) -> bool:
  return isinstance(value, jax.core.Tracer)


def _as_int(name: str, value: Any, minimum: int) -> int:
  """`value` as a Python int in [minimum, int32 max], else a ValueError.

  Concrete arrays (as `optax.inject_hyperparams` passes them to `init`) are
  checked like numbers. A traced value (an injected one, in a jitted update)
  is kept: the update checks it (`_injected_values_ok`).
  """
  allowed = (
    f"an int >= {minimum} (and <= {_MAX_COUNT}, the step counter's limit)"
  )
  if _is_traced(value):
    return value
  if isinstance(value, (jax.Array, np.ndarray)) and value.ndim == 0:
    if jnp.issubdtype(value.dtype, jnp.integer):
      value = int(value)
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise ValueError(f'`{name}` must be {allowed}, got {value!r}.')
  if not minimum <= value <= _MAX_COUNT:
    raise ValueError(f'`{name}` must be {allowed}, got {value}.')
  return int(value)


def _check_step_size(step_size: Any) -> None:
  """A number or concrete array: finite, and small enough not to overflow.

  Schedules and traced values are evaluated in the update, where a non-finite
  value gives non-finite updates rather than a silent change.
  """
  if callable(step_size) or _is_traced(step_size):
    return
  allowed = f'a finite number with |k| <= {_MAX_STEP_SIZE:.3g}, or a schedule'
  try:
    k = float(step_size)
  except (TypeError, ValueError):
    raise ValueError(
      f'`step_size` must be {allowed}, got {step_size!r}.'
    ) from None
  if isinstance(step_size, (bool, str)) or not abs(k) <= _MAX_STEP_SIZE:
    raise ValueError(f'`step_size` must be {allowed}, got {step_size!r}.')


def _check_step_size_fits(step_size, params, history_dtype):
  """Refuses a number `step_size` whose predictions overflow the narrowest
  dtype they are computed in (float16's bound is far below float32's)."""
  if callable(step_size) or _is_traced(step_size):
    return
  dtypes = {jnp.result_type(p) for p in jax.tree.leaves(params)}
  dtypes |= {jnp.dtype(history_dtype)} if history_dtype is not None else set()
  for dtype in dtypes:
    real = jnp.finfo(dtype).dtype  # a complex dtype's parts
    bound = float(np.sqrt(np.finfo(np.dtype(real)).max))
    if abs(float(step_size)) > bound:
      raise ValueError(
        f'`step_size` must be at most {bound:.3g} in magnitude for {dtype} '
        f'parameters or history (beyond it predictions overflow), got '
        f'{step_size!r}.'
      )


def _check_history_dtype(history_dtype: Any) -> None:
  if history_dtype is not None and not jnp.issubdtype(
    jnp.dtype(history_dtype), jnp.inexact
  ):
    raise ValueError(
      f'`history_dtype` must be a floating (or complex) dtype such as '
      f"jnp.bfloat16, or None (the parameters' dtype), got {history_dtype!r}."
    )


def _as_order(order: Any) -> Any:
  """`order` as 1 or 2; a traced one (injected) is kept for the update."""
  if _is_traced(order):
    return order
  if isinstance(order, (jax.Array, np.ndarray)) and order.ndim == 0:
    order = order.item()
  if isinstance(order, bool) or order not in ORDERS:
    raise ValueError(f'`order` must be one of {ORDERS}, got {order!r}.')
  return int(order)


def _injected_values_ok(every, start_step, order, k=None):
  """Whether the traced (injected) `every`, `start_step` and `order` are valid.

  They were checked at `init`, but an injected hyperparameter can be changed
  in the state later; an invalid one must not switch PLP off or change its
  rule silently, so the update turns every update to NaN instead.
  """
  ok = jnp.bool_(True)
  if _is_traced(every):
    ok &= (every >= 3) & (every <= _MAX_COUNT) & (every == jnp.round(every))
  if _is_traced(start_step):
    ok &= (start_step >= 0) & (start_step <= _MAX_COUNT)
    ok &= start_step == jnp.round(start_step)
  if _is_traced(order):
    ok &= (order == 1) | (order == 2)  # 1.5 is neither
  if k is not None:  # injected or scheduled: as `plp(step_size=...)` checks
    ok &= jnp.isfinite(k) & (jnp.abs(k) <= _MAX_STEP_SIZE)
  return ok


def _cycle_steps(count, every, start_step):
  """Whether the step at `count` stores h1 and whether it predicts.

  A cycle's last two steps: the second-to-last stores h1 (the params passed
  in there), the last predicts from h1, h2 (its params) and u3.
  """
  position = jnp.mod(count - start_step, every)
  started = count >= start_step
  return started & (position == every - 2), started & (position == every - 1)


def _nan_where_injected_bad(updates, every, start_step, order, k=None):
  """`updates`, or NaN where an injected argument (or a step size given by
  a schedule or injected, `k`) is not valid."""
  if k is None and not any(map(_is_traced, (every, start_step, order))):
    return updates
  ok = _injected_values_ok(every, start_step, order, k)
  return jax.tree.map(
    lambda u: jnp.where(ok, u, jnp.nan).astype(u.dtype), updates
  )


def _check_gate(gate: Any) -> None:
  if not isinstance(gate, (str, type(None))) or gate not in GATES:
    raise ValueError(f'`gate` must be one of {GATES}, got {gate!r}.')


def _check_params(params, history_dtype):
  """Refuses leaves a prediction or its history would silently truncate."""
  for path, p in jax.tree_util.tree_leaves_with_path(params):
    dtype = jnp.result_type(p)
    where = f'params{jax.tree_util.keystr(path)}'
    if not jnp.issubdtype(dtype, jnp.inexact):
      raise ValueError(
        f'`plp` extrapolates floating-point parameters, but {where} has dtype '
        f'{dtype}. Leave such leaves out with `optax.masked(plp(), mask)`, '
        'the mask False at them.'
      )
    if (
      history_dtype is not None
      and jnp.issubdtype(dtype, jnp.complexfloating)
      and not jnp.issubdtype(jnp.dtype(history_dtype), jnp.complexfloating)
    ):
      raise ValueError(
        f'{where} is complex ({dtype}) but `history_dtype` is '
        f'{jnp.dtype(history_dtype)}, which would drop its imaginary part; '
        'use a complex history_dtype (jnp.complex64) or None.'
      )


def _check_like_state(params, history, history_dtype):
  """Refuses params unlike those `init` saw: another structure, or a leaf of
  another shape (or dtype, where the history keeps the params' own).

  Shapes and dtypes are static, so under `jax.jit` this costs nothing.
  """
  if jax.tree.structure(params) != jax.tree.structure(history):
    raise ValueError(
      '`plp` got params of another structure than at `init` '
      f'({jax.tree.structure(params)} against '
      f'{jax.tree.structure(history)}); pass the params it was initialised '
      'with.'
    )
  for (path, p), h in zip(
    jax.tree_util.tree_leaves_with_path(params), jax.tree.leaves(history),
    strict=True,
  ):  # fmt: skip
    where = f'params{jax.tree_util.keystr(path)}'
    if p.shape != h.shape:
      raise ValueError(
        f'{where} has shape {p.shape} at `update` but {h.shape} at `init`; '
        'PLP extrapolates each leaf from its own past values: re-initialise '
        'the optimizer state when the params change shape.'
      )
    if history_dtype is None and p.dtype != h.dtype:
      raise ValueError(
        f'{where} has dtype {p.dtype} at `update` but {h.dtype} at `init`; '
        'cast the params back, or re-initialise the optimizer state (or set '
        '`history_dtype`).'
      )


def _cosine_gate(u2, u3):
  """max(0, cos) of the angle between two arrays, 0 where either is zero.

  Complex arrays are vectors of twice as many reals: their inner product is
  Re <u2, u3> and their norms sum |u|^2.
  """
  wide = jnp.promote_types(u3.dtype, jnp.float32)
  u2, u3 = u2.astype(wide), u3.astype(wide)
  squared_norms = jnp.sum(jnp.abs(u2) ** 2) * jnp.sum(jnp.abs(u3) ** 2)
  moved = squared_norms > 0
  # The inner `where` keeps the square root's gradient finite at zero.
  norms = jnp.sqrt(jnp.where(moved, squared_norms, 1.0))
  cosine = jnp.sum(jnp.real(jnp.conj(u2) * u3)) / norms
  return jnp.where(moved, jnp.maximum(cosine, 0.0), 0.0)


def _coefficients(order, k):
  """(a, b) with the predicted update a * u3 + b * u2, for the time 2.5 + k.

  With u2 = h2 - h1 and u3 = h3 - h2, the prediction at t = 2.5 + k is
  reached from h2 by a step s = k + 1/2 in time.
  """
  s = 0.5 + k
  # Order 1: the line through m12 (t = 1.5) and m23 (t = 2.5) is
  # m23 + k (m23 - m12) = h2 + u3 / 2 + k (u2 + u3) / 2.
  linear = ((1 + k) / 2, k / 2)
  # Order 2: the parabola through (1, h1), (2, h2), (3, h3) is
  # h2 + (t - 2) (u2 + u3) / 2 + (t - 2)^2 (u3 - u2) / 2, at t - 2 = s.
  quadratic = ((s + s * s) / 2, (s - s * s) / 2)
  if not _is_traced(order):
    return linear if order == 1 else quadratic
  # An injected order selects in the update (a value other than 1 or 2 makes
  # the update NaN: `_injected_values_ok`).
  return tuple(
    jnp.where(order == 2, q, lin)
    for q, lin in zip(quadratic, linear, strict=True)
  )


def _keeps_params(p, h):
  """Whether the history buffer `h` holds the parameters (else the update)."""
  return jnp.dtype(h.dtype) == jnp.dtype(p.dtype)


def _written_history(u, p, h, store):
  """The history after this step: h1 (or u2) where this step stores it."""
  # A history of another dtype than the parameter's (in practice a narrower
  # one) keeps the update u2 rather than h1: rounding h1 would swamp the small
  # difference h2 - h1 the prediction needs. It then does not see a change
  # made to the parameters outside the chain (the API page says so).
  snapshot = p if _keeps_params(p, h) else u
  return jnp.where(store, snapshot.astype(h.dtype), h)


def _predicted(u, p, h, predict, k, order, gate):
  """The update of one array: the prediction where `predict`, else `u`."""
  # p is h2 here, so u2 = h2 - h1 is measured on the parameters themselves:
  # a change made to them outside the chain is part of the slope.
  u2 = p - h if _keeps_params(p, h) else h
  a, b = _coefficients(order, k)
  if gate is not None:
    # Move the fraction g of the way from h3 (the update u3: a = 1, b = 0) to
    # the prediction; g = 0 where the path turns back.
    g = _cosine_gate(u2, u)
    a, b = 1 + g * (a - 1), g * b
  jump = a * u + b * u2
  return jnp.where(predict, jump, u).astype(u.dtype)


def _as_arrays(params):
  # Python scalar leaves become arrays, as `optax.apply_updates` treats them.
  return jax.tree.map(jnp.asarray, params)


def plp(
  step_size: optax.ScalarOrSchedule = 1.0,
  *,
  every: int = 3,
  start_step: int = 0,
  history_dtype: jax.typing.DTypeLike | None = None,
  order: int = 1,
  gate: str | None = None,
) -> optax.GradientTransformationExtraArgs:
  """Parameter Linear Prediction: extrapolates the parameters' path.

  Chained after a base optimizer, every cycle of ``every`` steps PLP takes the
  parameters ``h1, h2, h3`` after the cycle's last three steps and replaces
  ``h3`` by ``m23 + k (m23 - m12)``, where ``m12`` and ``m23`` are the
  midpoints of ``h1, h2`` and ``h2, h3`` and ``k`` is ``step_size``. The base
  optimizer's state is untouched. The derivation, the other rules and why PLP
  must come last are on the documentation's "How PLP works" page.

  Args:
    step_size: The prediction step ``k`` (``1.0`` in the paper): a finite
      number or a schedule of the 0-based count of the predicting step.
    every: Length of a cycle (``>= 3``, static). ``3`` is the paper's.
    start_step: No prediction before this many updates (static); cycles count
      from there.
    history_dtype: dtype of the one stored buffer (e.g. ``jnp.bfloat16`` to
      halve its memory); by default each parameter's.
    order: ``1``, the paper's line through the midpoints; ``2``, the parabola
      through the three points, at the same time ``2.5 + k``.
    gate: ``None``, or ``'cosine'`` to move each array only the fraction
      ``max(0, cos)`` of the angle between its last two updates toward the
      prediction.

  Returns:
    An :class:`optax.GradientTransformationExtraArgs` whose ``update`` needs
    ``params``.
    Bad arguments raise a ``ValueError`` naming them; so do non-floating
    parameters (mask them out with :func:`optax.masked`), and params at
    ``update`` whose structure, or a leaf's shape or dtype, differ from
    ``init``'s (checked while tracing: free under :func:`jax.jit`).

  Example:
    >>> import jax.numpy as jnp
    >>> import optax
    >>> import optax_plp
    >>> tx = optax.chain(optax.sgd(learning_rate=0.25), optax_plp.plp())
    >>> params = jnp.zeros(2)
    >>> state = tx.init(params)
    >>> grads = -jnp.ones(2)  # a straight line: every base step moves +0.25
    >>> for _ in range(3):
    ...   updates, state = tx.update(grads, state, params)
    ...   params = optax.apply_updates(params, updates)
    ...   print(params)
    [0.25 0.25]
    [0.5 0.5]
    [0.875 0.875]

  References:
    Ying et al., `Enhancing Deep Neural Network Training Efficiency and
    Performance through Linear Prediction <https://arxiv.org/abs/2310.10958>`_,
    Scientific Reports 14:15197, 2024.
  """
  every = _as_int('every', every, 3)
  start_step = _as_int('start_step', start_step, 0)
  _check_step_size(step_size)
  _check_history_dtype(history_dtype)
  order = _as_order(order)
  _check_gate(gate)

  def init_fn(params: optax.Params) -> PLPState:
    params = _as_arrays(params)
    _check_params(params, history_dtype)
    _check_step_size_fits(step_size, params, history_dtype)
    return PLPState(
      count=jnp.zeros([], jnp.int32),
      history=_blank_history(params, history_dtype),
    )

  def update_fn(
    updates: optax.Updates,
    state: PLPState,
    params: optax.Params | None = None,
    **extra_args: Any,
  ) -> tuple[optax.Updates, PLPState]:
    del extra_args
    updates, params = _checked_update_arguments(
      updates, state, params, history_dtype
    )
    count = state.count
    store, predict = _cycle_steps(count, every, start_step)
    k = step_size(count) if callable(step_size) else step_size
    rule = functools.partial(
      _predicted, predict=predict, k=k, order=order, gate=gate
    )
    # Written with selects rather than control flow, and reading the freshly
    # written history, so that XLA fuses the rule into the update step and
    # does not copy donated buffers.
    write = functools.partial(_written_history, store=store)
    history = jax.tree.map(write, updates, params, state.history)
    new_updates = jax.tree.map(rule, updates, params, history)
    checked_k = k if callable(step_size) or _is_traced(step_size) else None
    new_updates = _nan_where_injected_bad(
      new_updates, every, start_step, order, checked_k
    )
    return new_updates, PLPState(
      count=optax.safe_increment(count), history=history
    )

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def with_plp(
  base: optax.GradientTransformation,
  step_size: optax.ScalarOrSchedule = 1.0,
  *,
  every: int = 3,
  start_step: int = 0,
  history_dtype: jax.typing.DTypeLike | None = None,
  order: int = 1,
  gate: str | None = None,
) -> optax.GradientTransformationExtraArgs:
  """A base optimizer with PLP after it: ``optax.chain(base, plp(...))``.

  PLP extrapolates the moves of the chain before it, so it must come last;
  optax accepts ``optax.chain(plp(), base)`` silently and trains a different
  path. Taking the base as an argument, as :func:`optax.lookahead` does, rules
  that order out. Its arguments are `plp`'s, and it works under
  :func:`optax.inject_hyperparams` as `plp` does.

  Args:
    base: The optimizer whose parameters' path PLP extrapolates.
    step_size: PLP's prediction step ``k`` (see `plp`).
    every: See `plp`.
    start_step: See `plp`.
    history_dtype: See `plp`.
    order: See `plp`.
    gate: See `plp`.

  Returns:
    ``optax.chain(base, plp(step_size, ...))``, with its state
    ``(base_state, PLPState)``.

  Example:
    >>> import jax.numpy as jnp
    >>> import optax
    >>> import optax_plp
    >>> tx = optax_plp.with_plp(optax.sgd(learning_rate=0.25))
    >>> params = jnp.zeros(2)
    >>> state = tx.init(params)
    >>> for _ in range(3):
    ...   updates, state = tx.update(-jnp.ones(2), state, params)
    ...   params = optax.apply_updates(params, updates)
    >>> print(params)  # 3.5 base steps of 0.25 along the line
    [0.875 0.875]

  References:
    Ying et al., `Enhancing Deep Neural Network Training Efficiency and
    Performance through Linear Prediction <https://arxiv.org/abs/2310.10958>`_,
    Scientific Reports 14:15197, 2024.
  """
  if not (callable(getattr(base, 'init', None)) and callable(
    getattr(base, 'update', None))):  # fmt: skip
    raise ValueError(
      f'`base` must be an optax.GradientTransformation (such as '
      f'optax.adam(1e-3)), got {base!r}.'
    )
  chained = optax.chain(
    base,
    plp(
      step_size,
      every=every,
      start_step=start_step,
      history_dtype=history_dtype,
      order=order,
      gate=gate,
    ),
  )

  def init_fn(params: optax.Params):
    state = chained.init(params)
    if _holds_plp(state[0]):
      raise ValueError(
        '`base` already holds PLP (a `plp()` or `with_plp`), so PLP would be '
        'applied twice; pass the optimizer without it.'
      )
    return state

  return optax.GradientTransformationExtraArgs(init_fn, chained.update)


def _blank_history(params: Any, history_dtype: Any) -> Any:
  """The one stored buffer, before any cycle has written it."""
  # Computed from `params` rather than created as a constant so that, under
  # `jax.jit`, it inherits each parameter's sharding. Its value is never
  # read: every cycle writes it before predicting.
  return jax.tree.map(
    lambda p: (0 * p).astype(history_dtype or p.dtype), params
  )


def _checked_update_arguments(
  updates: Any, state: PLPState, params: Any, history_dtype: Any
) -> tuple[Any, Any]:
  """`update`'s updates and params as arrays, or a ValueError saying what
  differs: missing params, updates unlike the params, params unlike `init`'s
  (the checks read only structures, shapes and dtypes: free under jit)."""
  if params is None:
    raise ValueError(
      '`plp` needs the current params: call `update(updates, state, params)`.'
    )
  updates, params = _as_arrays(updates), _as_arrays(params)
  _check_updates_like_params(updates, params)
  _check_like_state(params, state.history, history_dtype)
  return updates, params


def _holds_plp(state: Any) -> bool:
  """Whether an optimizer state holds a `PLPState` anywhere."""
  leaves = jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, PLPState))
  return any(isinstance(leaf, PLPState) for leaf in leaves)


def _check_updates_like_params(updates: Any, params: Any) -> None:
  """A ValueError naming the first parameter whose update differs from it in
  structure or shape (optax would fail deep inside, in an addition)."""
  try:
    flat_updates = jax.tree.structure(params).flatten_up_to(updates)
  except (ValueError, TypeError) as error:
    raise ValueError(
      f'`plp`: the updates and the params must be trees of one structure '
      f'({error}).'
    ) from None
  paths = jax.tree_util.tree_leaves_with_path(params)
  for (path, param), update in zip(paths, flat_updates, strict=True):
    if jnp.shape(update) != jnp.shape(param):
      raise ValueError(
        f'`plp`: the update of params{jax.tree_util.keystr(path)} has shape '
        f'{jnp.shape(update)}, the parameter {jnp.shape(param)}; pass the '
        'updates of these params.'
      )
