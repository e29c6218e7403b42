"""Tests for the CIFAR-100 models: sizes, modes, initialisation, im2col."""

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks.cifar100 import models

# Reference sizes at width 1 with 100 classes; ResNet18's is exact.
REFERENCE_PARAMS = {'VGG16': 34.0e6, 'ResNet18': 11_220_132, 'GoogLeNet': 6.2e6}


def images(batch=2, seed=0):
  return jax.random.normal(jax.random.key(seed), (batch, 32, 32, 3))


@pytest.mark.parametrize('name', sorted(models.MODELS))
def test_parameter_count_matches_the_reference(name):
  model = models.abstract(name)
  assert models.parameter_count(model) == pytest.approx(
    REFERENCE_PARAMS[name], rel=0.01
  )


def test_resnet18_has_the_exact_reference_layout():
  model = models.abstract('ResNet18')
  assert models.parameter_count(model) == 11_220_132


@pytest.mark.parametrize('name', sorted(models.MODELS))
def test_quarter_width_trains_and_evaluates(name):
  model = models.create(name, width=0.25, num_classes=10)
  wider = models.abstract(name, width=0.5, num_classes=10)
  assert models.parameter_count(model) < models.parameter_count(wider)
  forward = nnx.jit(lambda model, x: model(x))
  model.eval()
  first, second = forward(model, images(3)), forward(model, images(3))
  assert first.shape == (3, 10)
  np.testing.assert_array_equal(first, second)
  model.train()
  train_out = forward(model, images(3))
  assert train_out.shape == (3, 10)
  assert not np.allclose(train_out, first)


def test_dropout_is_random_only_in_train_mode():
  model = models.create('VGG16', width=0.125, num_classes=10)
  model.train()
  x = images(4)
  a, b = model(x), model(x)
  assert not np.allclose(a, b)


def test_bfloat16_computation_keeps_float32_params():
  model = models.create('ResNet18', width=0.125, dtype=jnp.bfloat16)
  model.eval()
  assert model(images()).dtype == jnp.bfloat16
  for leaf in jax.tree.leaves(nnx.state(model, nnx.Param)):
    assert leaf.dtype == jnp.float32


def test_initialisation_is_pytorchs_default():
  conv = models.Conv(64, 32, 3, rngs=nnx.Rngs(0))
  bound = 1 / (64 * 9) ** 0.5
  kernel, bias = np.asarray(conv.kernel[...]), np.asarray(conv.bias[...])
  assert np.abs(kernel).max() <= bound and np.abs(bias).max() <= bound
  # U(-b, b) has standard deviation b / sqrt(3).
  assert kernel.std() == pytest.approx(bound / 3**0.5, rel=0.05)
  norm = models.BatchNorm(8, dtype=jnp.float32, rngs=nnx.Rngs(0))
  np.testing.assert_array_equal(norm.scale[...], np.ones(8))
  np.testing.assert_array_equal(norm.bias[...], np.zeros(8))


@pytest.mark.parametrize('size', [1, 2])
@pytest.mark.parametrize('use_bias', [True, False])
def test_im2col_equals_the_plain_convolution(size, use_bias):
  conv = models.Conv(16, 24, 3, use_bias=use_bias, rngs=nnx.Rngs(1))
  x = jax.random.normal(jax.random.key(2), (5, size, size, 16))
  plain = nnx.Conv.__call__(conv, x)
  im2col = conv(x)
  assert size * size <= models.IM2COL_MAX_PIXELS
  np.testing.assert_allclose(im2col, plain, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('size,strides', [(4, 1), (2, 2)])
def test_larger_or_strided_inputs_use_the_plain_convolution(size, strides):
  conv = models.Conv(4, 4, 3, strides=strides, rngs=nnx.Rngs(1))
  x = jax.random.normal(jax.random.key(2), (1, size, size, 4))
  np.testing.assert_array_equal(conv(x), nnx.Conv.__call__(conv, x))


@pytest.mark.parametrize('stride', [1, 2])
@pytest.mark.parametrize('size', [8, 7])
def test_separable_max_pool_equals_the_reduce_window_pool(stride, size):
  x = jax.random.normal(jax.random.key(3), (2, size, size, 5))

  def pool(x):
    return nnx.max_pool(x, (3, 3), (stride, stride), ((1, 1), (1, 1)))

  np.testing.assert_array_equal(models.max_pool_3x3(x, stride), pool(x))
  # Random inputs have no ties, so each window's gradient goes to the same
  # input; an input that wins several windows sums them in another order.
  weights = jax.random.normal(jax.random.key(4), pool(x).shape)
  want = jax.grad(lambda x: jnp.sum(pool(x) * weights))(x)
  got = jax.grad(lambda x: jnp.sum(models.max_pool_3x3(x, stride) * weights))(x)
  np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
  assert np.array_equal(got == 0, want == 0)


@pytest.mark.parametrize('fast', [True, False])
def test_every_batch_norm_takes_the_variance_create_asks_for(fast):
  model = models.abstract('GoogLeNet', batch_norm_fast_variance=fast)
  nodes = [node for _, node in nnx.iter_graph(model)]
  norms = [node for node in nodes if isinstance(node, nnx.BatchNorm)]
  assert len(norms) == sum(isinstance(node, models.ConvBN) for node in nodes)
  assert {norm.use_fast_variance for norm in norms} == {fast}


@pytest.mark.parametrize('fast', [True, False])
def test_only_the_two_pass_variance_survives_a_large_mean(fast):
  model = models.create('ResNet18', width=0.0625, batch_norm_fast_variance=fast)
  model.train()
  norm = model.stem.norm
  norm.momentum = 0.0  # the running variance becomes the batch's
  spread = np.random.default_rng(0).normal(size=(64, 4, 4, norm.num_features))
  norm(jnp.asarray(10_000.0 + spread, jnp.float32))
  # The batch's own variance, from float32 inputs, computed in float64.
  batch = np.asarray(jnp.asarray(10_000.0 + spread, jnp.float32), np.float64)
  want = batch.var(axis=(0, 1, 2))
  relative_error = np.max(np.abs(norm.var[...] - want) / want)
  # E[x^2] - E[x]^2 cancels in float32 where the mean dwarfs the spread.
  assert (relative_error > 0.1) if fast else (relative_error < 1e-4)
