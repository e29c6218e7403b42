"""End-to-end tests of the experiment runner on mock data (`tiny.py`)."""

import gc
import json
import os
import re
import signal
import subprocess
import sys
import threading

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from benchmarks import tasks
from benchmarks.cifar100 import error_report
from benchmarks.cifar100 import input_pipeline
from benchmarks.cifar100 import probe_report
from benchmarks.cifar100 import steps
from benchmarks.cifar100 import train
from benchmarks.cifar100 import train as cifar100_train
from benchmarks.cifar100 import trajectory
from benchmarks.cifar100.configs import tiny
from benchmarks.harness import checkpoints
from benchmarks.harness import config_checks
from benchmarks.harness import distributed
from benchmarks.harness import experiment
from benchmarks.reporting import plots
from tests.conftest import killed_at_call
from tests.conftest import mock_cifar

PROBED = 'trajectory'  # only in the arms without PLP


@pytest.fixture(autouse=True)
def mock_cifar100():
  with mock_cifar():
    yield


def test_a_run_writes_results_that_draw_curves_and_a_trajectory(
  uninterrupted, tmp_path
):
  workdir, results = uninterrupted
  with open(workdir / 'results.json') as file:
    assert json.load(file) == json.loads(json.dumps(results))
  assert not list(workdir.glob('*.png'))  # training draws nothing
  error_report.plot_curves(tmp_path, results)
  probe_report.plot_trajectory(tmp_path, results)
  assert (tmp_path / 'curves.png').stat().st_size > 10_000
  assert (tmp_path / 'trajectory.png').stat().st_size > 10_000
  assert set(results['runs']) == {'sgd', 'plp'}
  for seeds in results['runs'].values():
    history = seeds['0']
    assert [r['epoch'] for r in history] == [1, 2, 3]
    for record in history:
      reproduced = cifar100_train.REPRODUCIBLE
      assert set(record) | {PROBED} == set(reproduced) | {
        'images_per_second',
        'wall_seconds',
      }
      assert 0 <= record['top5_error'] <= record['top1_error'] <= 1
  # Only the arm without PLP follows plain training's path.
  # tiny.py asks for 4 probes in 4-step epochs; one fits in each.
  assert [len(r[PROBED]) for r in results['runs']['sgd']['0']] == [1, 1, 1]
  assert not any(PROBED in r for r in results['runs']['plp']['0'])
  summary = results['summary']
  assert summary['plp']['final_top1_error']['n'] == 1
  difference = summary['plp - sgd']['final_top1_error']
  assert difference['mean'] == pytest.approx(
    summary['plp']['final_top1_error']['mean']
    - summary['sgd']['final_top1_error']['mean']
  )
  table = error_report.format_table(results)
  assert 'plp - sgd' in table and 'final top-1' in table


def test_arms_share_initialisation_and_data_order(uninterrupted, tmp_path):
  _, results = uninterrupted
  # PLP changes nothing before its first prediction (the third step), and an
  # epoch of tiny.py has four steps, so epoch 1 differs only after step 3.
  sgd, plp = results['runs']['sgd']['0'], results['runs']['plp']['0']
  assert sgd[0]['train_loss'] != plp[0]['train_loss']
  first_steps = {}
  for arm in ('sgd', 'plp'):
    config = tiny.get_config()
    config.arms = (arm,)
    config.epochs = 1
    config.train_limit = 16  # two steps: no prediction yet
    first_steps[arm] = tasks.train_and_evaluate(config, str(tmp_path / arm))[
      'runs'
    ][arm]['0'][0]
  assert first_steps['sgd']['train_loss'] == first_steps['plp']['train_loss']
  assert first_steps['sgd']['test_loss'] == first_steps['plp']['test_loss']


