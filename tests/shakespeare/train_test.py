"""The language model's arms, training, records and resume (a made corpus)."""

import json
import math
import re
import shutil

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from benchmarks import tasks
from benchmarks.harness import checkpoints
from benchmarks.harness import config_checks
from benchmarks.harness import distributed
from benchmarks.harness import experiment
from benchmarks.harness import results_io
from benchmarks.shakespeare import losses
from benchmarks.shakespeare import train
from benchmarks.shakespeare import train as shakespeare_train
from tests.conftest import flip_one_bit
from tests.conftest import killed_at_call
from tests.shakespeare.conftest import tiny_config


def quadratic_grads(params):
  return jax.tree.map(lambda p: p - 1.0, params)


def test_lookahead_on_params_walks_optax_lookaheads_path():
  fast_optimizer = optax.adam(0.1)
  ours = train.lookahead_on_params(fast_optimizer, 5, 0.5)
  theirs = optax.lookahead(fast_optimizer, 5, 0.5)
  params = {'w': jnp.array([0.0, 3.0])}
  both = optax.LookaheadParams.init_synced(params)
  state, their_state = ours.init(params), theirs.init(both)
  for _ in range(12):
    updates, state = ours.update(quadratic_grads(params), state, params)
    params = optax.apply_updates(params, updates)
    updates, their_state = theirs.update(
      quadratic_grads(both.fast), their_state, both
    )
    both = optax.apply_updates(both, updates)
    np.testing.assert_array_equal(params['w'], both.fast['w'])
    np.testing.assert_array_equal(state.slow['w'], both.slow['w'])


def test_each_arm_is_evaluated_at_its_own_weights():
  config = tiny_config('unused')
  params = {'w': jnp.array([0.0, 3.0])}
  for arm in train.ARMS:
    tx = train.arm_optimizer(arm, config)
    state = tx.init(params)
    moved = params
    for _ in range(7):
      updates, state = tx.update(quadratic_grads(moved), state, moved)
      moved = optax.apply_updates(moved, updates)
    got = train.evaluation_params(arm, state, moved)
    if arm == 'adamw_lookahead':
      want = state.slow
    elif arm == 'schedule_free_adamw':
      want = optax.contrib.schedule_free_eval_params(state[1], moved)
    else:
      want = moved
    np.testing.assert_array_equal(got['w'], want['w'])
    if arm in ('adamw_lookahead', 'schedule_free_adamw'):
      assert not np.array_equal(got['w'], moved['w'])


def test_the_schedule_warms_up_then_decays_to_a_tenth():
  config = tiny_config('unused', learning_rate=0.01)
  schedule = train.learning_rate(config)
  total = config.epochs * config.steps_per_epoch
  assert float(schedule(0)) == 0.0
  assert float(schedule(config.warmup_steps)) == pytest.approx(0.01)
  assert float(schedule(total)) == pytest.approx(0.001)


def test_a_run_trains_every_arm_and_records_its_losses(uninterrupted, tmp_path):
  workdir, results = uninterrupted
  assert json.loads((workdir / 'results.json').read_text()) == json.loads(
    json.dumps(results)
  )
  assert set(results['runs']) == set(train.ARMS)
  config = results['config']
  for seeds in results['runs'].values():
    records = seeds['0']
    assert [r['step'] for r in records] == [4, 8, 12]
    for record in records:
      assert math.isfinite(record['val_loss']) and record['val_loss'] > 0
      assert -1 <= record['path_cosine'] <= 1
    assert set(records[-1]) - set(records[0]) == {
      'final_val_loss', 'final_test_loss'
    }  # fmt: skip
    assert records[-1]['train_loss'] < math.log(results['data']['vocabulary'])
  summary = results['summary']
  for arm in train.ARMS[1:]:
    difference = summary[f'{arm} - adamw']['final_test_loss']
    assert difference['mean'] == pytest.approx(
      summary[arm]['final_test_loss']['mean']
      - summary['adamw']['final_test_loss']['mean']
    )
  assert 'adamw_plp - schedule_free_adamw' in summary
  assert config['task'] == 'shakespeare'
  table = losses.format_table(results)
  assert 'adamw_plp - adamw' in table and '±' not in table  # one seed
  assert 'one seed: no spread to show' in table
  assert losses.plot_curves(tmp_path, results)
  assert (tmp_path / 'curves.png').stat().st_size > 10_000


