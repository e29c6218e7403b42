"""Training the character-level GPT: its arms, steps, evaluation and records.

An "epoch" of the harness is here an interval of `config.steps_per_epoch`
optimizer steps, after which the run is evaluated, logged and checkpointed.
Every batch is a function of the seed and the step alone
(`input_pipeline.batch_starts`), and the model's initialisation of the seed
alone, so every arm of a seed sees the same data from the same start.

The arms: AdamW with linear warm-up, cosine decay and gradient clipping
(nanoGPT's recipe), that AdamW chained with `optax_plp.plp()`, wrapped in
`optax.lookahead` (evaluated at its slow weights), and
`optax.contrib.schedule_free_adamw` (evaluated at
`schedule_free_eval_params`, with its warm-up and no decay, as its authors
prescribe). Weight decay applies to every parameter in every arm (optax's
default; nanoGPT exempts its LayerNorm scales).
"""

import functools
import math
import time
from typing import NamedTuple

from flax import nnx
import jax
import jax.numpy as jnp
import optax

from benchmarks.harness import config_checks
from benchmarks.harness import distributed
from benchmarks.harness import experiment
from benchmarks.shakespeare import input_pipeline
from benchmarks.shakespeare import losses
from benchmarks.shakespeare import models
import optax_plp

ARMS = ('adamw', 'adamw_plp', 'adamw_lookahead', 'schedule_free_adamw')
# The paired comparisons beyond each arm against the first: PLP against each
# of AdamW's peers.
CONTROLS = tuple(('adamw_plp', peer) for peer in ARMS[2:])
# The record fields a rerun, a resumed run or another process layout must
# reproduce.
REPRODUCIBLE = (
  'epoch', 'step', 'train_loss', 'val_loss', 'test_loss', 'path_cosine',
  'final_val_loss', 'final_test_loss',
)  # fmt: skip


def learning_rate(config):
  """Linear warm-up from 0 to the peak, cosine decay to a fraction of it."""
  return optax.warmup_cosine_decay_schedule(
    init_value=0.0,
    peak_value=config.learning_rate,
    warmup_steps=config.warmup_steps,
    decay_steps=total_steps(config),
    end_value=config.learning_rate * config.final_rate_fraction,
  )


def total_steps(config):
  return config.epochs * config.steps_per_epoch


def adamw(config):
  """nanoGPT's AdamW: clipped gradients, warm-up and cosine decay."""
  return optax.chain(
    optax.clip_by_global_norm(config.gradient_clip),
    optax.adamw(
      learning_rate(config), b1=config.b1, b2=config.b2,
      weight_decay=config.weight_decay,
    ),
  )  # fmt: skip


class LookaheadOnParamsState(NamedTuple):
  """`optax.lookahead`'s state, and the slow weights it moves."""

  lookahead: optax.LookaheadState
  slow: optax.Params


def lookahead_on_params(fast_optimizer, sync_period, slow_step_size):
  """`optax.lookahead` for code that passes and applies plain parameters.

  `optax.lookahead` takes and updates `LookaheadParams(fast, slow)`; here
  the parameters a model holds are the fast ones and the slow ones live in
  this transformation's state, so `nnx.Optimizer` can drive it. The moves
  are lookahead's own: the fast weights get `updates.fast`, the slow ones
  `updates.slow`.
  """
  inner = optax.lookahead(fast_optimizer, sync_period, slow_step_size)

  def init(params):
    synced = optax.LookaheadParams.init_synced(params)
    # The slow weights are a copy: a step that donates the parameters and
    # the state must not be handed one buffer twice.
    slow = jax.tree.map(jnp.copy, params)
    return LookaheadOnParamsState(inner.init(synced), slow)

  def update(updates, state, params):
    both = optax.LookaheadParams(fast=params, slow=state.slow)
    moves, lookahead = inner.update(updates, state.lookahead, both)
    slow = optax.apply_updates(state.slow, moves.slow)
    return moves.fast, LookaheadOnParamsState(lookahead, slow)

  return optax.GradientTransformation(init, update)


def schedule_free_adamw(config):
  """Schedule-free AdamW at a constant peak after its warm-up, clipped."""
  return optax.chain(
    optax.clip_by_global_norm(config.gradient_clip),
    optax.contrib.schedule_free_adamw(
      config.learning_rate, warmup_steps=config.warmup_steps, b1=config.b1,
      b2=config.b2, weight_decay=config.weight_decay,
    ),
  )  # fmt: skip