# The ignored exception is what this test makes happen.
@pytest.mark.filterwarnings('ignore::pytest.PytestUnraisableExceptionWarning')
def test_a_stop_whose_raise_was_lost_stops_at_the_epochs_end(
  tmp_path, monkeypatch
):
  # A signal that comes while a garbage collector's callback runs (JAX has
  # one): Python ignores the exception the handler raises there.
  monkeypatch.setattr(experiment, 'STOPS_ASKED', [])

  def stop_lost_in_a_callback(phase, info):
    del phase, info
    gc.callbacks.remove(stop_lost_in_a_callback)
    experiment.stop_on(signal.SIGTERM, None)

  gc.callbacks.append(stop_lost_in_a_callback)
  gc.collect()  # "Exception ignored in ...", and training would go on
  assert experiment.STOPS_ASKED == ['SIGTERM']
  with pytest.raises(experiment.Stopped, match='SIGTERM'):
    tasks.train_and_evaluate(tiny.get_config(), str(tmp_path))
  # It stopped at the end of the first epoch, that epoch saved.
  partial = json.loads((tmp_path / 'results.json').read_text())
  assert len(partial['runs']['sgd']['0']) == 1
  assert not partial['runs']['plp']  # the next arm never started
  assert checkpoints.latest_epoch(str(tmp_path), 'sgd', 0) == 1


def test_a_killed_run_resumes_to_the_same_result(
  uninterrupted, tmp_path, monkeypatch
):
  _, want = uninterrupted
  real_train_epoch = steps.train_epoch
  monkeypatch.setattr(
    steps, 'train_epoch', killed_at_call(real_train_epoch, 3)
  )  # in epoch three
  with pytest.raises(KeyboardInterrupt):
    tasks.train_and_evaluate(tiny.get_config(), str(tmp_path))
  partial = json.loads((tmp_path / 'results.json').read_text())
  assert len(partial['runs']['sgd']['0']) == 2
  monkeypatch.setattr(steps, 'train_epoch', real_train_epoch)
  got = tasks.train_and_evaluate(tiny.get_config(), str(tmp_path))
  assert tasks.reproducible(got) == tasks.reproducible(want)


def test_two_devices_match_four(tmp_path):
  # The same steps, only summed across devices in another order. At tiny.py's
  # rate (0.1) twelve steps on batches of 8 amplify that rounding about tenfold
  # an epoch, to about 1e-3 by the third (how far depends on how XLA compiled
  # them); at 0.01 the runs part by less than 4e-5.
  runs = {}
  for devices in (4, 2):
    config = tiny.get_config()
    config.learning_rate = 0.01
    config.num_devices = devices
    workdir = tmp_path / f'{devices}_devices'
    runs[devices] = tasks.train_and_evaluate(config, str(workdir))
  for arm in ('sgd', 'plp'):
    for key in ('train_loss', 'test_loss'):
      np.testing.assert_allclose(
        [r[key] for r in runs[2]['runs'][arm]['0']],
        [r[key] for r in runs[4]['runs'][arm]['0']],
        rtol=1e-3,
        err_msg=f'{arm} {key}',
      )


def stepwise_errors_one_step_after(config, arm, epochs):
  """Errors after `epochs` epochs and one step more, trained step by step."""
  mesh = distributed.data_mesh(jax.devices()[:1])
  data = train.load_data(config, mesh)
  sizes = data.sizes
  model, optimizer = train.model_and_optimizer(
    config, arm, 0, sizes['steps_per_epoch'], mesh
  )
  for epoch in range(1, epochs + 2):
    order = steps.epoch_order(
      0, epoch, sizes['train_examples'], config.batch_size
    )
    key = jax.random.fold_in(jax.random.key(0), epoch)
    order = order if epoch <= epochs else order[:1]
    steps.train_epoch_stepwise(
      model, optimizer, data.train, order, key, data.batch_sharding, False,
      trajectory.Probe(0, len(order), 0),
    )  # fmt: skip
  return train.evaluation_record(model, data, config)


def test_one_step_later_is_the_next_step_and_changes_no_run(
  uninterrupted, tmp_path
):
  _, plain = uninterrupted
  config = tiny.get_config()
  config.epochs = 2
  config.train_limit = 24  # 3 steps an epoch: each ends on a PLP jump
  config.num_devices = 1
  plain_2 = tasks.train_and_evaluate(config, str(tmp_path / 'plain'))
  config.evaluate_one_step_later = True
  got = tasks.train_and_evaluate(config, str(tmp_path / 'later'))
  assert tasks.reproducible(got) == tasks.reproducible(plain_2)
  for arm in ('sgd', 'plp'):
    first = got['runs'][arm]['0'][0]
    want = stepwise_errors_one_step_after(config, arm, epochs=1)
    later = first['one_step_later']
    assert set(later) == {'test_loss', 'top1_error', 'top5_error'}
    assert later == pytest.approx(want, rel=1e-5), arm
    assert later['test_loss'] != first['test_loss']
  assert plain['runs']['sgd']['0'][0].get('one_step_later') is None


