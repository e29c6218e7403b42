"""The import layering: a module imports only from its own layer or lower
ones, no modules import each other in a circle, lazily or not, and a run of
one task imports no module of another."""

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Lowest first; a module belongs to the layer of its longest matching prefix.
LAYERS = (
  ('optax_plp',),
  ('benchmarks.harness',),  # serves any task
  ('benchmarks.reporting',),  # tables and figures of any task's results
  ('benchmarks.cifar100', 'benchmarks.shakespeare'),  # the tasks
  ('benchmarks.tasks', 'benchmarks.examples'),  # examples: a user's arms
  ('benchmarks.main', 'benchmarks.studies'),
  ('benchmarks.tools',),  # for the accelerator, faults and speed
)
TASKS = LAYERS[3]
# The folders a run passes through, each kept small enough to read.
RUN_PATH = ('benchmarks', 'harness', 'cifar100', 'shakespeare')
MOST_MODULES_A_FOLDER = 10
# A task's files, named alike in every task: the loop, data, model, configs.
TASK_FILES = ('train', 'input_pipeline', 'models', 'configs')
TASK_MODULES = [f'{task}.{name}' for task in TASKS for name in TASK_FILES]


def module_names():
  """Every module of the project: dotted name -> path."""
  found = {}
  for package in ('optax_plp', 'benchmarks'):
    for path in (ROOT / package).rglob('*.py'):
      parts = path.relative_to(ROOT).with_suffix('').parts
      if parts[-1] == '__init__':
        parts = parts[:-1]
      found['.'.join(parts)] = path
  return found


def imported(path, modules):
  """The project's modules that the file at `path` imports, anywhere in it."""
  names = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      names |= {alias.name for alias in node.names}
    elif isinstance(node, ast.ImportFrom) and node.module:
      for alias in node.names:
        full = f'{node.module}.{alias.name}'
        names.add(full if full in modules else node.module)
  return {name for name in names if name in modules}


def layer(module):
  matches = [
    (len(prefix), index)
    for index, prefixes in enumerate(LAYERS)
    for prefix in prefixes
    if module == prefix or module.startswith(prefix + '.')
  ]
  assert matches, f'{module} is in no layer: add it to LAYERS'
  return max(matches)[1]


def import_graph():
  modules = module_names()
  return {name: imported(path, modules) for name, path in modules.items()}


def test_every_import_points_to_the_same_layer_or_a_lower_one():
  upward = [
    f'{importer} (layer {layer(importer)}) imports {target} '
    f'(layer {layer(target)})'
    for importer, targets in import_graph().items()
    for target in targets
    if layer(target) > layer(importer)
  ]
  assert not upward, '\n'.join(upward)


def test_no_modules_import_each_other_in_a_circle():
  graph = import_graph()
  state, circles = {}, []

  def visit(name, path):
    state[name] = 'open'
    for target in sorted(graph[name]):
      if state.get(target) == 'open':
        circles.append(' -> '.join(path[path.index(target) :] + [target]))
      elif target not in state:
        visit(target, path + [target])
    state[name] = 'done'

  for name in sorted(graph):
    if name not in state:
      visit(name, [name])
  assert not circles, '\n'.join(circles)


def test_the_layers_name_only_modules_that_exist():
  modules = module_names()
  for prefixes in LAYERS:
    for prefix in prefixes:
      assert prefix in modules, prefix


def test_no_two_modules_share_a_file_name():
  """Save a task's own files, which every task names alike (Flax's way)."""
  by_name = {}
  for name in module_names():
    by_name.setdefault(name.rsplit('.', 1)[-1], []).append(name)
  shared = {
    name: modules
    for name, modules in by_name.items()
    if len(modules) > 1
    and not (name in TASK_FILES and all(m in TASK_MODULES for m in modules))
  }
  assert not shared, shared


def test_no_folder_of_the_run_path_holds_more_than_ten_modules():
  for folder in RUN_PATH:
    path = (
      ROOT / 'benchmarks'
      if folder == 'benchmarks'
      else (ROOT / 'benchmarks' / folder)
    )
    modules = [p for p in path.glob('*.py') if p.name != '__init__.py']
    assert len(modules) <= MOST_MODULES_A_FOLDER, (folder, len(modules))


# A run's way in (main.py), its task found by the config, and the run's own
# table and figures: what of the other tasks it imports.
RUN_IMPORTS = """
import sys
from benchmarks import main
from benchmarks import tasks
from benchmarks.{task}.configs import {config} as configs
task = tasks.task_of(configs.get_config())
print(' '.join(sorted(m for m in sys.modules if m.startswith('benchmarks.'))))
"""


@pytest.mark.parametrize(
  'task,config,other',
  [
    ('shakespeare', 'gpt_tiny', 'cifar100'),
    ('cifar100', 'tiny', 'shakespeare'),
  ],
)
def test_a_run_of_one_task_imports_no_module_of_another(task, config, other):
  done = subprocess.run(
    [sys.executable, '-c', RUN_IMPORTS.format(task=task, config=config)],
    capture_output=True, text=True, check=True, cwd=ROOT,
  )  # fmt: skip
  loaded = done.stdout.split()
  assert f'benchmarks.{task}.train' in loaded
  assert not [m for m in loaded if m.startswith(f'benchmarks.{other}')]


# The record fields the harness itself keeps in every task's records.
HARNESS_FIELDS = ('epoch', 'step', 'train_loss')


def task_knowledge():
  """Every task's name, arms and metrics: what only the tasks may name."""
  from benchmarks import tasks
  from benchmarks.cifar100 import errors
  from benchmarks.cifar100 import optimizers
  from benchmarks.cifar100 import train as cifar100_train
  from benchmarks.shakespeare import losses
  from benchmarks.shakespeare import train as shakespeare_train

  arms = {*optimizers.ARMS, *shakespeare_train.ARMS}
  metrics = {
    *cifar100_train.TASK.reproducible, *shakespeare_train.TASK.reproducible,
    *errors.METRICS, *(f'val_{m}' for m in errors.METRICS), *losses.METRICS,
    'images_per_second', 'tokens_per_second',
  } - set(HARNESS_FIELDS)  # fmt: skip
  return tasks.TASKS, arms, metrics


@pytest.mark.parametrize('folder', ['harness', 'reporting'])
def test_the_harness_and_reporting_name_no_task_arm_or_metric(folder):
  # What differs by task is the task's declaration (`experiment.Task`),
  # which the harness is given, and the task's own tables and figures.
  import re

  names, arms, metrics = task_knowledge()
  for path in sorted((ROOT / 'benchmarks' / folder).glob('*.py')):
    text = path.read_text()
    quoted = [
      name for name in (*arms, *metrics)
      if re.search(rf'[\'"`]{name}[\'"`]', text)
    ]  # fmt: skip
    assert not quoted, (path.name, quoted)
    named = [t for t in names if re.search(t, text, re.IGNORECASE)]
    assert not named, (path.name, named)
    assert not re.search('cifar|shakespeare', text, re.IGNORECASE), path.name
