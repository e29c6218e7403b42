"""Parameter Linear Prediction (PLP) as an optax gradient transformation."""

import functools
import math
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
      incoming update (:math:`u_2 = h_2 - h_1`).
  """

  count: jax.Array
  history: optax.Updates


def _check_int(name: str, value: Any, minimum: int) -> None:
  # Traced or array values come from `optax.inject_hyperparams`; they are used
  # as they are, like any other hyperparameter.
  if isinstance(value, jax.Array):
    return
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise ValueError(f'`{name}` must be an int >= {minimum}, got {value!r}.')
  if value < minimum:
    raise ValueError(f'`{name}` must be an int >= {minimum}, got {value}.')


def _check_static_arguments(step_size, every, start_step, history_dtype):
  _check_int('every', every, 3)
  _check_int('start_step', start_step, 0)
  static_step = not callable(step_size) and not isinstance(step_size, jax.Array)
  if static_step and not math.isfinite(step_size):
    raise ValueError(
      f'`step_size` must be a finite number or a schedule, got {step_size!r}.'
    )
  if history_dtype is not None and not jnp.issubdtype(
    jnp.dtype(history_dtype), jnp.floating
  ):
    raise ValueError(
      f'`history_dtype` must be a floating dtype such as jnp.bfloat16 or '
      f"None (the parameters' dtype), got {history_dtype!r}."
    )


def _check_rule(order, gate):
  # A traced `order` comes from `optax.inject_hyperparams`, which injects
  # every numeric argument not named static; the update selects by its value.
  if isinstance(order, jax.Array):
    pass
  elif isinstance(order, bool) or order not in ORDERS:
    raise ValueError(f'`order` must be one of {ORDERS}, got {order!r}.')
  if gate not in GATES:
    raise ValueError(f'`gate` must be one of {GATES}, got {gate!r}.')


def _check_params(params):
  """Refuses a parameter that is not floating: its prediction would truncate."""
  for path, p in jax.tree_util.tree_leaves_with_path(params):
    dtype = jnp.result_type(p)
    if not jnp.issubdtype(dtype, jnp.inexact):
      raise ValueError(
        f'`plp` extrapolates floating-point parameters, but params'
        f'{jax.tree_util.keystr(path)} has dtype {dtype}. Leave such leaves '
        'out with `optax.masked(plp(), mask)`, the mask False at them.'
      )


def _cosine_gate(u2, u3):
  """max(0, cos) of the angle between two arrays, 0 where either is zero."""
  wide = jnp.promote_types(u3.dtype, jnp.float32)
  u2, u3 = u2.astype(wide), u3.astype(wide)
  squared_norms = jnp.sum(u2 * u2) * jnp.sum(u3 * u3)
  moved = squared_norms > 0
  # The inner `where` keeps the square root's gradient finite at zero.
  norms = jnp.sqrt(jnp.where(moved, squared_norms, 1.0))
  return jnp.where(moved, jnp.maximum(jnp.sum(u2 * u3) / norms, 0.0), 0.0)


def _coefficients(order, k):
  """(a, b) with the predicted update a * u3 + b * u2, for the time 2.5 + k."""
  s = 0.5 + k  # the predicted time, counted from h2 at t = 2
  linear = ((1 + k) / 2, k / 2)
  quadratic = ((s + s * s) / 2, (s - s * s) / 2)
  if not isinstance(order, jax.Array):
    return linear if order == 1 else quadratic
  return tuple(
    jnp.where(order == 2, q, lin)
    for q, lin in zip(quadratic, linear, strict=True)
  )


def _keeps_params(p, h):
  """Whether the history buffer `h` holds the parameters (else the update)."""
  return jnp.dtype(h.dtype) == jnp.dtype(p.dtype)


def _written_history(u, p, h, store):
  """The history after this step: h1 (or u2) where this step stores it."""
  snapshot = p if _keeps_params(p, h) else u
  return jnp.where(store, snapshot.astype(h.dtype), h)


def _predicted(u, p, h, predict, k, order, gate):
  """The update of one array: the prediction where `predict`, else `u`."""
  u2 = p - h if _keeps_params(p, h) else h
  a, b = _coefficients(order, k)
  if gate is not None:
    g = _cosine_gate(u2, u)
    a, b = 1 + g * (a - 1), g * b
  jump = a * u + b * u2
  return jnp.where(predict, jump, u).astype(u.dtype)


def plp(
  step_size: optax.ScalarOrSchedule = 1.0,
  *,
  every: int = 3,
  start_step: int = 0,
  history_dtype: jax.typing.DTypeLike | None = None,
  order: int = 1,
  gate: str | None = None,
) -> optax.GradientTransformationExtraArgs:
  r"""Parameter Linear Prediction: extrapolate the parameter trajectory.

  PLP is chained *after* a base optimizer. Steps are grouped into cycles of
  ``every`` steps. Let :math:`h_1, h_2, h_3` be the parameter values that the
  base optimizer reaches at the last three steps of a cycle, at times
  :math:`t = 1, 2, 3`. At the last step, instead of moving to :math:`h_3`, PLP
  moves to a prediction of the path at :math:`t = 2.5 + k`, where :math:`k` is
  ``step_size``. With ``order=1`` (the paper's rule) the prediction is the
  line through the midpoints :math:`m_{12}` (at :math:`t = 1.5`) and
  :math:`m_{23}` (at :math:`t = 2.5`):

  .. math::

    m_{12} = \tfrac{1}{2}(h_1 + h_2), \quad
    m_{23} = \tfrac{1}{2}(h_2 + h_3), \quad
    h_3^{\text{PLP}} = m_{23} + k\,(m_{23} - m_{12}).

  With ``order=2`` it is the parabola through :math:`(1, h_1), (2, h_2),
  (3, h_3)`, at the same time. Every other step passes the base updates
  through unchanged, and the base optimizer's state (momentum, ...) is never
  touched. A straight-line trajectory with step :math:`d` thus lands at
  :math:`p_0 + 3.5\,d` after one cycle of three steps when :math:`k = 1`, and
  ``order=2`` extrapolates a path :math:`h_t = c\,t^2` exactly.

  In terms of the updates :math:`u_2 = h_2 - h_1` and :math:`u_3 = h_3 - h_2`
  (the incoming update), with :math:`s = k + \tfrac{1}{2}`, the predicting
  step's update is

  .. math::

    \text{order 1:}\quad \tfrac{1 + k}{2}\, u_3 + \tfrac{k}{2}\, u_2, \qquad
    \text{order 2:}\quad \tfrac{s + s^2}{2}\, u_3 + \tfrac{s - s^2}{2}\, u_2,

  (the parabola is :math:`h_2 + (t - 2)\tfrac{u_2 + u_3}{2} +
  (t - 2)^2 \tfrac{u_3 - u_2}{2}`), so either rule keeps a single
  parameter-sized buffer. It holds :math:`h_1`, the ``params`` passed in at
  the step before the predicting one, and :math:`u_2 = p - h_1` with
  :math:`p = h_2` the ``params`` passed in at the predicting step; hence
  ``update`` needs ``params``. The slope is measured on the parameters
  themselves, so a change made to them outside the chain between those two
  steps (a projection, say) is part of it. Where ``history_dtype`` differs
  from a parameter's (a narrower one, in practice), rounding :math:`h_1` would
  swamp the small difference :math:`h_2 - h_1`, so the buffer holds that
  step's update :math:`u_2` instead, which is the same difference when nothing
  else moves the parameters. Keep ``plp`` last in the chain so that its
  updates are the ones applied.

  With ``gate='cosine'``, each parameter array's prediction is weighted by
  :math:`g = \max(0, \cos\theta)`, with :math:`\theta` the angle between that
  array's flattened :math:`u_2` and :math:`u_3` (:math:`g = 0` where either
  is zero): the array moves to :math:`h_3 + g\,(h_3^{\text{PLP}} - h_3)`. A
  straight path (:math:`g = 1`) keeps the full prediction; a path that turns
  back (:math:`g = 0`) takes the base optimizer's plain step to :math:`h_3`.
  (Scaling :math:`k` by :math:`g` instead would not fall back to a plain
  step: :math:`k = 0` lands on :math:`m_{23}`, half a step short, and on a
  path that reverses the linear prediction is :math:`m_{23}` for every
  :math:`k`.)

  Args:
    step_size: The prediction step :math:`k` (``1.0`` in the paper), a finite
      float or a schedule evaluated at the 0-based step count of the
      predicting step.
    every: Length of a cycle (``>= 3``); the prediction uses the last three
      post-update values of each cycle. ``3`` is the paper's setting.
    start_step: No prediction happens before this many updates; cycles are
      counted from here on.
    history_dtype: dtype of the stored history (e.g. ``jnp.bfloat16`` to halve
      its memory). Defaults to each parameter's dtype.
    order: ``1`` for the paper's linear prediction, ``2`` for the parabola
      through the cycle's last three points.
    gate: ``None``, or ``'cosine'`` to weight each array's prediction by how
      straight its last two updates are.

  Returns:
    The corresponding `GradientTransformationExtraArgs`, whose outputs keep
    the dtype of the incoming updates. Its ``init`` raises a ``ValueError``
    for a parameter that is not floating (an integer counter, say), which a
    prediction would truncate; mask such leaves out with ``optax.masked``.

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
  _check_static_arguments(step_size, every, start_step, history_dtype)
  _check_rule(order, gate)

  def init_fn(params: optax.Params) -> PLPState:
    _check_params(params)
    # The history is computed from `params` rather than created as a constant
    # so that, under `jax.jit`, it inherits each parameter's sharding. Its
    # value is never read: every cycle writes it before predicting.
    return PLPState(
      count=jnp.zeros([], jnp.int32),
      history=jax.tree.map(
        lambda p: (0 * p).astype(history_dtype or p.dtype), params
      ),
    )

  def update_fn(
    updates: optax.Updates,
    state: PLPState,
    params: optax.Params | None = None,
    **extra_args: Any,
  ) -> tuple[optax.Updates, PLPState]:
    del extra_args
    if params is None:
      raise ValueError(
        '`plp` needs the current params: call `update(updates, state, params)`.'
      )
    count = state.count
    position = jnp.mod(count - start_step, every)
    started = count >= start_step
    store = started & (position == every - 2)
    predict = started & (position == every - 1)
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
    return new_updates, PLPState(
      count=optax.safe_increment(count), history=history
    )

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def with_plp(
  base: optax.GradientTransformation,
  step_size: optax.ScalarOrSchedule = 1.0,
  **plp_options: Any,
) -> optax.GradientTransformationExtraArgs:
  r"""A base optimizer with PLP after it: ``optax.chain(base, plp(...))``.

  PLP extrapolates the moves that the chain before it makes, so it must come
  last; a chain written the other way round (``optax.chain(plp(), base)``)
  is accepted by optax and trains a different path without any error, since
  ``plp`` cannot tell gradients from updates. Like optax's own wrappers
  (``optax.lookahead``, ``optax.MultiSteps``), this one takes the base
  optimizer as an argument, so the order cannot be wrong. It is the same
  transformation as the chain, with the same state
  (``(base_state, PLPState)``).

  Args:
    base: The optimizer whose parameter trajectory PLP extrapolates.
    step_size: PLP's prediction step :math:`k` (see `plp`).
    **plp_options: `plp`'s other keyword arguments (``every``,
      ``start_step``, ``history_dtype``, ``order``, ``gate``).

  Returns:
    ``optax.chain(base, plp(step_size, **plp_options))``.

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
  return optax.chain(base, plp(step_size, **plp_options))