def test_batch_norm_recalibration_is_a_measurement_that_changes_no_run(
  uninterrupted, tmp_path
):
  _, plain = uninterrupted
  config = tiny.get_config()
  config.batch_norm_recalibration_batches = 2
  got = tasks.train_and_evaluate(config, str(tmp_path))
  assert tasks.reproducible(got) == tasks.reproducible(plain)
  for arm in ('sgd', 'plp'):
    for record in got['runs'][arm]['0']:
      recalibrated = record['batch_norm_recalibrated']
      assert set(recalibrated) == {'test_loss', 'top1_error', 'top5_error'}
      assert recalibrated['test_loss'] != record['test_loss']
  # What it measures: the evaluation of the run's model recalibrated on the
  # seed's first two batches of epoch 0's shuffle (checked on the last epoch,
  # whose model the checkpoint holds).
  mesh = distributed.data_mesh(
    jax.devices()[: config_checks.num_devices(config)]
  )
  data = train.load_data(config, mesh)
  run, _ = train.start_run(config, 'plp', 0, 4, mesh, str(tmp_path))
  run.manager.close()
  order = steps.epoch_order(0, 0, data.sizes['train_examples'], 8)[:2]
  model = steps.recalibrated_batch_norm(
    run.model, data.train, order, jax.random.fold_in(jax.random.key(0), 0),
    data.batch_sharding,
  )  # fmt: skip
  last = got['runs']['plp']['0'][-1]['batch_norm_recalibrated']
  assert train.evaluation_record(model, data, config) == pytest.approx(
    last, rel=1e-5
  )
  assert plain['runs']['sgd']['0'][0].get('batch_norm_recalibrated') is None


@pytest.mark.parametrize(
  'field,value,message',
  [
    ('model', 'ResNet50', "config.model is 'ResNet50'; allowed: ['GoogLeNet'"),
    ('arms', ('sgd', 'lion'), "config.arms is ('sgd', 'lion'); allowed"),
    ('epochs', 0, 'config.epochs is 0; allowed: an int >= 1'),
    ('lr_milestones', (0.8, 0.3), 'config.lr_milestones'),
    ('batch_size', 7, 'config.batch_size is 7; allowed: a multiple of the'),
    ('compute_dtype', 'float16', "config.compute_dtype is 'float16'"),
    ('trajectory_probes', -1, 'config.trajectory_probes is -1; allowed: an'),
    (
      'batch_norm_recalibration_batches',
      -1,
      'config.batch_norm_recalibration_batches is -1; allowed: an int >= 0',
    ),
    ('validation_fraction', 0.6, 'config.validation_fraction is 0.6; allowed'),
    ('validation_fraction', -0.1, 'config.validation_fraction is -0.1'),
    ('lr_schedule', 'cosine', "config.lr_schedule is 'cosine'; allowed"),
    ('cycle_steps_up', 0, 'config.cycle_steps_up is 0; allowed: an int'),
    ('max_learning_rate', 0.01, 'config.max_learning_rate is 0.01; allowed'),
  ],
)
def test_bad_config_fails_before_training(field, value, message, tmp_path):
  config = tiny.get_config()
  config.num_devices = 2
  config.lr_schedule = 'cyclic' if field != 'lr_schedule' else value
  config[field] = value
  with pytest.raises(config_checks.ConfigError, match=re.escape(message)):
    tasks.train_and_evaluate(config, str(tmp_path))
  assert not (tmp_path / 'checkpoints').exists()


def test_bad_plp_argument_names_the_field(tmp_path):
  config = tiny.get_config()
  config.prediction.every = 2
  with pytest.raises(
    config_checks.ConfigError, match='config.prediction: `every` must be'
  ):
    tasks.train_and_evaluate(config, str(tmp_path))


def test_missing_dataset_says_what_to_do(tmp_path, monkeypatch):
  monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path))
  with tfds.testing.mock_data(policy=tfds.testing.MockPolicy.USE_FILES):
    with pytest.raises(
      input_pipeline.DatasetUnavailableError, match='set TFDS_DATA_DIR'
    ):
      input_pipeline.load_split('test', download=False)