def flat(tree):
  return np.concatenate([np.ravel(x) for x in jax.tree.leaves(tree)])


def test_the_path_cosine_pairs_each_cycles_last_two_moves(corpus, monkeypatch):
  """Against NumPy: the mean cosine of the moves of steps 1 and 2, 4 and 5,
  ... (each cycle's h2 − h1 and h3 − h2), the moves adding up to the
  parameters' change."""
  config = tiny_config(corpus, steps_per_epoch=9)
  mesh = distributed.data_mesh(jax.devices())
  data = train.load_data(config, mesh)
  model, optimizer = train.model_and_optimizer(config, 'adamw', 0, data, mesh)
  before = flat(train.values(nnx.state(model, nnx.Param)))
  moves, train_step = [], train.train_step

  def recording_step(*args):
    state, loss, move = train_step(*args)
    moves.append(flat(move).astype(np.float64))
    return state, loss, move

  monkeypatch.setattr(train, 'train_step', recording_step)
  run = experiment.Run('adamw', 0, model, optimizer, None)
  _, _, path_cosine = train.train_epoch(run, 1, data, config)
  after = flat(train.values(nnx.state(model, nnx.Param)))
  np.testing.assert_allclose(sum(moves), after - before, atol=1e-6)
  cosines = [
    moves[s - 1] @ moves[s] / np.linalg.norm(moves[s - 1])
    / np.linalg.norm(moves[s])
    for s in (2, 5, 8)
  ]  # fmt: skip
  assert path_cosine == pytest.approx(np.mean(cosines), rel=1e-5)


def test_arms_share_initialisation_and_batches(corpus, tmp_path):
  # Before PLP's first prediction (its third step), adamw_plp is adamw.
  first = {}
  for arm in ('adamw', 'adamw_plp'):
    config = tiny_config(
      corpus, arms=(arm,), epochs=1, steps_per_epoch=2, warmup_steps=1
    )
    results = tasks.train_and_evaluate(config, str(tmp_path / arm))
    first[arm] = results['runs'][arm]['0'][0]
  for key in ('train_loss', 'val_loss', 'final_test_loss'):
    assert first['adamw'][key] == first['adamw_plp'][key]


def test_every_field_of_a_record_but_its_speed_must_be_reproduced(
  uninterrupted,
):
  _, results = uninterrupted
  for seeds in results['runs'].values():
    for record in seeds['0']:
      assert set(record) <= set(shakespeare_train.REPRODUCIBLE) | {
        'tokens_per_second',
        'wall_seconds',
      }
  assert 'final_test_loss' in seeds['0'][-1]


def test_a_killed_run_resumes_to_the_same_records(
  uninterrupted, corpus, tmp_path, monkeypatch
):
  _, want = uninterrupted
  real_train_epoch = train.train_epoch
  config = tiny_config(corpus, arms=train.ARMS)
  monkeypatch.setattr(
    train, 'train_epoch', killed_at_call(real_train_epoch, 3)
  )  # in the third interval
  with pytest.raises(KeyboardInterrupt):
    tasks.train_and_evaluate(config, str(tmp_path))
  partial = json.loads((tmp_path / 'results.json').read_text())
  assert len(partial['runs']['adamw']['0']) == 2
  monkeypatch.setattr(train, 'train_epoch', real_train_epoch)
  got = tasks.train_and_evaluate(config, str(tmp_path))
  assert tasks.reproducible(got) == tasks.reproducible(want)


@pytest.mark.parametrize(
  'field,value,message',
  [
    ('arms', ('sgd',), "config.arms is ('sgd',)"),
    ('width', 17, 'a multiple of config.heads'),
    ('warmup_steps', 12, 'an int in [0, 12)'),
    ('eval_windows', -1, 'an int >= 0'),
    ('task', 'imagenet', "config.task is 'imagenet'"),
    ('gradient_clip', -1.0, 'config.gradient_clip is -1.0; allowed: a finite'),
    ('gradient_clip', 0.0, 'a finite number > 0 (the global norm)'),
    ('learning_rate', float('inf'), 'config.learning_rate is inf'),
    ('learning_rate', float('nan'), 'config.learning_rate is nan'),
    ('b1', 1.0, 'config.b1 is 1.0; allowed: a number in [0, 1)'),
    ('b2', float('nan'), 'config.b2 is nan'),
    ('weight_decay', float('inf'), 'config.weight_decay is inf'),
    ('weight_decay', -0.1, 'a finite number >= 0'),
  ],
)
def test_a_bad_field_is_named_before_anything_trains(
  corpus, tmp_path, field, value, message
):
  config = tiny_config(corpus, **{field: value})
  with pytest.raises(config_checks.ConfigError, match=re.escape(message)):
    tasks.train_and_evaluate(config, str(tmp_path))
  assert not (tmp_path / 'results.json').exists()