def arm_optimizer(arm, config, sizes=None):
  """The optax optimizer of `arm` (a name of `ARMS`)."""
  del sizes  # the schedules count steps, not epochs
  if arm == 'adamw':
    return adamw(config)
  if arm == 'adamw_plp':
    prediction = config.prediction
    return optax_plp.with_plp(
      adamw(config), prediction.step_size, every=prediction.every
    )
  if arm == 'adamw_lookahead':
    return lookahead_on_params(
      adamw(config), config.lookahead.sync_period,
      config.lookahead.slow_step_size,
    )  # fmt: skip
  if arm == 'schedule_free_adamw':
    return schedule_free_adamw(config)
  if config_checks.is_user_arm(arm):
    return config_checks.user_arm_optimizer(arm, config)
  raise config_checks.ConfigError(f'arm is {arm!r}; allowed: {list(ARMS)}.')


def arm_learning_rate(config, arm, step):
  """The rate `arm` steps with at `step` (None for a user's arm): the
  warm-up and cosine decay, or schedule-free's warm-up to a constant."""
  if config_checks.is_user_arm(arm):
    return None
  if arm == 'schedule_free_adamw':
    return float(
      optax.warmup_constant_schedule(
        0.0, config.learning_rate, config.warmup_steps
      )(step)
    )
  return float(learning_rate(config)(step))


def evaluation_params(arm, opt_state, params):
  """The weights an arm is evaluated at: lookahead's slow ones,
  schedule-free's averaged ones, the model's own otherwise."""
  if arm == 'adamw_lookahead':
    return opt_state.slow
  if arm == 'schedule_free_adamw':
    return optax.contrib.schedule_free_eval_params(opt_state[1], params)
  if config_checks.is_user_arm(arm):
    return config_checks.user_arm_evaluation_params(opt_state, params)
  return params


def values(tree):
  """`tree` with its nnx variables replaced by their arrays."""
  return jax.tree.map(
    lambda v: v[...], tree, is_leaf=lambda x: isinstance(x, nnx.Variable)
  )


class Data(NamedTuple):
  """The encoded splits on the devices, where evaluation starts, sizes."""

  train: jax.Array
  validation: jax.Array
  test: jax.Array
  evaluation_starts: dict
  sizes: dict
  batch_sharding: jax.sharding.NamedSharding


def load_data(config, mesh):
  """The corpus's splits (prepared once, cached), encoded, on the devices."""
  texts = input_pipeline.prepare(config.data_dir)
  input_pipeline.check_fits(texts, config.context)
  characters = input_pipeline.vocabulary(texts)
  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  encoded = {
    split: distributed.on_devices(
      input_pipeline.encode(text, characters), replicated
    )
    for split, text in texts.items()
  }
  starts = {
    (split, windows): input_pipeline.evaluation_starts(
      len(texts[split]), config.context, windows, config.eval_batch_size
    )
    for split in ('validation', 'test')
    for windows in (config.eval_windows, 0)  # 0: the whole split
  }
  sizes = {
    **{f'{split}_characters': len(text) for split, text in texts.items()},
    'vocabulary': len(characters),
    'evaluation_windows': {
      f'{split}_{"all" if windows == 0 else "interval"}': rows.size
      for (split, windows), rows in starts.items()
    },
    'steps_per_epoch': config.steps_per_epoch,
    # Checked on resume (`experiment.check_same_data`).
    'fingerprint': input_pipeline.fingerprint(texts),
  }
  return Data(
    encoded['train'], encoded['validation'], encoded['test'], starts,
    sizes, distributed.batch_sharding(mesh),
  )  # fmt: skip


def model_and_optimizer(config, arm, seed, data, mesh):
  """A run's GPT and optimizer, freshly initialised, on the devices."""
  model = models.create(config, data.sizes['vocabulary'], seed)
  transformation = arm_optimizer(arm, config)
  if config_checks.is_user_arm(arm):
    params = values(nnx.state(model, nnx.Param))
    config_checks.check_user_arm_first_step(arm, transformation, params)
  optimizer = nnx.Optimizer(model, transformation, wrt=nnx.Param)
  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  state = nnx.state((model, optimizer))
  nnx.update((model, optimizer), distributed.on_devices(state, replicated))
  return model, optimizer


def windows(text, starts, context):
  """Inputs and next-character targets of the windows at `starts`."""
  positions = starts[:, None] + jnp.arange(context + 1)
  chunk = text[positions]
  return chunk[:, :-1], chunk[:, 1:]