def test_corrupt_checkpoint_is_reported_and_older_ones_kept(uninterrupted_copy):
  copy = uninterrupted_copy
  latest = copy / 'checkpoints' / 'sgd' / 'seed_0' / '3'
  for root, _, files in os.walk(latest / 'state'):
    for name in files:
      with open(os.path.join(root, name), 'wb') as file:
        file.write(b'garbage')
  # Its manifest matching the garbage (as if orbax had written it): the damage
  # is found only when orbax reads it (a step whose files differ from its
  # manifest, or that has none, is set aside instead).
  checkpoints.write_manifest(str(latest))
  config = tiny.get_config()
  config.epochs = 4
  with pytest.raises(
    checkpoints.CheckpointError, match='Older checkpoints kept'
  ):
    tasks.train_and_evaluate(config, str(copy))
  assert (copy / 'checkpoints' / 'sgd' / 'seed_0' / '2').exists()


def test_checkpoint_of_another_config_is_refused(uninterrupted_copy):
  copy = uninterrupted_copy
  config = tiny.get_config()
  config.learning_rate = 0.05
  with pytest.raises(checkpoints.CheckpointError, match="'learning_rate'"):
    tasks.train_and_evaluate(config, str(copy))


def test_a_checkpoint_older_than_a_field_resumes_at_its_old_value(
  uninterrupted, uninterrupted_copy
):
  _, want = uninterrupted
  copy = uninterrupted_copy
  for field in cifar100_train.RESUME_FIELDS.added_since:
    for saved in copy.glob('checkpoints/*/seed_0/*/config/metadata'):
      config = json.loads(saved.read_text())
      del config[field]
      saved.write_text(json.dumps(config))
  # Every epoch is checkpointed, so these resume without training a step.
  got = tasks.train_and_evaluate(tiny.get_config(), str(copy))
  assert tasks.reproducible(got) == tasks.reproducible(want)
  config = tiny.get_config()
  config.batch_norm_fast_variance = False
  with pytest.raises(
    checkpoints.CheckpointError, match="'batch_norm_fast_variance'"
  ):
    tasks.train_and_evaluate(config, str(copy))


def test_non_finite_loss_stops_naming_arm_and_epoch(tmp_path):
  config = tiny.get_config()
  config.learning_rate = 1e30
  with pytest.raises(experiment.NonFiniteLossError, match="arm 'sgd', seed 0"):
    tasks.train_and_evaluate(config, str(tmp_path))
  assert (tmp_path / 'results.json').exists()


def test_a_diverged_run_is_recorded_and_the_next_one_trains(tmp_path):
  config = tiny.get_config()
  config.on_divergence = 'record'
  config.learning_rate = 1e30  # sgd and plp both diverge in their 1st epoch
  config.seeds = (0, 1)
  with mock_cifar():
    results = tasks.train_and_evaluate(config, str(tmp_path))
  for arm in ('sgd', 'plp'):
    for seed in ('0', '1'):
      assert results['runs'][arm][seed] == [{'epoch': 1, 'diverged': True}]
  assert results['summary'] == {}  # a diverged run never finishes
  bad = tiny.get_config()
  bad.on_divergence = 'ignore'
  with pytest.raises(config_checks.ConfigError, match='on_divergence'):
    train.validate_config(bad)


def test_main_applies_overrides_and_reports_errors(tmp_path):
  # A real command line: ml_collections reads the overrides from sys.argv.
  command = [
    sys.executable,
    '-m',
    'benchmarks.main',
    '--config=benchmarks/cifar100/configs/tiny.py',
    f'--workdir={tmp_path}',
    '--config.model=AlexNet',
  ]
  done = subprocess.run(command, capture_output=True, text=True, check=False)
  assert done.returncode == 1
  assert "error: config.model is 'AlexNet'" in done.stderr


