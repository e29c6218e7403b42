"""The GPT against a plain-NumPy forward pass, the parameter formula,
causality and the loss at initialisation."""

import math

from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from scipy import special

from benchmarks.shakespeare import models

TINY = ml_collections.ConfigDict(
  {'context': 8, 'layers': 2, 'heads': 2, 'width': 16}
)
VOCABULARY = 11


def kernel(layer):
  return np.asarray(layer.kernel[...], np.float64)


def layer_norm(x, norm):
  mean = x.mean(-1, keepdims=True)
  variance = ((x - mean) ** 2).mean(-1, keepdims=True)
  return (x - mean) / np.sqrt(variance + 1e-5) * np.asarray(norm.scale[...])


def attention(x, module, heads):
  """Causal multi-head attention, head by head and position by position."""
  length, width = x.shape
  q, k, v = np.split(x @ kernel(module.qkv), 3, axis=-1)
  size = width // heads
  out = np.zeros_like(x)
  for h in range(heads):
    part = slice(h * size, (h + 1) * size)
    for t in range(length):
      scores = q[t, part] @ k[: t + 1, part].T / math.sqrt(size)
      weights = np.exp(scores - scores.max())
      out[t, part] = (weights / weights.sum()) @ v[: t + 1, part]
  return out @ kernel(module.out)


def numpy_forward(model, characters, heads):
  """The GPT's logits for one sequence, in float64 NumPy."""
  tokens = np.asarray(model.tokens.embedding[...], np.float64)
  positions = np.asarray(model.positions.embedding[...], np.float64)
  x = tokens[characters] + positions[: len(characters)]
  for block in model.blocks:
    x = x + attention(
      layer_norm(x, block.attention_norm), block.attention, heads
    )
    hidden = layer_norm(x, block.mlp_norm) @ kernel(block.mlp_in)
    hidden = 0.5 * hidden * (1 + special.erf(hidden / math.sqrt(2)))
    x = x + hidden @ kernel(block.mlp_out)
  return layer_norm(x, model.final_norm) @ tokens.T


def test_the_gpt_matches_a_numpy_forward_pass():
  model = models.create(TINY, VOCABULARY, seed=0)
  characters = np.array([[3, 1, 4, 1, 5, 9, 2, 6], [2, 7, 1, 8, 2, 8, 1, 8]])
  got = np.asarray(model(jnp.asarray(characters)))
  for row, sequence in zip(got, characters, strict=True):
    np.testing.assert_allclose(
      row, numpy_forward(model, sequence, TINY.heads), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize(
  'vocabulary,context,layers,heads,width',
  [(11, 8, 2, 2, 16), (75, 64, 4, 4, 128)],
)
def test_the_parameter_count_is_the_formulas(
  vocabulary, context, layers, heads, width
):
  config = ml_collections.ConfigDict(
    {'context': context, 'layers': layers, 'heads': heads, 'width': width}
  )
  model = models.create(config, vocabulary, seed=0)
  count = sum(p.size for p in jax.tree.leaves(nnx.state(model, nnx.Param)))
  assert count == models.gpt_parameter_count(vocabulary, context, layers, width)
  if width == 128:
    assert count == 805_376  # nanoGPT's CPU setting, as the README says


def test_a_later_character_never_changes_an_earlier_logit():
  model = models.create(TINY, VOCABULARY, seed=1)
  characters = jnp.array([[3, 1, 4, 1, 5, 9, 2, 6]])
  before = model(characters)
  for position in range(TINY.context):
    changed = characters.at[0, position].set((characters[0, position] + 1) % 11)
    after = model(changed)
    np.testing.assert_array_equal(after[0, :position], before[0, :position])
    assert not np.allclose(after[0, position], before[0, position])


def test_the_loss_at_initialisation_is_near_log_vocabulary():
  model = models.create(TINY, VOCABULARY, seed=2)
  characters = jax.random.randint(jax.random.key(0), (16, 9), 0, VOCABULARY)
  logits = model(characters[:, :-1])
  loss = optax.softmax_cross_entropy_with_integer_labels(
    logits, characters[:, 1:]
  ).mean()
  assert abs(float(loss) - math.log(VOCABULARY)) < 0.05


def test_a_width_that_heads_do_not_divide_is_refused():
  with pytest.raises(ValueError, match='not a multiple of heads 3'):
    models.GPT(11, 8, 1, 3, 16, rngs=nnx.Rngs(0))
