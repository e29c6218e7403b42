"""A decoder-only GPT in Flax NNX, at nanoGPT's character-level scale.

Pre-LayerNorm blocks of causal multi-head self-attention and a GELU MLP,
learned positions, the output layer tied to the token embedding, no biases
and no dropout (nanoGPT's CPU setting: ``bias=False``, ``dropout=0``).
Weights start normal with standard deviation 0.02, the residual projections
0.02 / √(2 · layers) (GPT-2's scaling, as nanoGPT does).
"""

import math

from flax import nnx
import jax
import jax.numpy as jnp


def gpt_parameter_count(vocabulary, context, layers, width):
  """The GPT's parameters by formula: embeddings, blocks, the last norm.

  Each block: two LayerNorm scales (2C), attention's query/key/value and
  output projections (3C² + C²), the MLP's two layers (4C² + 4C²).
  The output layer is the token embedding's transpose (no parameters).
  """
  return (
    vocabulary * width + context * width + layers * (12 * width**2 + 2 * width)
  ) + width


def layer_norm(width, rngs):
  return nnx.LayerNorm(width, use_bias=False, epsilon=1e-5, rngs=rngs)


def dense(fan_in, fan_out, rngs, std=0.02):
  return nnx.Linear(
    fan_in, fan_out, use_bias=False,
    kernel_init=nnx.initializers.normal(std), rngs=rngs,
  )  # fmt: skip


class CausalSelfAttention(nnx.Module):
  """Multi-head attention where position t sees positions 0..t only."""

  def __init__(self, width, heads, residual_std, rngs):
    self.heads = heads
    self.qkv = dense(width, 3 * width, rngs)
    self.out = dense(width, width, rngs, residual_std)

  def __call__(self, x):
    batch, length, width = x.shape
    q, k, v = jnp.split(self.qkv(x), 3, axis=-1)
    # (batch, length, width) -> (batch, heads, length, width / heads)
    q, k, v = (
      t.reshape(batch, length, self.heads, -1).transpose(0, 2, 1, 3)
      for t in (q, k, v)
    )
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1])
    causal = jnp.tril(jnp.ones((length, length), bool))
    scores = jnp.where(causal, scores, -jnp.inf)
    y = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(x.dtype) @ v
    return self.out(y.transpose(0, 2, 1, 3).reshape(batch, length, width))


class Block(nnx.Module):
  """x + attention(norm(x)), then x + MLP(norm(x))."""

  def __init__(self, width, heads, residual_std, rngs):
    self.attention_norm = layer_norm(width, rngs)
    self.attention = CausalSelfAttention(width, heads, residual_std, rngs)
    self.mlp_norm = layer_norm(width, rngs)
    self.mlp_in = dense(width, 4 * width, rngs)
    self.mlp_out = dense(4 * width, width, rngs, residual_std)

  def __call__(self, x):
    x = x + self.attention(self.attention_norm(x))
    # PyTorch's GELU, the exact one (nanoGPT's nn.GELU()).
    hidden = jax.nn.gelu(self.mlp_in(self.mlp_norm(x)), approximate=False)
    return x + self.mlp_out(hidden)


class GPT(nnx.Module):
  """Characters (batch, length <= context) -> next-character logits."""

  def __init__(self, vocabulary, context, layers, heads, width, *, rngs):
    if width % heads:
      raise ValueError(f'width {width} is not a multiple of heads {heads}.')
    embed = nnx.initializers.normal(0.02)
    self.tokens = nnx.Embed(vocabulary, width, embedding_init=embed, rngs=rngs)
    self.positions = nnx.Embed(context, width, embedding_init=embed, rngs=rngs)
    residual_std = 0.02 / math.sqrt(2 * layers)
    self.blocks = nnx.List(
      Block(width, heads, residual_std, rngs) for _ in range(layers)
    )
    self.final_norm = layer_norm(width, rngs)

  def __call__(self, characters):
    x = self.tokens(characters) + self.positions(
      jnp.arange(characters.shape[-1])
    )
    for block in self.blocks:
      x = block(x)
    return self.tokens.attend(self.final_norm(x))  # the tied output layer


def create(config, vocabulary, seed):
  """The config's GPT, initialised from `seed` (the same for every arm)."""
  return GPT(
    vocabulary, config.context, config.layers, config.heads, config.width,
    rngs=nnx.Rngs(params=seed),
  )  # fmt: skip