def loss_sum(model, text, starts, context):
  """Summed next-character cross-entropy (nats) over the windows."""
  inputs, targets = windows(text, starts, context)
  logits = model(inputs).astype(jnp.float32)
  return optax.softmax_cross_entropy_with_integer_labels(logits, targets).sum()


@functools.partial(jax.jit, static_argnums=(0, 4), donate_argnums=1)
def train_step(graphdef, state, text, starts, context):
  """One optimizer step; returns the new state, the loss and the move."""
  model, optimizer = nnx.merge(graphdef, state)
  before = values(nnx.state(model, nnx.Param))

  def loss_fn(model):
    return loss_sum(model, text, starts, context) / starts.size / context

  loss, grads = nnx.value_and_grad(loss_fn)(model)
  optimizer.update(model, grads)
  move = jax.tree.map(jnp.subtract, values(nnx.state(model, nnx.Param)), before)
  return nnx.state((model, optimizer)), loss, move


@jax.jit
def cosine(a, b):
  """The cosine of the angle between two moves, all parameters as one."""
  a, b = (
    jnp.concatenate([x.ravel() for x in jax.tree.leaves(t)]) for t in (a, b)
  )
  return jnp.vdot(a, b) / (jnp.linalg.norm(a) * jnp.linalg.norm(b))


def train_epoch(run, epoch, data, config):
  """Trains one interval; returns (mean loss, tokens/s, mean path cosine).

  The path cosine is that between the last two moves of each of PLP's
  cycles of 3 steps (exploratory: PLP can gain only where it is near 1).
  """
  first = (epoch - 1) * config.steps_per_epoch
  graphdef, state = nnx.split((run.model, run.optimizer))
  losses, cosines, previous = [], [], None
  bar = experiment.progress_bar(config.steps_per_epoch, config.progress)
  start = time.perf_counter()
  for step in range(first, first + config.steps_per_epoch):
    starts = input_pipeline.batch_starts(
      run.seed, step, data.train.shape[0], config.batch_size, config.context
    )
    starts = distributed.global_array(starts, data.batch_sharding)
    state, loss, move = train_step(
      graphdef, state, data.train, starts, config.context
    )
    if step % 3 == 2 and previous is not None:
      cosines.append(cosine(previous, move))
    previous = move if step % 3 == 1 else None
    losses.append(loss)
    bar.update(1)
  nnx.update((run.model, run.optimizer), state)
  mean_loss = experiment.fetched(jnp.stack(losses).mean())
  seconds = time.perf_counter() - start
  bar.close()
  tokens = config.steps_per_epoch * config.batch_size * config.context
  path_cosine = (
    experiment.fetched(jnp.stack(cosines).mean()) if cosines else None
  )
  return mean_loss, tokens / seconds, path_cosine


@functools.partial(jax.jit, static_argnums=(0, 4))
def evaluation_sum(graphdef, params, text, starts, context):
  """The summed loss over `starts`' windows (a row of starts a batch)."""
  model = nnx.merge(graphdef, params)

  def body(total, batch_starts):
    return total + loss_sum(model, text, batch_starts, context), None

  return jax.lax.scan(body, jnp.zeros([], jnp.float32), starts)[0]


def evaluate(run, data, config, windows, prefix=''):
  """Validation and test loss in nats per character at the arm's weights,
  over `windows` evenly spaced windows of each split (0: all of them)."""
  graphdef, params = nnx.split(run.model, nnx.Param)
  opt_state = values(run.optimizer.opt_state)
  params = evaluation_params(run.arm, opt_state, values(params))
  record = {}
  for name, split, text in (
    ('val', 'validation', data.validation), ('test', 'test', data.test)
  ):  # fmt: skip
    rows = data.evaluation_starts[split, windows]
    total = evaluation_sum(graphdef, params, text, rows, config.context)
    characters = rows.size * config.context
    record[f'{prefix}{name}_loss'] = experiment.fetched(total) / characters
  return record


def train_epoch_record(run, epoch, data, config):
  """Trains one interval of `run`; returns its record of metrics."""
  start = time.perf_counter()
  train_loss, rate, path_cosine = train_epoch(run, epoch, data, config)
  experiment.check_finite(train_loss, run, f'interval {epoch}')
  record = {
    'epoch': epoch,
    'step': epoch * config.steps_per_epoch,
    'train_loss': train_loss,
    **evaluate(run, data, config, config.eval_windows),
    'path_cosine': path_cosine,
    'tokens_per_second': rate,
  }
  if epoch == config.epochs:  # the end of the budget: every window
    record.update(evaluate(run, data, config, 0, prefix='final_'))
  record['wall_seconds'] = time.perf_counter() - start
  return record


