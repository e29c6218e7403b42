"""Nothing lost, nothing silently wrong: one process per workdir, results that
never shrink, and every expected failure of a run in a line or two.

Each case runs the real command (`tests.support.mock_main`, main.py on mock
data) as a subprocess and waits for events (a lock file's holder, a log line,
an exit), never for a guessed moment.
"""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import textwrap

from absl import flags
import pytest

from benchmarks import main
from benchmarks import tasks
from benchmarks.cifar100 import input_pipeline
from benchmarks.cifar100.configs import tiny
from benchmarks.harness import checkpoints
from benchmarks.harness import config_checks
from benchmarks.harness import launcher
from benchmarks.studies import __main__ as runner
from benchmarks.tools.faults import fault_soak
from tests.conftest import mock_cifar
from tests.support.processes import TIMEOUT
from tests.support.processes import finish
from tests.support.processes import lock_holder
from tests.support.processes import short_error
from tests.support.processes import start
from tests.support.processes import wait_until_locked

# Their processes read the mock data's compact copy (tests/conftest.py).
pytestmark = pytest.mark.usefixtures('processes_read_mock_arrays')


def test_two_simultaneous_runs_one_workdir_one_is_refused(
  uninterrupted, tmp_path
):
  _, alone = uninterrupted
  first, second = start(tmp_path), start(tmp_path)
  ended = [finish(first), finish(second)]
  codes = sorted(code for code, _ in ended)
  assert codes == [0, 1], ended
  refused = next(stderr for code, stderr in ended if code == 1)
  assert 'is in use by process' in refused.splitlines()[-1]
  assert fault_soak.reproducible_results(tmp_path) == tasks.reproducible(alone)
  assert not fault_soak.partial_saves(tmp_path)
  assert lock_holder(tmp_path) == ''  # released at a clean end


def test_a_run_started_later_is_refused_naming_the_holder(
  uninterrupted, tmp_path
):
  _, alone = uninterrupted
  first = start(tmp_path)
  wait_until_locked(first, tmp_path)
  code, stderr = finish(start(tmp_path))
  assert code == 1
  (line,) = stderr.strip().splitlines()[-1:]
  assert line.startswith(f'error: the workdir {tmp_path} is in use by process')
  assert f'process {first.pid} ' in line and 'another --workdir' in line
  assert finish(first)[0] == 0
  assert fault_soak.reproducible_results(tmp_path) == tasks.reproducible(alone)


def test_the_lock_of_a_killed_run_is_taken_over(uninterrupted, tmp_path):
  _, alone = uninterrupted
  first = start(tmp_path)
  wait_until_locked(first, tmp_path)
  first.send_signal(signal.SIGKILL)
  first.wait(timeout=TIMEOUT)
  code, stderr = finish(start(tmp_path))
  assert code == 0, stderr[-2000:]
  assert f'Took over the lock of {tmp_path}: process {first.pid} ' in stderr
  assert fault_soak.reproducible_results(tmp_path) == tasks.reproducible(alone)


STUDY_WORKER = textwrap.dedent("""
  import sys
  from benchmarks import studies
  from benchmarks.cifar100.configs import tiny
  from benchmarks.harness import launcher
  from benchmarks.studies import engine
  from tests.conftest import process_data

  def base_config():
    config = tiny.get_config()
    config.epochs = 1
    return config

  study = studies.Study(
    name='two_workers', base_config=base_config, sections=(),
    jobs={'a': {'seeds': (0, 1)}},
  )
  with process_data():
    runs = studies.planned_runs(study)
    launcher.launch(lambda: engine.run_inline(runs, sys.argv[1]))
""")


def test_a_study_worker_skips_a_run_another_worker_holds(tmp_path):
  held = studies_run_directory(tmp_path, 'a', 0)
  holder = subprocess.Popen(
    [sys.executable, '-c', HOLD_LOCK, str(held)],
    stdout=subprocess.PIPE, text=True,
  )  # fmt: skip
  assert holder.stdout.readline().strip() == 'locked'
  worker = subprocess.run(
    [sys.executable, '-c', STUDY_WORKER, str(tmp_path)],
    capture_output=True, text=True, timeout=TIMEOUT, check=False,
  )  # fmt: skip
  holder.kill()
  holder.wait(timeout=TIMEOUT)
  assert worker.returncode == 0, worker.stderr[-2000:]
  assert 'a seed 0 skipped: the workdir' in worker.stderr
  assert not (held / 'results.json').exists()  # the holder's, untouched
  other = studies_run_directory(tmp_path, 'a', 1)
  assert json.loads((other / 'results.json').read_text())['runs']['sgd']['1']


HOLD_LOCK = textwrap.dedent("""
  import sys, time
  from benchmarks.harness import workdir_lock
  with workdir_lock.held(sys.argv[1]):
    print('locked', flush=True)
    time.sleep(3600)
""")