def test_validation_split_is_seeded_disjoint_and_complete():
  images = np.arange(50 * 2, dtype=np.uint8).reshape(50, 1, 1, 2)
  split = input_pipeline.Split(images, np.arange(50, dtype=np.int32))
  train_part, held_out = input_pipeline.split_validation(split, 0.2, seed=7)
  assert (len(train_part), len(held_out)) == (40, 10)
  labels = np.concatenate([train_part.labels, held_out.labels])
  np.testing.assert_array_equal(np.sort(labels), split.labels)
  again = input_pipeline.split_validation(split, 0.2, seed=7)[1]
  other = input_pipeline.split_validation(split, 0.2, seed=8)[1]
  np.testing.assert_array_equal(again.labels, held_out.labels)
  assert set(other.labels) != set(held_out.labels)
  np.testing.assert_array_equal(
    held_out.images[:, 0, 0, 0] // 2, held_out.labels
  )
  assert input_pipeline.split_validation(split, 0.0, seed=7) == (split, None)


def test_validation_images_are_never_trained_on(validated):
  results, trained_on, everything = validated
  assert results['data'] == {
    'train_examples': 24,
    'validation_examples': 8,
    'test_examples': 20,
    'steps_per_epoch': 3,
  }
  _, held_out = input_pipeline.split_validation(everything, 0.25, seed=0)
  held_out_images = {image.tobytes() for image in held_out.images}
  seen = {image.tobytes() for batch in trained_on for image in batch}
  assert len(held_out_images) == 8 and len(seen) == 24
  assert not seen & held_out_images
  # 4 arms x 3 epochs, and every arm of the seed sees the same batches.
  assert len(trained_on) == 12
  for arm in range(1, 4):
    for epoch in range(3):
      np.testing.assert_array_equal(
        trained_on[3 * arm + epoch], trained_on[epoch]
      )


def test_the_selected_epoch_has_the_lowest_validation_error(validated):
  results, _, _ = validated
  for arm, seeds in results['runs'].items():
    records = seeds['0']
    assert all(
      {'val_loss', 'val_top1_error', 'val_top5_error'} <= set(r)
      for r in records
    )
    errors = [r['val_top1_error'] for r in records]
    epoch = errors.index(min(errors)) + 1
    entry = results['summary'][arm]
    assert entry['selected_epoch']['per_seed'] == [epoch]
    for metric in ('top1_error', 'top5_error'):
      assert entry[f'selected_{metric}']['mean'] == records[epoch - 1][metric]
  for pair in (
    'plp - sgd',
    'demon - sgd',
    'sgd_matched - sgd',
    'plp - sgd_matched',
  ):
    assert 'selected_top1_error' in results['summary'][pair]
  table = error_report.format_table(results)
  assert 'selected top-1' in table and 'plp - sgd_matched' in table


# The training fields every checkpoint made before the fields added since held:
# frozen here, so that a new field cannot silently stop old checkpoints from
# resuming (their saved config would lack it, and a resume compares them).
TRAINING_FIELDS_OF_THE_FIRST_CHECKPOINTS = {
  'adamw_learning_rate', 'adamw_weight_decay', 'base_momentum', 'batch_size',
  'compute_dtype', 'cycle_momentum', 'cycle_steps_up', 'dataset', 'epochs',
  'eval_batch_size', 'learning_rate', 'lr_decay', 'lr_milestones',
  'lr_schedule', 'max_learning_rate', 'model', 'momentum', 'nesterov',
  'prediction', 'test_limit', 'test_split', 'train_limit', 'train_split',
  'validation_fraction', 'validation_seed', 'warmup_epochs', 'weight_decay',
  'width',
}  # fmt: skip


def test_a_new_config_field_is_free_on_resume_or_added_with_its_old_value():
  resume_fields = cifar100_train.RESUME_FIELDS
  fields = set(checkpoints.training_fields(tiny.get_config(), resume_fields))
  added = fields - TRAINING_FIELDS_OF_THE_FIRST_CHECKPOINTS
  unregistered = added - set(resume_fields.added_since)
  assert not unregistered, (
    f'{sorted(unregistered)}: a field that changes what a run computes goes '
    'in cifar100_train.RESUME_FIELDS.added_since with the value every '
    'earlier checkpoint was made with; one that does not, in its free.'
  )


