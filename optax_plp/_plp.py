"""Parameter Linear Prediction (PLP) as an optax gradient transformation."""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

ScalarOrSchedule = float | jax.Array | Callable[[jax.Array], jax.Array]


class PLPState(NamedTuple):
  """State of the `GradientTransformation` returned by `plp`.

  Attributes:
    count: Number of updates seen so far (int32 scalar).
    history: The update made at the second-to-last step of the current cycle,
      one buffer per parameter, in ``history_dtype``.
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


def plp(
  step_size: ScalarOrSchedule = 1.0,
  *,
  every: int = 3,
  start_step: int = 0,
  history_dtype: Any | None = None,
) -> optax.GradientTransformation:
  r"""Parameter Linear Prediction: extrapolate the parameter trajectory.

  PLP is chained *after* a base optimizer. Steps are grouped into cycles of
  ``every`` steps. Let :math:`h_1, h_2, h_3` be the parameter values that the
  base optimizer reaches at the last three steps of a cycle. At the last step,
  instead of moving to :math:`h_3`, PLP moves to the linear prediction

  .. math::

    m_{12} = \tfrac{1}{2}(h_1 + h_2), \quad
    m_{23} = \tfrac{1}{2}(h_2 + h_3), \quad
    h_3^{\text{PLP}} = m_{23} + k\,(m_{23} - m_{12}),

  where :math:`k` is ``step_size``. Every other step passes the base updates
  through unchanged, and the base optimizer's state (momentum, ...) is never
  touched. A straight-line trajectory with step :math:`d` thus lands at
  :math:`p_0 + 3.5\,d` after one cycle of three steps when :math:`k = 1`.

  With :math:`p` the ``params`` passed in at the predicting step (that is,
  :math:`h_2`) and :math:`u_3 = h_3 - h_2` the incoming update, the predicting
  step's update is

  .. math::

    \tfrac{1 + k}{2}\, u_3 + \tfrac{k}{2}\, (p - h_1),

  so the state holds a single parameter-sized buffer: :math:`h_1`, the
  ``params`` passed in at the step before. The slope is measured on the
  parameters themselves, so a change made to them outside the chain between
  those two steps (a projection, say) is part of it. Where ``history_dtype``
  differs from a parameter's (a narrower one, in practice), rounding
  :math:`h_1` would swamp the small difference :math:`h_2 - h_1`, so the
  buffer holds that step's update
  :math:`u_2` instead, which is the same difference when nothing else moves
  the parameters. Keep ``plp`` last in the chain so that its updates are the
  ones applied.

  The rule needs no control flow: the history is written with a select, and
  the output reads the freshly written history, which orders the two so that
  XLA fuses them into the update step without copying donated buffers.

  Args:
    step_size: The prediction step :math:`k` (``1.0`` in the paper), a float
      or a schedule evaluated at the 0-based step count of the predicting step.
    every: Length of a cycle (``>= 3``); the prediction uses the last three
      post-update values of each cycle. ``3`` is the paper's setting.
    start_step: No prediction happens before this many updates; cycles are
      counted from here on.
    history_dtype: dtype of the stored history (e.g. ``jnp.bfloat16`` to halve
      its memory). Defaults to each parameter's dtype.

  Returns:
    The corresponding `GradientTransformation`, whose outputs keep the dtype
    of the incoming updates.

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
  _check_int('every', every, 3)
  _check_int('start_step', start_step, 0)
  if history_dtype is not None and not jnp.issubdtype(
    jnp.dtype(history_dtype), jnp.floating
  ):
    raise ValueError(
      f'`history_dtype` must be a floating dtype such as jnp.bfloat16 or '
      f"None (the parameters' dtype), got {history_dtype!r}."
    )

  def init_fn(params):
    # The history is computed from `params` rather than created as a constant
    # so that, under `jax.jit`, it inherits each parameter's sharding. Its
    # value is never read: every cycle writes it before predicting.
    return PLPState(
      count=jnp.zeros([], jnp.int32),
      history=jax.tree.map(
        lambda p: (0 * p).astype(history_dtype or p.dtype), params
      ),
    )

  def update_fn(updates, state, params=None):
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

    def keeps_params(p, h):
      return jnp.dtype(h.dtype) == jnp.dtype(p.dtype)

    def new_history(u, p, h):
      snapshot = p if keeps_params(p, h) else u
      return jnp.where(store, snapshot.astype(h.dtype), h)

    def predicted(u, p, h):
      slope = p - h if keeps_params(p, h) else h
      jump = (1 + k) / 2 * u + k / 2 * slope
      return jnp.where(predict, jump, u).astype(u.dtype)

    history = jax.tree.map(new_history, updates, params, state.history)
    new_updates = jax.tree.map(predicted, updates, params, history)
    return new_updates, PLPState(
      count=optax.safe_increment(count), history=history
    )

  return optax.GradientTransformation(init_fn, update_fn)
