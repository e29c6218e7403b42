"""VGG16-BN, ResNet18 and GoogLeNet for CIFAR-100 in Flax NNX.

These are the CIFAR variants of the community reference implementations whose
CIFAR-100 results the PLP paper's metrics follow (top-1/top-5 error after 200
epochs): VGG16-BN with a 512-4096-4096 classifier (34.0M parameters), ResNet18
with a 3x3 stem and no max-pool (11.2M), and GoogLeNet with one 3x3 stem
convolution and inception blocks 3a..5b (6.26M; the reference table says 6.2M).

Every model takes ``num_classes``, a ``width`` multiplier for all channel
counts (and VGG's hidden units), a computation ``dtype`` (parameters stay
float32) and ``rngs``. BatchNorm and Dropout follow the module's mode: call
``model.train()`` before training steps and ``model.eval()`` before evaluation.

Initialisation is PyTorch's default for these layers, as the reference results
were trained with it: convolution and dense kernels and biases are drawn from
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (``kaiming_uniform(a=sqrt(5))``), BatchNorm
scales are 1 and offsets 0; BatchNorm uses epsilon 1e-5 and a running-average
momentum of 0.9 (PyTorch's 0.1). By default BatchNorm computes a batch's
variance as flax does, in one pass as E[x^2] - E[x]^2; ``create``'s
``batch_norm_fast_variance=False`` computes it from the centred values, as
PyTorch does. The one-pass form cancels where a channel's mean is large
against its spread, and how it rounds then depends on how XLA fuses the step,
so the same steps compiled two ways can drift apart by far more than float
rounding; the two-pass form does not.

XLA's CPU convolution is very slow on tiny feature maps, so a 3x3 convolution
whose input is at most ``IM2COL_MAX_PIXELS`` pixels is computed as one matmul
over its 3x3 patches (im2col). That is the same sum of products, only in
another order: the outputs agree with the plain convolution to float rounding.
Likewise GoogLeNet's 3x3 max-pools are separable maxima of shifted slices,
whose gradient XLA computes far faster than select-and-scatter's.
"""

import functools

from flax import nnx
import jax
import jax.numpy as jnp

IM2COL_MAX_PIXELS = 4

# PyTorch's default: kaiming_uniform(a=sqrt(5)) is U(+-1/sqrt(fan_in)).
torch_kernel_init = nnx.initializers.variance_scaling(
  1 / 3, 'fan_in', 'uniform'
)


def torch_bias_init(fan_in):
  """PyTorch's default bias initialiser for a layer with this fan-in."""
  bound = 1 / fan_in**0.5

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


def scaled(channels, width):
  """A channel count scaled by ``width``, at least one."""
  return max(1, round(channels * width))


class Conv(nnx.Conv):
  """A 'SAME'-padded convolution with PyTorch's initialisation.

  Stride-1 3x3 convolutions over inputs of at most ``IM2COL_MAX_PIXELS``
  pixels run as an im2col matmul, which XLA's CPU backend executes far faster.
  """

  def __init__(self, in_features, out_features, kernel_size, *, rngs, **kwargs):
    fan_in = in_features * kernel_size * kernel_size
    super().__init__(
      in_features,
      out_features,
      kernel_size=(kernel_size, kernel_size),
      padding='SAME',
      kernel_init=torch_kernel_init,
      bias_init=torch_bias_init(fan_in),
      rngs=rngs,
      **kwargs,
    )

  def __call__(self, x):
    height, width = x.shape[-3:-1]
    stride_one = self.strides in (1, (1, 1))
    small = height * width <= IM2COL_MAX_PIXELS
    if self.kernel_size != (3, 3) or not (stride_one and small):
      return super().__call__(x)
    return im2col_conv3x3(x, self.kernel[...], self.bias, self.dtype)


def im2col_conv3x3(x, kernel, bias, dtype):
  """A stride-1 'SAME' 3x3 convolution as a matmul over 3x3 patches."""
  bias = None if bias is None else bias[...]
  x, kernel, bias = nnx.nn.dtypes.promote_dtype((x, kernel, bias), dtype=dtype)
  height, width = x.shape[-3:-1]
  padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  patches = jnp.concatenate(
    [
      padded[:, i : i + height, j : j + width, :]
      for i in range(3)
      for j in range(3)
    ],
    axis=-1,
  )
  y = patches @ kernel.reshape(-1, kernel.shape[-1])
  return y if bias is None else y + bias