@pytest.mark.parametrize(
  'field,value,message',
  [
    ('sync_period', 0, 'config.lookahead.sync_period is 0; allowed: an int'),
    ('slow_step_size', 0.0, 'config.lookahead.slow_step_size is 0.0'),
    ('slow_step_size', float('nan'), 'a number in (0, 1]'),
  ],
)
def test_a_bad_lookahead_field_is_named_before_anything_trains(
  corpus, tmp_path, field, value, message
):
  config = tiny_config(corpus, arms=('adamw_lookahead',))
  config.lookahead[field] = value
  with pytest.raises(config_checks.ConfigError, match=re.escape(message)):
    tasks.train_and_evaluate(config, str(tmp_path))
  assert not (tmp_path / 'results.json').exists()


def test_a_run_does_not_resume_on_other_data(uninterrupted, uninterrupted_copy):
  _, results = uninterrupted
  corpus = uninterrupted_copy.parent / 'changed_corpus'
  shutil.copytree(results['config']['data_dir'], corpus)
  train_text = corpus / 'train.txt'
  train_text.write_text(train_text.read_text()[::-1])  # same size, other text
  before = (uninterrupted_copy / 'results.json').read_bytes()
  config = tiny_config(corpus, arms=train.ARMS)
  with pytest.raises(experiment.DataUnavailableError) as error:
    tasks.train_and_evaluate(config, str(uninterrupted_copy))
  assert 'the data differ from those the runs in' in str(error.value)
  assert (uninterrupted_copy / 'results.json').read_bytes() == before


def test_records_no_checkpoint_backs_are_never_replaced(
  uninterrupted, tmp_path
):
  workdir, results = uninterrupted
  assert results_io.held_runs(str(workdir)) == {
    (arm, '0'): 3 for arm in results['runs']
  }
  copy = tmp_path / 'copy'
  copy.mkdir()
  shutil.copy(workdir / 'results.json', copy / 'results.json')
  before = (copy / 'results.json').read_bytes()
  config = tiny_config(results['config']['data_dir'], arms=train.ARMS)
  with pytest.raises(config_checks.ConfigError) as error:
    tasks.train_and_evaluate(config, str(copy))
  message = str(error.value)
  assert 'adamw seed 0: 3 epochs, checkpointed to 0' in message
  assert 'fresh --workdir' in message and '\n' not in message
  assert (copy / 'results.json').read_bytes() == before


def test_a_damaged_checkpoint_is_set_aside_and_retrained(
  uninterrupted, uninterrupted_copy
):
  _, want = uninterrupted
  copy = uninterrupted_copy
  latest = copy / 'checkpoints' / 'adamw_plp' / 'seed_0' / '3'
  flip_one_bit(latest)
  config = tiny_config(want['config']['data_dir'], arms=train.ARMS)
  got = tasks.train_and_evaluate(config, str(copy))
  assert (latest.parent / '3.damaged').is_dir()
  assert tasks.reproducible(got) == tasks.reproducible(want)


@pytest.mark.parametrize(
  'manifest,said',
  [
    # A save cut off between orbax's files and the manifest: not trusted.
    (None, 'it has no manifest'),
    ('not json', 'its manifest cannot be read'),
    ('[1, 2]', 'its manifest cannot be read'),
    ('', 'its manifest cannot be read'),
  ],
)
def test_a_checkpoint_without_a_readable_manifest_is_set_aside(
  uninterrupted, uninterrupted_copy, caplog, manifest, said
):
  _, want = uninterrupted
  latest = uninterrupted_copy / 'checkpoints' / 'adamw_plp' / 'seed_0' / '3'
  if manifest is None:
    (latest / checkpoints.MANIFEST).unlink()
  else:
    (latest / checkpoints.MANIFEST).write_text(manifest)
  config = tiny_config(want['config']['data_dir'], arms=train.ARMS)
  got = tasks.train_and_evaluate(config, str(uninterrupted_copy))
  assert (latest.parent / '3.damaged').is_dir()
  assert said in caplog.text
  assert tasks.reproducible(got) == tasks.reproducible(want)


