"""Training and evaluation steps for the CIFAR-100 benchmarks."""

from flax import nnx
import jax
import jax.numpy as jnp
import optax

import optax_plp


def make_optimizer(learning_rate, *, momentum=0.9, weight_decay=5e-4, plp=None):
  """SGD with Nesterov momentum and L2 weight decay, as PyTorch's SGD does it.

  Args:
    learning_rate: a float or an optax schedule.
    momentum: Nesterov momentum.
    weight_decay: coefficient of the decay added to the gradients.
    plp: ``None`` for the baseline, else keyword arguments of `optax_plp.plp`,
      which is then chained last.

  Returns:
    An `optax.GradientTransformation`.
  """
  tx = optax.chain(
    optax.add_decayed_weights(weight_decay),
    optax.sgd(learning_rate, momentum=momentum, nesterov=True),
  )
  return tx if plp is None else optax.chain(tx, optax_plp.plp(**plp))


def augment(key, images, padding=4):
  """Random crops of the zero-padded images and random horizontal flips."""
  batch, height, width, _ = images.shape
  crop_key, flip_key = jax.random.split(key)
  padded = jnp.pad(
    images, ((0, 0), (padding, padding), (padding, padding), (0, 0))
  )
  offsets = jax.random.randint(crop_key, (batch, 2), 0, 2 * padding + 1)

  def crop(image, offset):
    return jax.lax.dynamic_slice(
      image, (offset[0], offset[1], 0), (height, width, image.shape[-1])
    )

  crops = jax.vmap(crop)(padded, offsets)
  flips = jax.random.bernoulli(flip_key, 0.5, (batch, 1, 1, 1))
  return jnp.where(flips, crops[:, :, ::-1, :], crops)


def cross_entropy(logits, labels):
  return optax.softmax_cross_entropy_with_integer_labels(
    logits.astype(jnp.float32), labels
  )


@nnx.jit
def train_step(model, optimizer, images, labels, key):
  """One SGD step on an augmented batch; returns the mean loss."""
  images = augment(key, images)

  def loss_fn(model):
    return cross_entropy(model(images), labels).mean()

  loss, grads = nnx.value_and_grad(loss_fn)(model)
  optimizer.update(model, grads)
  return loss


@nnx.jit
def eval_step(model, images, labels):
  """Summed loss and top-1/top-5 correct counts over a batch."""
  logits = model(images)
  top5 = jax.lax.top_k(logits, 5)[1]
  hits = top5 == labels[:, None]
  return {
    'loss': cross_entropy(logits, labels).sum(),
    'top1': hits[:, 0].sum(),
    'top5': hits.any(axis=-1).sum(),
  }