def Dense(in_features, out_features, *, dtype, rngs):
  return nnx.Linear(
    in_features,
    out_features,
    kernel_init=torch_kernel_init,
    bias_init=torch_bias_init(in_features),
    dtype=dtype,
    rngs=rngs,
  )


def BatchNorm(features, *, dtype, rngs):
  return nnx.BatchNorm(
    features, momentum=0.9, epsilon=1e-5, dtype=dtype, rngs=rngs
  )


class ConvBN(nnx.Module):
  """Convolution, BatchNorm and ReLU."""

  def __init__(self, cin, cout, kernel_size=3, *, bias, strides=1, dtype, rngs):
    self.conv = Conv(
      cin,
      cout,
      kernel_size,
      strides=strides,
      use_bias=bias,
      dtype=dtype,
      rngs=rngs,
    )
    self.norm = BatchNorm(cout, dtype=dtype, rngs=rngs)

  def __call__(self, x, relu=True):
    y = self.norm(self.conv(x))
    return nnx.relu(y) if relu else y


max_pool = functools.partial(nnx.max_pool, window_shape=(2, 2), strides=(2, 2))


def global_average(x):
  return x.mean(axis=(1, 2))


class VGG16(nnx.Module):
  """VGG16 with BatchNorm and the 512-4096-4096 classifier with dropout."""

  LAYOUT = (64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M') + (
    512, 512, 512, 'M', 512, 512, 512, 'M',
  )  # fmt: skip

  def __init__(self, num_classes=100, *, width=1.0, dtype=jnp.float32, rngs):
    layers = []
    cin = 3
    for item in self.LAYOUT:
      if item == 'M':
        layers.append(max_pool)
      else:
        cout = scaled(item, width)
        layers.append(ConvBN(cin, cout, bias=True, dtype=dtype, rngs=rngs))
        cin = cout
    self.features = nnx.Sequential(*layers)
    hidden = scaled(4096, width)
    self.classifier = nnx.Sequential(
      Dense(cin, hidden, dtype=dtype, rngs=rngs),
      nnx.relu,
      nnx.Dropout(0.5, rngs=rngs),
      Dense(hidden, hidden, dtype=dtype, rngs=rngs),
      nnx.relu,
      nnx.Dropout(0.5, rngs=rngs),
      Dense(hidden, num_classes, dtype=dtype, rngs=rngs),
    )

  def __call__(self, x):
    x = self.features(x)
    return self.classifier(x.reshape(x.shape[0], -1))


class BasicBlock(nnx.Module):
  """ResNet's two-convolution block with a projection shortcut if needed."""

  def __init__(self, cin, cout, strides, *, dtype, rngs):
    kw = dict(bias=False, dtype=dtype, rngs=rngs)
    self.conv1 = ConvBN(cin, cout, strides=strides, **kw)
    self.conv2 = ConvBN(cout, cout, **kw)
    needs_projection = strides != 1 or cin != cout
    self.shortcut = (
      ConvBN(cin, cout, 1, strides=strides, **kw) if needs_projection else None
    )

  def __call__(self, x):
    y = self.conv2(self.conv1(x), relu=False)
    shortcut = x if self.shortcut is None else self.shortcut(x, relu=False)
    return nnx.relu(y + shortcut)


class ResNet18(nnx.Module):
  """ResNet18 for CIFAR: 3x3 stem, no max-pool, [2, 2, 2, 2] basic blocks."""

  def __init__(self, num_classes=100, *, width=1.0, dtype=jnp.float32, rngs):
    cin = scaled(64, width)
    self.stem = ConvBN(3, cin, bias=False, dtype=dtype, rngs=rngs)
    blocks = []
    for stage, channels in enumerate([64, 128, 256, 512]):
      cout = scaled(channels, width)
      for index in range(2):
        strides = 2 if stage > 0 and index == 0 else 1
        blocks.append(BasicBlock(cin, cout, strides, dtype=dtype, rngs=rngs))
        cin = cout
    self.blocks = nnx.Sequential(*blocks)
    self.head = Dense(cin, num_classes, dtype=dtype, rngs=rngs)

  def __call__(self, x):
    return self.head(global_average(self.blocks(self.stem(x))))


