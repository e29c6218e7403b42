"""Plain-NumPy reference for PLP: literal three-snapshot rule, float64."""

import numpy as np


def sgd_momentum(learning_rate, momentum, nesterov=False):
  """NumPy SGD with (Nesterov) momentum, as `optax.sgd` defines it."""

  def init(params):
    return np.zeros_like(params)

  def step(grad, trace):
    trace = grad + momentum * trace
    direction = grad + momentum * trace if nesterov else trace
    return -learning_rate * direction, trace

  return init, step


def adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8):
  """NumPy Adam, as `optax.adam` defines it."""

  def init(params):
    return (0, np.zeros_like(params), np.zeros_like(params))

  def step(grad, state):
    t, mu, nu = state
    t += 1
    mu = b1 * mu + (1 - b1) * grad
    nu = b2 * nu + (1 - b2) * grad**2
    mu_hat = mu / (1 - b1**t)
    nu_hat = nu / (1 - b2**t)
    return -learning_rate * mu_hat / (np.sqrt(nu_hat) + eps), (t, mu, nu)

  return init, step


def lagrange_parabola(h1, h2, h3, t):
  """The parabola through (1, h1), (2, h2), (3, h3), at time t."""
  return (
    (t - 2) * (t - 3) / 2 * h1
    - (t - 1) * (t - 3) * h2
    + (t - 1) * (t - 2) / 2 * h3
  )


def cosine_gate(a, b):
  """max(0, cos) of the angle between two vectors; 0 where either is zero.

  Complex vectors are real vectors of twice the length: Re(a^H b).
  """
  norms = np.linalg.norm(a) * np.linalg.norm(b)
  return max(0.0, float(np.vdot(a, b).real / norms)) if norms > 0 else 0.0


def prediction(h1, h2, h3, k, order=1, gate=None, segments=None):
  """Where PLP moves instead of h3, from the literal points."""
  if order == 1:
    m12, m23 = (h1 + h2) / 2, (h2 + h3) / 2
    predicted = m23 + k * (m23 - m12)
  else:
    predicted = lagrange_parabola(h1, h2, h3, 2.5 + k)
  if gate is None:
    return predicted
  gated = h3.copy()
  for segment in segments or [slice(None)]:
    g = cosine_gate(h2[segment] - h1[segment], h3[segment] - h2[segment])
    gated[segment] = h3[segment] + g * (predicted[segment] - h3[segment])
  return gated


def plp_trajectory(
  params,
  grad_fn,
  base,
  num_steps,
  step_size=1.0,
  every=3,
  start_step=0,
  order=1,
  gate=None,
  segments=None,
):
  """Runs `base` for `num_steps` with PLP, keeping literal snapshots.

  Args:
    params: initial parameters (NumPy array).
    grad_fn: gradient of the loss, NumPy in and out.
    base: `(init, step)` pair of a NumPy optimizer.
    num_steps: number of updates.
    step_size: the prediction step k, a float or a function of the step.
    every: cycle length.
    start_step: first step of the first cycle.
    order: 1 (the line through the midpoints) or 2 (the parabola).
    gate: None or 'cosine', applied per segment.
    segments: slices of `params`, one per parameter array (for the gate).

  Returns:
    The list of parameter values after each step.
  """
  init, step = base
  state = init(params)
  post_update = {}
  trajectory = []
  for t in range(num_steps):
    update, state = step(grad_fn(params), state)
    h = params + update
    position = (t - start_step) % every
    if t >= start_step and position >= every - 3:
      post_update[position - (every - 3)] = h
      if position == every - 1:
        k = step_size(t) if callable(step_size) else step_size
        h1, h2, h3 = post_update[0], post_update[1], post_update[2]
        h = prediction(h1, h2, h3, k, order, gate, segments)
    params = h
    trajectory.append(params)
  return trajectory