def describe(record):
  """An interval's log line: the losses (nats and bits) and the speed."""
  bits = record['val_loss'] / math.log(2)
  return (
    f'step {record["step"]}: train loss {record["train_loss"]:.3f}, '
    f'validation {record["val_loss"]:.4f} nats/char ({bits:.3f} bits), '
    f'{record["tokens_per_second"]:.0f} tokens/s'
  )


def is_finite_number(value):
  return (
    isinstance(value, (int, float))
    and not isinstance(value, bool)
    and math.isfinite(value)
  )


def check_optimizer(config, reject):
  """AdamW's and lookahead's numbers: finite and in their ranges (a negative
  clip norm, say, would train uphill without a word)."""
  ranges = {
    'learning_rate': ('a finite number > 0', lambda v: v > 0),
    'b1': ('a number in [0, 1)', lambda v: 0 <= v < 1),
    'b2': ('a number in [0, 1)', lambda v: 0 <= v < 1),
    'weight_decay': ('a finite number >= 0', lambda v: v >= 0),
    'gradient_clip': ('a finite number > 0 (the global norm)', lambda v: v > 0),
    'lookahead.slow_step_size': ('a number in (0, 1]', lambda v: 0 < v <= 1),
  }
  for field, (allowed, holds) in ranges.items():
    value = functools.reduce(getattr, field.split('.'), config)
    if not (is_finite_number(value) and holds(value)):
      reject(field, allowed)
  period = config.lookahead.sync_period
  if not isinstance(period, int) or isinstance(period, bool) or period < 1:
    reject('lookahead.sync_period', 'an int >= 1')


def validate_config(config):
  """Raises `ConfigError` for a bad field, before anything is trained."""
  reject = functools.partial(config_checks.fail, config)
  known = lambda arm: arm in ARMS or config_checks.is_user_arm(arm)  # noqa: E731
  if not config.arms or not all(map(known, config.arms)):
    reject('arms', f"a non-empty list of {list(ARMS)} or 'module:function'")
  if len(set(config.arms)) != len(config.arms):
    reject('arms', 'names without repeats')
  config_checks.check_seeds(config.seeds, reject)
  positive = (
    'layers', 'heads', 'width', 'context', 'batch_size', 'epochs',
    'steps_per_epoch', 'eval_batch_size',
  )  # fmt: skip
  for field in positive:
    if not isinstance(config[field], int) or config[field] < 1:
      reject(field, 'an int >= 1')
  if config.width % config.heads:
    reject('width', f'a multiple of config.heads ({config.heads})')
  if not isinstance(config.eval_windows, int) or config.eval_windows < 0:
    reject('eval_windows', 'an int >= 0 (0: every window that fits)')
  check_optimizer(config, reject)
  if not 0 <= config.warmup_steps < total_steps(config):
    reject('warmup_steps', f'an int in [0, {total_steps(config)})')
  if not 0 <= config.final_rate_fraction <= 1:
    reject('final_rate_fraction', 'a number in [0, 1]')
  if config.on_divergence not in config_checks.ON_DIVERGENCE:
    reject('on_divergence', list(config_checks.ON_DIVERGENCE))
  if config.num_devices < 0 or config.num_devices > jax.device_count():
    reject('num_devices', f'0 (all) to {jax.device_count()}')
  devices = config_checks.num_devices(config)
  if config.batch_size % devices:
    reject('batch_size', f'a multiple of the {devices} devices')
  try:
    optax_plp.plp(config.prediction.step_size, every=config.prediction.every)
  except ValueError as error:
    raise config_checks.ConfigError(f'config.prediction: {error}') from error


TASK = experiment.Task(
  validate_config=validate_config,
  load_data=load_data,
  arm_optimizer=arm_optimizer,
  model_and_optimizer=model_and_optimizer,
  train_epoch_record=train_epoch_record,
  summarize=functools.partial(losses.summarize, controls=CONTROLS),
  reproducible=REPRODUCIBLE,
  describe=describe,
  learning_rate=arm_learning_rate,
  interval_name='interval',
  table=losses.format_table,
  figures=(losses.plot_curves,),
)