def studies_run_directory(root, job, seed):
  from benchmarks import studies

  return pathlib.Path(studies.run_directory(str(root), job, seed))


def test_a_rerun_with_fewer_arms_is_refused_and_keeps_every_record(
  uninterrupted, tmp_path
):
  source, _ = uninterrupted
  shutil.copytree(source, tmp_path, dirs_exist_ok=True)
  before = (tmp_path / 'results.json').read_bytes()
  config = tiny.get_config()
  config.arms = ('plp',)
  from benchmarks import tasks

  with mock_cifar():
    with pytest.raises(config_checks.ConfigError, match=r'\(sgd seed 0\)'):
      tasks.train_and_evaluate(config, str(tmp_path))
    config.arms = ('sgd', 'plp')
    config.seeds = (1,)
    with pytest.raises(
      config_checks.ConfigError, match='plp seed 0, sgd seed 0'
    ):
      tasks.train_and_evaluate(config, str(tmp_path))
  assert (tmp_path / 'results.json').read_bytes() == before


@pytest.mark.parametrize(
  'flags,expected',
  [
    (('--config.nope=1',), "error: the config has no field 'nope'"),
    (('--config.epoch=2',), "field 'epoch' (overrides given: "
     '--config.epoch). Did you mean "epochs" instead of "epoch"?'),
    (('--config.epochs=0',), 'error: config.epochs is 0'),
    (('--config.test_limit=0',), 'error: config.test_limit is 0'),
    (('--config.seeds=(-1,)',), 'error: config.seeds is (-1,); allowed: '),
    (("--config.seeds=('a',)",), "error: config.seeds is ('a',); allowed: "),
    (('--config.seeds=(4294967296,)',), 'in [0, 2**32)'),
  ],
)  # fmt: skip
def test_a_bad_config_field_ends_in_one_line(tmp_path, flags, expected):
  code, stderr = finish(start(tmp_path / 'run', *flags))
  assert code == 1 and expected in short_error(stderr)
  assert len(stderr.strip().splitlines()) <= 2, stderr
  assert not (tmp_path / 'run').exists()


def test_a_validation_fraction_that_holds_out_nothing_is_refused(tmp_path):
  code, stderr = finish(
    start(tmp_path / 'run', '--config.validation_fraction=0.01')
  )
  assert code == 1
  assert short_error(stderr).startswith(
    'error: config.validation_fraction is 0.01, which holds out none of the '
  )
  assert not (tmp_path / 'run' / 'results.json').exists()


def test_a_workdir_that_is_a_file_ends_in_one_line(tmp_path):
  workdir = tmp_path / 'results'
  workdir.write_text('kept')
  code, stderr = finish(start(workdir))
  assert code == 1
  assert 'is a file; give a directory' in short_error(stderr)
  assert workdir.read_text() == 'kept'


def read_only_directory(tmp_path):
  """A directory this process cannot write to (as root: a sysfs one)."""
  if os.geteuid() == 0:
    if not os.path.isdir('/sys/kernel'):
      pytest.skip('root, and no read-only directory to try')
    return pathlib.Path('/sys/kernel')
  directory = tmp_path / 'read_only'
  directory.mkdir()
  directory.chmod(0o555)
  return directory


def test_a_read_only_workdir_ends_in_one_line(tmp_path):
  code, stderr = finish(start(read_only_directory(tmp_path)))
  assert code == 1
  assert 'cannot write to the workdir' in short_error(stderr)


def test_missing_data_ends_in_one_line(tmp_path):
  command = fault_soak.command(tmp_path / 'run')  # main.py: real TFDS
  environment = {**os.environ, 'TFDS_DATA_DIR': str(tmp_path / 'no_data')}
  environment.pop(input_pipeline.ENVIRONMENT_VARIABLE)  # no compact copy
  done = subprocess.run(
    command, env=environment, capture_output=True, text=True,
    timeout=TIMEOUT, check=False,
  )  # fmt: skip
  assert done.returncode == 1
  assert 'TFDS_DATA_DIR' in short_error(done.stderr)


@pytest.fixture
def small_disk(tmp_path):
  """A small tmpfs, for a run that fills it (tests.support.full_disk_main)."""
  disk = tmp_path / 'disk'
  disk.mkdir()
  mounted = subprocess.run(
    ['mount', '-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', str(disk)],
    capture_output=True, check=False,
  )  # fmt: skip
  if mounted.returncode:
    pytest.skip('mounting a small tmpfs needs root')
  yield disk
  subprocess.run(['umount', str(disk)], check=True)