@pytest.mark.parametrize('damage', ['[1, 2]', '{"runs": ', ''])
def test_a_damaged_results_file_is_rebuilt_with_a_warning(
  uninterrupted, uninterrupted_copy, caplog, damage
):
  _, want = uninterrupted
  copy = uninterrupted_copy
  (copy / 'results.json').write_text(damage)
  config = tiny_config(want['config']['data_dir'], arms=train.ARMS)
  got = tasks.train_and_evaluate(config, str(copy))
  assert 'cannot be read' in caplog.text and 'rebuilt from them' in caplog.text
  assert (copy / 'results.json.unreadable').read_text() == damage  # kept
  assert tasks.reproducible(got) == tasks.reproducible(want)
  assert json.loads((copy / 'results.json').read_text())['runs'] == json.loads(
    json.dumps(got['runs'])
  )


def test_an_unreadable_results_file_without_checkpoints_is_kept_aside(
  uninterrupted, tmp_path, caplog
):
  workdir, want = uninterrupted
  cut = (workdir / 'results.json').read_text()[:5000]  # a copy cut short
  (tmp_path / 'results.json').write_text(cut)
  (tmp_path / 'results.json.unreadable').write_text('an older one')
  config = tiny_config(want['config']['data_dir'], arms=train.ARMS)
  got = tasks.train_and_evaluate(config, str(tmp_path))
  assert (tmp_path / 'results.json.unreadable.2').read_text() == cut
  assert (tmp_path / 'results.json.unreadable').read_text() == 'an older one'
  assert 'kept as' in caplog.text and 'any others train again' in caplog.text
  assert tasks.reproducible(got) == tasks.reproducible(want)


@pytest.mark.parametrize(
  'split,content,message',
  [
    ('validation', b'caf\xe9', 'validation.txt is not UTF-8 text (byte 3'),
    ('train', b'', 'train.txt is empty: give the split its text'),
  ],
)
def test_a_corpus_file_that_cannot_be_read_is_named(
  corpus, tmp_path, split, content, message
):
  (corpus / f'{split}.txt').write_bytes(content)
  with pytest.raises(experiment.DataUnavailableError, match=re.escape(message)):
    tasks.train_and_evaluate(tiny_config(corpus), str(tmp_path / 'run'))


def test_a_context_longer_than_a_split_is_named(corpus, tmp_path):
  (corpus / 'test.txt').write_text('To be, or not to be')  # 19 characters
  with pytest.raises(experiment.DataUnavailableError) as error:
    tasks.train_and_evaluate(
      tiny_config(corpus, context=32), str(tmp_path / 'run')
    )
  assert str(error.value) == (
    'the test split has 19 characters, too few for a window of '
    'config.context = 32 and its target: give a context below 18, or a '
    'longer split.'
  )


def test_any_optax_transformation_trains_as_an_arm(corpus, tmp_path):
  from tests.support import user_arm

  arms = ('adamw', 'tests.support.user_arm:lion')
  results = tasks.train_and_evaluate(
    tiny_config(corpus, arms=arms), str(tmp_path)
  )
  lion = results['runs']['tests.support.user_arm:lion']['0']
  assert len(lion) == 3 and math.isfinite(lion[-1]['final_val_loss'])
  assert (
    lion[-1]['final_val_loss']
    != results['runs']['adamw']['0'][-1]['final_val_loss']
  )
  assert 'tests.support.user_arm:lion - adamw' in results['summary']
  assert callable(user_arm.lion)


def test_a_user_arm_is_evaluated_at_schedule_frees_averaged_params():
  params = {'w': jnp.ones(2)}
  tx = config_checks.user_arm_optimizer(
    'tests.support.user_arm:schedule_free', tiny_config('.')
  )
  state = tx.init(params)
  updates, state = tx.update({'w': jnp.ones(2)}, state, params)
  params = optax.apply_updates(params, updates)
  want = optax.contrib.schedule_free_eval_params(state, params)
  got = config_checks.user_arm_evaluation_params((state,), params)
  np.testing.assert_array_equal(got['w'], want['w'])
  assert (
    config_checks.user_arm_evaluation_params(optax.EmptyState(), params)
    is params
  )


