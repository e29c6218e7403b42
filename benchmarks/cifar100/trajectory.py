"""Where PLP's linear prediction lands compared with plain training's path.

PLP predicts, from three consecutive post-update parameters h1, h2, h3,

  m12 = (h1 + h2) / 2,   m23 = (h2 + h3) / 2,   p = m23 + (m23 - m12).

On a straight path walked in equal steps, p is the next midpoint
m34 = (h3 + h4) / 2, half a step past h3. A probe lets the optimizer take four
plain steps h1..h4 and measures, per layer,

  relative error = ||p - m34|| / ||m34 - h3||,

which is 0 where the path is locally linear, and 1 where the prediction lands
no closer to the path than h3 itself, i.e. where extrapolating gains nothing.
"""

import functools

from flax import nnx
import jax
import jax.numpy as jnp

from benchmarks.cifar100 import models
import optax_plp

WINDOW = 4  # h1, h2, h3 for the prediction and h4 for the path it predicts.
ALL = 'all'


def is_kernel(param):
  """Convolution and dense kernels are what the probes report per layer."""
  return param.ndim >= 2


def layer_name(keys):
  """'blocks/0/conv1/conv' for the kernel at `keys`, without 'layers'."""
  keys = [str(k) for k in keys]
  return '/'.join(k for k in keys[:-1] if k != 'layers') or keys[-1]


def layer_order(model, keys=()):
  """The names of the model's kernels, from its input to its output.

  nnx sorts a model's state by name ('head' before 'stem'); the attributes of
  these models are defined in the order of the forward pass, so walk those.
  """
  if isinstance(model, nnx.Param):
    return [layer_name(keys)] if is_kernel(model) else []
  if isinstance(model, (list, tuple, nnx.List)):
    children = enumerate(model)
  elif isinstance(model, nnx.Module):
    children = ((k, v) for k, v in vars(model).items() if not k.startswith('_'))
  else:
    return []
  return [name for k, v in children for name in layer_order(v, (*keys, k))]


def plp_prediction(h1, h2, h3):
  """Where `optax_plp.plp()` (the paper's rule, k = 1) moves h3, from h1, h2.

  It walks one cycle: a first step, then h1 -> h2 and h2 -> h3, whose update
  the third step replaces by the prediction.
  """
  tx = optax_plp.plp()
  state = tx.init(h1)
  step = functools.partial(jax.tree.map, jnp.subtract)
  _, state = tx.update(jax.tree.map(jnp.zeros_like, h1), state, h1)
  _, state = tx.update(step(h2, h1), state, h1)
  predicted, _ = tx.update(step(h3, h2), state, h2)
  return jax.tree.map(jnp.add, h2, predicted)


@jax.jit
def relative_errors(h1, h2, h3, h4):
  """Per layer kernel and over all parameters: ||p - m34|| / ||m34 - h3||."""

  def squared_norms(tree_a, tree_b):
    return jax.tree.map(lambda a, b: jnp.sum(jnp.square(a - b)), tree_a, tree_b)

  m34 = jax.tree.map(lambda a, b: (a + b) / 2, h3, h4)
  prediction = plp_prediction(h1, h2, h3)
  miss = squared_norms(prediction, m34)
  move = squared_norms(m34, h3)
  errors = {
    ALL: jnp.sqrt(sum(jax.tree.leaves(miss)) / sum(jax.tree.leaves(move)))
  }
  kernels = jax.tree_util.tree_flatten_with_path(h1)[0]
  for (path, kernel), missed, moved in zip(
    kernels, jax.tree.leaves(miss), jax.tree.leaves(move), strict=True
  ):
    if is_kernel(kernel):
      keys = jax.tree_util.keystr(path, simple=True, separator='/')
      errors[layer_name(keys.split('/'))] = jnp.sqrt(missed / moved)
  return errors


@jax.jit
def path_cosine(h1, h2, h3):
  """The cosine between the moves h2 − h1 and h3 − h2, over all parameters
  as one vector: 1 on a straight path, the language model's measure."""
  first, second = (
    jnp.concatenate([jnp.ravel(m) for m in jax.tree.leaves(move)])
    for move in (
      jax.tree.map(jnp.subtract, h2, h1),
      jax.tree.map(jnp.subtract, h3, h2),
    )
  )
  norms = jnp.linalg.norm(first) * jnp.linalg.norm(second)
  return jnp.vdot(first, second) / norms


class Probe:
  """Measures the prediction error of the steps at `interval`-step windows.

  The windows are the first four steps of every `interval` steps, so that
  plain training itself walks h1..h4 and nothing extra is computed but the
  errors. Call `after_step` with the parameters after each step it `sees`.
  """

  def __init__(self, interval, steps_in_epoch, first_global_step):
    if 0 < interval < WINDOW:
      raise ValueError(f'interval is {interval}; allowed: 0 or >= {WINDOW}.')
    self.interval = interval
    self.steps_in_epoch = steps_in_epoch
    self.first_global_step = first_global_step
    self.window = []
    self.records = []

  def sees(self, step):
    """Whether the step (0-based, in the epoch) is in one of the windows."""
    if not self.interval:
      return False
    offset = step % self.interval
    return offset < WINDOW and step - offset + WINDOW <= self.steps_in_epoch

  def after_step(self, step, params):
    """Records `params` (a pure dict) after a step that the probe sees."""
    if not self.sees(step):
      return
    self.window.append(params)
    if len(self.window) == WINDOW:
      errors = relative_errors(*self.window)
      self.records.append(
        {
          'step': self.first_global_step + step,  # optimizer steps taken at h3
          'relative_error': {k: float(v) for k, v in errors.items()},
          'path_cosine': float(path_cosine(*self.window[:3])),
        }
      )
      self.window = []


def kernel_names(config):
  """The model's kernel names from input to output, without initialising it."""
  return list(model_kernel_names(config['model'], config['width']))


@functools.cache
def model_kernel_names(name, width):
  """`kernel_names` of a model, traced once per process: a report asks for
  it once a block, and tracing GoogLeNet takes seconds.

  (Tracing skips the many small initialisations, which take a minute for
  GoogLeNet on a CPU; nnx.eval_shape would sort the attributes.)
  """
  names = []
  jax.eval_shape(
    lambda: names.extend(layer_order(models.create(name, width=width)))
  )
  return tuple(names)