def test_a_full_disk_during_a_save_ends_in_a_line_and_loses_nothing(
  small_disk,
):
  # The disk fills just before epoch 2's save, in the process itself, so the
  # point of failure does not hang on how much orbax writes on this machine.
  workdir = small_disk / 'run'
  code, stderr = finish(
    start(
      workdir,
      "--config.arms=('sgd',)",
      launcher='tests.support.full_disk_main',
    )  # fmt: skip
  )
  assert code == 1
  line = short_error(stderr)
  assert line.startswith('error: Cannot save the checkpoint of epoch 2')
  assert 'No space left on device' in line and 'rerun the same command' in line
  assert len(stderr.strip().splitlines()[-1]) == len(line)  # the last line
  # Orbax's threads each log the failure: one line each, not ~300 lines of
  # their tracebacks before the line that says what to do.
  orbax = [
    text for text in stderr.splitlines()
    if text.startswith('E') or '  File ' in text
  ]  # fmt: skip
  assert 0 < len(orbax) < 20 and not any('  File ' in t for t in orbax)
  checkpoints = workdir / 'checkpoints' / 'sgd' / 'seed_0'
  assert (checkpoints / '1').is_dir()  # the epoch before it is kept
  results = json.loads((workdir / 'results.json').read_text())
  assert [r['epoch'] for r in results['runs']['sgd']['0']] == [1]


def test_a_corrupt_checkpoint_ends_in_a_line_and_deletes_nothing(
  uninterrupted, tmp_path
):
  source, _ = uninterrupted
  shutil.copytree(source, tmp_path, dirs_exist_ok=True)
  latest = tmp_path / 'checkpoints' / 'sgd' / 'seed_0' / '3'
  for path in (latest / 'state').rglob('*'):
    if path.is_file():
      path.write_bytes(b'garbage')
  # With a manifest that matches the garbage (as if orbax had written it),
  # the damage is found only when orbax reads it.
  checkpoints.write_manifest(str(latest))
  before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob('*'))
  code, stderr = finish(start(tmp_path, '--config.epochs=4'))
  assert code == 1
  line = short_error(stderr)
  assert line.startswith(f'error: Cannot restore the checkpoint {latest}')
  assert 'Older checkpoints kept: [2]' in line
  after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob('*'))
  assert after == before


@pytest.mark.parametrize(
  'arguments,expected',
  [
    (['--jobs', 'nope'], "error: jobs ['nope'] are not in the study"),
    (['--process_id=1'], 'error: --process_id given without --distributed'),
  ],
)
def test_the_study_runner_ends_an_expected_error_in_one_line(
  tmp_path, arguments, expected
):
  done = subprocess.run(
    [sys.executable, '-m', 'benchmarks.studies', 'run', 'lr_sweep',
     str(tmp_path), *arguments],
    capture_output=True, text=True, timeout=TIMEOUT, check=False,
  )  # fmt: skip
  assert done.returncode == 1
  assert short_error(done.stderr).startswith(expected)


def test_both_commands_take_the_same_process_options():
  assert main.launcher is launcher  # main's flags are defined on import
  assert set(runner.OPTIONS['run']) >= set(launcher.PROCESS_OPTIONS)
  for name, (_, default, _) in launcher.PROCESS_OPTIONS.items():
    holder = runner._PROCESS[name]  # pylint: disable=protected-access
    assert holder.default == default == flags.FLAGS[name].default, name
    assert main._PROCESS_OPTIONS[name].name == holder.name  # pylint: disable=protected-access


@pytest.mark.parametrize(
  'arguments,expected',
  [
    (['--workdir=W'], 'error: give --config (--help: the options)'),
    (['--config=nope.py', '--workdir=W'], 'error: Configuration is not '
     'available because of an earlier failure to load: Failed loading '
     "config file config_config Attempted [Relative path]: nope.py [Errno 2] "
     "No such file or directory: 'nope.py'"),
    (['--config=C', '--workdir=W', '--num_processes=x'],
     "error: flag --num_processes=x: invalid literal for int() with base 10: "
     "'x' (--help: the options)"),
    (['--nope=1'], "error: Unknown command line flag 'nope' (--help: the "
     'options)'),
  ],
)  # fmt: skip
def test_main_ends_a_bad_or_missing_flag_in_one_line(arguments, expected):
  try:
    with pytest.raises(SystemExit) as ended:
      main.parse_flags(['main', *arguments])
  finally:
    launcher.unparse_flags()
  assert ended.value.code == expected


def test_a_holders_description_gives_its_process_and_host():
  from benchmarks.harness import workdir_lock

  text = 'process 42 on node-1 since 2026-12-07T22:00:00 (python -m x)'
  assert workdir_lock.holder_process(text) == (42, 'node-1')
  for other in ('', 'process x on h since t', 'job 42 on h since t', 'p 1'):
    assert workdir_lock.holder_process(other) is None
