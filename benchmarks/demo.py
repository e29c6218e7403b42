"""A data-free demo: one small network trained with and without PLP.

A two-layer MLP learns a random teacher network's labels (synthetic data, no
download) with SGD + Nesterov momentum, once as is and once chained with
`optax_plp.plp()`, from the same initialisation and on the same batches. The
final train loss and held-out accuracy of both are printed side by side.

  python -m benchmarks.demo [--steps 2000]
"""

import argparse
import time

import jax
import jax.numpy as jnp
import optax

import optax_plp

NUM_FEATURES = 32
NUM_CLASSES = 10
HIDDEN = 128


def teacher_data(key, num_train, num_test):
  """Train and test splits labelled by a fixed random teacher network."""
  teacher_key, data_key = jax.random.split(key)
  w1 = jax.random.normal(teacher_key, (NUM_FEATURES, 64))
  w2 = jax.random.normal(jax.random.fold_in(teacher_key, 1), (64, NUM_CLASSES))
  inputs = jax.random.normal(data_key, (num_train + num_test, NUM_FEATURES))
  labels = jnp.argmax(jnp.tanh(inputs @ w1) @ w2, axis=-1)
  return (inputs[:num_train], labels[:num_train]), (
    inputs[num_train:],
    labels[num_train:],
  )


def init_mlp(key):
  k1, k2 = jax.random.split(key)
  return {
    'hidden': jax.random.normal(k1, (NUM_FEATURES, HIDDEN)) / NUM_FEATURES**0.5,
    'hidden_bias': jnp.zeros(HIDDEN),
    'out': jax.random.normal(k2, (HIDDEN, NUM_CLASSES)) / HIDDEN**0.5,
    'out_bias': jnp.zeros(NUM_CLASSES),
  }


def logits_fn(params, inputs):
  hidden = jax.nn.relu(inputs @ params['hidden'] + params['hidden_bias'])
  return hidden @ params['out'] + params['out_bias']


def loss_fn(params, inputs, labels):
  logits = logits_fn(params, inputs)
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def train(tx, params, inputs, labels, num_steps, batch_size, key):
  """Trains with `tx` on shuffled batches drawn from `key`; returns params."""

  def step(carry, batch_key):
    params, state = carry
    idx = jax.random.choice(batch_key, inputs.shape[0], (batch_size,))
    loss, grads = jax.value_and_grad(loss_fn)(params, inputs[idx], labels[idx])
    updates, state = tx.update(grads, state, params)
    return (optax.apply_updates(params, updates), state), loss

  keys = jax.random.split(key, num_steps)
  (params, _), losses = jax.jit(
    lambda p: jax.lax.scan(step, (p, tx.init(p)), keys)
  )(params)
  return params, losses


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--steps', type=int, default=2000)
  parser.add_argument('--batch-size', type=int, default=128)
  parser.add_argument('--learning-rate', type=float, default=0.05)
  args = parser.parse_args()

  key = jax.random.key(0)
  (train_x, train_y), (test_x, test_y) = teacher_data(key, 8192, 4096)
  init = init_mlp(jax.random.fold_in(key, 1))
  base = optax.sgd(args.learning_rate, momentum=0.9, nesterov=True)
  arms = {'sgd': base, 'sgd + plp': optax.chain(base, optax_plp.plp())}
  print(f'{args.steps} steps of batch {args.batch_size}, same init and batches')
  print(f'{"arm":10s} {"train loss":>10s} {"test acc":>9s} {"seconds":>8s}')
  for name, tx in arms.items():
    start = time.perf_counter()
    params, losses = train(
      tx, init, train_x, train_y, args.steps, args.batch_size, key
    )
    accuracy = jnp.mean(jnp.argmax(logits_fn(params, test_x), -1) == test_y)
    seconds = time.perf_counter() - start
    train_loss = float(losses[-50:].mean())
    print(
      f'{name:10s} {train_loss:10.4f} {float(accuracy):9.3f} {seconds:8.1f}'
    )


if __name__ == '__main__':
  main()