@pytest.mark.parametrize(
  'arm,message',
  [
    ('tests.support.no_such_module:make', "the module 'tests.support.no_such"),
    ('tests.support.user_arm:nope', "has no function 'nope'"),
    ('tests.support.user_arm:not_a_transformation', 'returned float, not an'),
    ('tests.support.user_arm:fails_on_the_first_step',
     "its update fails on the first step (KeyError: 'no such parameter')"),
  ],
)  # fmt: skip
def test_a_bad_user_arm_ends_in_one_line_before_training(
  corpus, tmp_path, arm, message
):
  config = tiny_config(corpus, arms=('adamw', arm))
  with pytest.raises(config_checks.ConfigError) as error:
    tasks.train_and_evaluate(config, str(tmp_path))
  assert message in str(error.value) and '\n' not in str(error.value)
  assert not (tmp_path / 'results.json').exists()


def read_scalars(folder):
  """Tag -> [(step, value)] of the TensorBoard events in `folder`, in the
  order written (an event file: length, CRC, event, CRC, ...)."""
  import struct

  from tensorboardX.proto import event_pb2

  found = {}
  for path in sorted(folder.glob('events.out.tfevents.*')):
    data = path.read_bytes()
    while data:
      (length,) = struct.unpack('<Q', data[:8])
      event = event_pb2.Event.FromString(data[12 : 12 + length])
      data = data[16 + length :]
      for value in event.summary.value:
        found.setdefault(value.tag, []).append((event.step, value.simple_value))
  return found


def test_each_run_writes_its_records_to_tensorboard_as_it_trains(
  uninterrupted,
):
  workdir, results = uninterrupted
  for arm in train.ARMS:
    events = read_scalars(workdir / 'tensorboard' / arm / 'seed_0')
    records = results['runs'][arm]['0']
    steps = [r['step'] for r in records]
    for field in ('train_loss', 'val_loss', 'test_loss', 'tokens_per_second'):
      got = [(step, pytest.approx(v)) for step, v in events[field]]
      assert got == [(r['step'], r[field]) for r in records], (arm, field)
    assert [step for step, _ in events['learning_rate']] == steps
  rates = read_scalars(workdir / 'tensorboard' / 'adamw' / 'seed_0')
  config = results['config']
  assert rates['learning_rate'][0][1] == pytest.approx(
    float(train.learning_rate(tiny_config('.'))(steps[0]))
  )
  assert config['steps_per_epoch'] == steps[0]


def test_a_resumed_run_writes_no_step_twice(uninterrupted, uninterrupted_copy):
  import struct

  from tensorboardX.proto import event_pb2

  _, want = uninterrupted
  latest = uninterrupted_copy / 'checkpoints' / 'adamw' / 'seed_0' / '3'
  (latest / checkpoints.MANIFEST).unlink()  # set aside: epoch 3 trains again
  config = tiny_config(want['config']['data_dir'], arms=train.ARMS)
  tasks.train_and_evaluate(config, str(uninterrupted_copy))
  folder = uninterrupted_copy / 'tensorboard' / 'adamw' / 'seed_0'
  first, second = sorted(folder.glob('events.out.tfevents.*'))
  data, events = second.read_bytes(), []
  while data:
    (length,) = struct.unpack('<Q', data[:8])
    events.append(event_pb2.Event.FromString(data[12 : 12 + length]))
    data = data[16 + length :]
  # The second try tells TensorBoard to drop the first's events from step 9
  # (after epoch 2's record, at step 8) and writes epoch 3's at step 12.
  starts = [e.step for e in events if e.session_log.status == 1]  # START
  assert starts == [9]
  assert {e.step for e in events if e.summary.value} == {12}
  both = [step for step, _ in read_scalars(folder)['val_loss']]
  assert both == [4, 8, 12, 12]  # the first try's three, then the second's
  assert first.stat().st_size > 0


def test_the_log_names_an_interval_of_steps_not_an_epoch(
  corpus, tmp_path, caplog
):
  import logging

  caplog.set_level(logging.INFO)
  tasks.train_and_evaluate(tiny_config(corpus), str(tmp_path))
  assert 'adamw seed 0 interval 1/3: step 4: train loss' in caplog.text
  assert ' epoch 1/3' not in caplog.text
