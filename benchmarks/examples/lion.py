"""optax.lion as a user's arm, `benchmarks.examples.lion:make`.

The function gets the run's config and returns the transformation. Lion
(Chen et al., 2023) moves by the sign of an interpolated momentum, so its
rate is 3-10x smaller than AdamW's; its authors raise the weight decay as
much, keeping their product. Here the decay is ten times the config's
(AdamW's 0.1), the rest as the config's AdamW: the same warm-up and cosine
decay, clipping and β's. Only the peak rate is tuned.
"""

import optax

from benchmarks.shakespeare import train

WEIGHT_DECAY_FACTOR = 10  # the Lion authors' 3-10x AdamW's


def make(config):
  """Lion on `config`'s schedule, clipping and β's."""
  return optax.chain(
    optax.clip_by_global_norm(config.gradient_clip),
    optax.lion(
      train.learning_rate(config), b1=config.b1, b2=config.b2,
      weight_decay=WEIGHT_DECAY_FACTOR * config.weight_decay,
    ),
  )  # fmt: skip