def test_a_stop_takes_effect_while_the_device_computes():
  # A long computation (a long context, every window evaluated) kept a stop
  # waiting for minutes: Python runs a signal's handler only between its own
  # steps. `fetched` waits in short sleeps, so the stop comes at once.

  polled = threading.Event()

  class NeverReady:
    """A computation that does not end while the test runs."""

    def is_ready(self):
      polled.set()
      return False

  def stop_once_waiting():
    polled.wait()
    os.kill(os.getpid(), signal.SIGTERM)

  previous = signal.signal(signal.SIGTERM, experiment.stop_on)
  threading.Thread(target=stop_once_waiting, daemon=True).start()
  try:
    with pytest.raises(experiment.Stopped, match='SIGTERM'):
      experiment.fetched(NeverReady())
  finally:
    signal.signal(signal.SIGTERM, previous)
    experiment.STOPS_ASKED.clear()


def test_the_log_keeps_a_librarys_warning_in_one_line_and_drops_orbaxs_wait():
  import logging as std_logging

  def record(message, level=std_logging.WARNING, exc_info=None):
    return std_logging.LogRecord(
      'orbax', level, '/site-packages/orbax/x.py', 1, message, (), exc_info
    )

  try:
    raise OSError('No space left on device')
  except OSError:
    failed = record('Save failed\nmore', std_logging.ERROR, sys.exc_info())
  assert experiment.is_harness_log_or_warning(failed)
  assert failed.msg == 'Save failed' and failed.exc_info is None
  waited = record('Waiting for previous save to complete took 3.1 seconds.')
  assert not experiment.is_harness_log_or_warning(waited)
  assert not experiment.is_harness_log_or_warning(
    record('a step', std_logging.INFO)
  )


def test_a_librarys_message_with_arguments_is_cut_after_formatting():
  # Cut before formatting, a two-line format string would lose a placeholder
  # but keep its argument: "not all arguments converted" where it is shown.
  import logging as std_logging

  record = std_logging.LogRecord(
    'tfds', std_logging.WARNING, '/site-packages/tfds/x.py', 1,
    'Loaded %s\nfrom %s', ('mock', 'somewhere'), None,
  )  # fmt: skip
  assert experiment.is_harness_log_or_warning(record)
  assert record.getMessage() == 'Loaded mock'


def test_a_threads_or_finalizers_error_is_logged_in_one_line(monkeypatch):
  # Orbax's threads may fail while a run that could not save ends: their
  # tracebacks bypass logging, so the hooks log them, in one line each.
  logged = []
  monkeypatch.setattr(
    experiment.logging, 'error', lambda text, *args: logged.append(text % args)
  )
  monkeypatch.setattr(threading, 'excepthook', experiment.log_thread_error)
  monkeypatch.setattr(sys, 'unraisablehook', experiment.log_unraisable_error)

  def fail():
    raise RuntimeError('Event loop is closed\nsecond line')

  thread = threading.Thread(target=fail, name='saver')
  thread.start()
  thread.join()

  class Finalizer:
    def __del__(self):
      raise OSError('No space left on device')

  Finalizer()  # collected at once: its error goes to sys.unraisablehook
  thread_line, finalizer_line = logged
  assert thread_line == 'saver ended with RuntimeError: Event loop is closed'
  assert finalizer_line.startswith('Exception ignored in ')
  assert finalizer_line.endswith(
    'Finalizer.__del__: OSError: No space left on device'
  )


def test_the_curves_train_loss_axis_reads_plain_numbers(
  uninterrupted, tmp_path, monkeypatch
):
  _, results = uninterrupted
  drawn = []
  monkeypatch.setattr(
    error_report, 'save_figure', lambda figure, *_: drawn.append(figure)
  )
  error_report.plot_curves(tmp_path, results)
  (figure,) = drawn
  figure.canvas.draw()
  loss_axis = figure.axes[1]
  labels = [
    label.get_text()
    for label in loss_axis.get_yticklabels(minor=True)
    + loss_axis.get_yticklabels()
    if label.get_text()
  ]
  assert labels, 'the log axis shows no numbers'
  assert not [label for label in labels if 'times' in label or '^' in label]
  plots.pyplot().close(figure)


def test_the_curves_title_says_one_seed_or_the_range_over_seeds():
  one = {'runs': {'sgd': {'0': []}, 'plp': {'0': []}}}
  three = {'runs': {'sgd': {'0': [], '1': [], '2': []}, 'plp': {'0': []}}}
  assert plots.over_seeds(one) == 'one seed'
  assert plots.over_seeds(three) == 'mean and range over 3 seeds'