class Inception(nnx.Module):
  """GoogLeNet's four-branch block (1x1 | 3x3 | double 3x3 | pool-proj)."""

  def __init__(self, cin, n1, n3r, n3, n5r, n5, pool, *, dtype, rngs):
    kw = dict(bias=True, dtype=dtype, rngs=rngs)
    self.branch1 = ConvBN(cin, n1, 1, **kw)
    self.branch3 = nnx.Sequential(
      ConvBN(cin, n3r, 1, **kw), ConvBN(n3r, n3, **kw)
    )
    self.branch5 = nnx.Sequential(
      ConvBN(cin, n5r, 1, **kw), ConvBN(n5r, n5, **kw), ConvBN(n5, n5, **kw)
    )
    self.pool_proj = ConvBN(cin, pool, 1, **kw)
    self.out_features = n1 + n3 + n5 + pool

  def __call__(self, x):
    pooled = max_pool_3x3(x, stride=1)
    branches = [self.branch1(x), self.branch3(x), self.branch5(x)]
    return jnp.concatenate(branches + [self.pool_proj(pooled)], axis=-1)


class GoogLeNet(nnx.Module):
  """GoogLeNet for CIFAR: a 3x3 stem convolution, inception 3a..5b.

  Inception 3a and 3b run at full 32x32 resolution; max-pools (3x3, stride 2)
  follow 3b and 4e, and global average pooling follows 5b.
  """

  BLOCKS = (
    (64, 96, 128, 16, 32, 32),  # 3a
    (128, 128, 192, 32, 96, 64),  # 3b
    'M',
    (192, 96, 208, 16, 48, 64),  # 4a
    (160, 112, 224, 24, 64, 64),  # 4b
    (128, 128, 256, 24, 64, 64),  # 4c
    (112, 144, 288, 32, 64, 64),  # 4d
    (256, 160, 320, 32, 128, 128),  # 4e
    'M',
    (256, 160, 320, 32, 128, 128),  # 5a
    (384, 192, 384, 48, 128, 128),  # 5b
  )

  def __init__(self, num_classes=100, *, width=1.0, dtype=jnp.float32, rngs):
    cin = scaled(192, width)
    self.stem = ConvBN(3, cin, bias=True, dtype=dtype, rngs=rngs)
    layers = []
    for block in self.BLOCKS:
      if block == 'M':
        layers.append(pool_3x3_stride_2)
        continue
      channels = [scaled(c, width) for c in block]
      layers.append(Inception(cin, *channels, dtype=dtype, rngs=rngs))
      cin = layers[-1].out_features
    self.blocks = nnx.Sequential(*layers)
    self.dropout = nnx.Dropout(0.4, rngs=rngs)
    self.head = Dense(cin, num_classes, dtype=dtype, rngs=rngs)

  def __call__(self, x):
    x = global_average(self.blocks(self.stem(x)))
    return self.head(self.dropout(x))


def pool_3x3_stride_2(x):
  return max_pool_3x3(x, stride=2)


def max_pool_3x3(x, stride):
  """A 3x3 max-pool with padding 1, as a row maximum then a column maximum.

  The same values as ``nnx.max_pool(x, (3, 3), (stride, stride), ((1, 1),
  (1, 1)))``, but its gradient is made of selects instead of XLA's
  select-and-scatter, which is several times slower on CPU. On an exact tie
  the gradient is shared between the tied inputs rather than given to one.
  """
  padded = jnp.pad(
    x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-jnp.inf
  )

  def along(y, axis, size):
    length = (size - 1) // stride + 1
    taps = [
      jax.lax.slice_in_dim(y, i, i + stride * (length - 1) + 1, stride, axis)
      for i in range(3)
    ]
    return functools.reduce(jnp.maximum, taps)

  return along(along(padded, 1, x.shape[1]), 2, x.shape[2])


MODELS = {'VGG16': VGG16, 'ResNet18': ResNet18, 'GoogLeNet': GoogLeNet}


def parameter_count(model):
  """The number of trainable parameters (batch statistics excluded)."""
  return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def create(
  name,
  *,
  width=1.0,
  dtype=jnp.float32,
  seed=0,
  num_classes=100,
  batch_norm_fast_variance=True,
):
  """The model called `name`, initialised from `seed` (params and dropout).

  `batch_norm_fast_variance` is every BatchNorm's ``use_fast_variance``: True
  is flax's one-pass variance, False the two-pass one (see the module's
  docstring).
  """
  model = MODELS[name](
    num_classes,
    width=width,
    dtype=jnp.dtype(dtype),
    rngs=nnx.Rngs(params=seed, dropout=seed),
  )
  # Set here rather than passed down every constructor: only BatchNorm reads
  # it, at call time.
  for _, node in nnx.iter_graph(model):
    if isinstance(node, nnx.BatchNorm):
      node.use_fast_variance = batch_norm_fast_variance
  return model


def abstract(name, **kwargs):
  """`create`'s model as shapes only, without running its initialisers."""
  return nnx.eval_shape(lambda: create(name, **kwargs))
