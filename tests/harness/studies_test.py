"""Tests of the studies: definitions, runner and reports, on mock-data runs."""

import dataclasses
import pathlib
import re
import shutil

import numpy as np
import pytest
from scipy import stats

from benchmarks import studies
from benchmarks.cifar100.configs import tiny
from benchmarks.harness import config_checks
from benchmarks.harness import results_io

# At the top, not in the test: the engine imports submitit, whose import
# reconfigures logging and so closes every handler that exists then (absl's
# included, with the stream pytest captured for an earlier test).
from benchmarks.studies import __main__ as studies_command
from benchmarks.studies import paper_protocol
from benchmarks.studies import report
from benchmarks.studies import sections
from benchmarks.studies.lr_sweep import sweep_sections
from tests.conftest import mock_cifar
from tests.conftest import write_run

MATCHED = ['sgd', 'plp', 'sgd_matched']


def test_study_report_tables_main_runs_ablations_and_probes(
  uninterrupted, tmp_path
):
  workdir, results = uninterrupted
  root = tmp_path / 'runs'
  for job in ('ResNet18', 'ResNet18_step_size_2'):
    shutil.copytree(
      workdir, root / job, ignore=shutil.ignore_patterns('checkpoints')
    )
  tables = report.write_report(
    studies.load('recipe_ablations'), str(root), str(tmp_path / 'out')
  )
  difference = results['summary']['plp - sgd']['final_top1_error']['mean']
  assert '| ResNet18 (0.0625, 47,592) | plp |' in tables
  assert f'| ResNet18 | {100 * difference:+.2f} ± 0.00 (' in tables
  runs = results['runs']  # tiny.py: 3 epochs, so halfway is after epoch 1
  halfway = (
    runs['plp']['0'][0]['top1_error'] - runs['sgd']['0'][0]['top1_error']
  )
  assert f'| {100 * halfway:+.2f} ± 0.00 (1) | n/a |' in tables
  assert '| plp, paper settings | 1 |' in tables
  assert '| plp, step size 2 | 1 |' in tables
  assert '| ResNet18, sgd | 1 × base | 1 |' in tables
  copied = tmp_path / 'out' / 'ResNet18_step_size_2'
  assert (copied / 'results.json').exists() and (
    copied / '../tables.md'
  ).exists()
  # Neither checkpoints nor per-run figures: those are drawn on request.
  assert not (tmp_path / 'out' / 'ResNet18' / 'checkpoints').exists()
  assert not list((tmp_path / 'out').rglob('*.png'))
  with open(copied / 'results.json') as file:
    assert '\n' not in file.read()  # compact
  figures = tmp_path / 'figures'
  drawn = report.draw_run_figures(
    studies.load('recipe_ablations'), str(figures), str(tmp_path / 'out')
  )
  for job in ('ResNet18', 'ResNet18_step_size_2'):
    for name in ('curves.png', 'trajectory.png'):
      assert str(figures / job / name) in drawn
      assert (figures / job / name).stat().st_size > 10_000


def test_study_report_pairs_the_variants_with_resnet18s_arms(
  uninterrupted, tmp_path
):
  workdir, results = uninterrupted
  root = tmp_path / 'runs'
  (root / 'ResNet18_variants').mkdir(parents=True)
  shutil.copytree(
    workdir, root / 'ResNet18', ignore=shutil.ignore_patterns('checkpoints')
  )
  # The variants job's arms, standing in with the tiny run's records.
  runs = results['runs']
  variants = {'sgd_matched': runs['sgd'], 'plp_gated': runs['plp']}
  results_io.write_json_atomically(
    str(root / 'ResNet18_variants' / 'results.json'),
    {
      **{k: v for k, v in results.items() if k != 'summary'},
      'config': {**results['config'], 'arms': list(variants)},
      'runs': variants,
    },
  )
  tables = report.write_report(
    studies.load('recipe_ablations'), str(root), str(tmp_path / 'out')
  )
  section = tables[tables.index("## PLP's variants") :]
  for row in (
    '| ResNet18 | plp_gated | 1 |',
    '| ResNet18 | plp_gated − sgd | 1 |',
    '| ResNet18 | plp_gated − plp | 1 | +0.00 ± 0.00 (+0.00) | n/a |',
    '| ResNet18 | plp_gated − sgd_matched | 1 |',
  ):
    assert row in section


def test_seed_directories_merge_into_one_job(uninterrupted, tmp_path):
  workdir, results = uninterrupted
  for seed in (0, 5):
    shutil.copytree(
      workdir,
      tmp_path / f'seed_{seed}',
      ignore=shutil.ignore_patterns('checkpoints'),
    )
  # The second directory stands for another seed's run.
  other = results_io.load_results(str(tmp_path / 'seed_5'))
  other['runs'] = {a: {'5': s['0']} for a, s in other['runs'].items()}
  results_io.write_json_atomically(
    str(tmp_path / 'seed_5' / 'results.json'), other
  )
  merged = results_io.with_summary(results_io.load_results(str(tmp_path)))
  assert {arm: sorted(s) for arm, s in merged['runs'].items()} == {
    'sgd': ['0', '5'],
    'plp': ['0', '5'],
  }
  assert merged['summary']['plp - sgd']['seeds'] == [0, 5]
  assert merged['data'] == results['data']
  assert results_io.load_results(str(tmp_path / 'nothing')) is None


def test_study_plans_one_run_per_job_and_seed():
  paper_protocol = studies.load('paper_protocol')
  planned = list(studies.planned_runs(paper_protocol, ['ResNet18'], [1, 3]))
  assert [(job, seed) for job, seed, _ in planned] == [
    ('ResNet18', 1),
    ('ResNet18', 3),
  ]
  for _, seed, config in planned:
    assert config.seeds == (seed,)
    assert config.validation_fraction == 0.2
  every = list(studies.planned_runs(studies.load('recipe_ablations')))
  assert len(every) == 4 * 3 + 5 * 2  # 3 models and the variants; ablations
  assert studies.run_directory('root', 'VGG16', 2) == 'root/VGG16/seed_2'


def test_paper_protocol_report_tables_blocks_of_finished_runs(
  validated, tmp_path
):
  validated_run = validated[0]
  root = tmp_path / 'runs'
  for seed in (0, 1):
    write_run(root / 'ResNet18' / f'seed_{seed}', validated_run, MATCHED, seed)
    write_run(
      root / 'ResNet18_demon' / f'seed_{seed}', validated_run, ['demon'], seed
    )
  # Seed 1 of the demon job is still training: its finished seed 0 counts.
  partial = results_io.load_results(str(root / 'ResNet18_demon' / 'seed_1'))
  partial['runs']['demon']['1'] = partial['runs']['demon']['1'][:2]
  results_io.write_json_atomically(
    str(root / 'ResNet18_demon' / 'seed_1' / 'results.json'), partial
  )
  unfinished = {**validated_run, 'summary': {}}
  unfinished['runs'] = {
    a: {'2': r['0'][:1]} for a, r in validated_run['runs'].items()
  }
  unfinished['config'] = {**validated_run['config'], 'arms': list(MATCHED)}
  results_io.write_json_atomically(
    str(root / 'ResNet18' / 'seed_2' / 'results.json'), unfinished
  )
  out = tmp_path / 'out'
  tables = report.write_report(
    studies.load('paper_protocol'), str(root), str(out)
  )
  for arm in ('sgd', 'plp', 'sgd_matched'):
    assert f'| ResNet18 | {arm} | 2 |' in tables
  assert '| ResNet18 | demon | 1 |' in tables
  for pair in ('plp − sgd', 'sgd_matched − sgd', 'plp − sgd_matched'):
    assert f'| ResNet18 | {pair} | 2 |' in tables
  assert '| ResNet18 | demon − sgd | 1 |' in tables
  assert (
    '| ResNet18, cyclic and constant | plp − sgd_matched | 2 (1) |' in tables
  )
  assert (out / 'ResNet18.png').stat().st_size > 10_000
  assert (out / 'ResNet18' / 'seed_1' / 'results.json').exists()
  assert not (out / 'ResNet18' / 'seed_2').exists()  # still training
  assert '## Trajectory probes' in tables


def test_one_step_later_is_a_measurement_shown_in_its_own_section(
  validated, tmp_path
):
  validated_run = validated[0]
  root = tmp_path / 'runs'
  job = 'ResNet18_one_step_later'
  write_run(root / job / 'seed_0', validated_run, ['sgd', 'plp'], 0)
  results = results_io.load_results(str(root / job / 'seed_0'))
  records = results['runs']['plp']['0']
  top1_deltas = [0.01, -0.03, 0.02]  # tiny.py trains 3 epochs
  for record, delta in zip(records, top1_deltas, strict=True):
    record['one_step_later'] = {
      'top1_error': record['top1_error'] + delta,
      'top5_error': record['top5_error'],
    }
  del results['runs']['sgd']
  results_io.write_json_atomically(
    str(root / job / 'seed_0' / 'results.json'), results
  )
  tables = report.write_report(
    studies.load('paper_protocol'), str(root), str(tmp_path / 'out')
  )
  assert job not in tables.split('## Evaluated right after')[0]
  selected = int(np.argmin([r['val_top1_error'] for r in records])) + 1
  deltas = np.array(top1_deltas)
  assert (
    f'| plp | 0 | {100 * deltas.mean():+.2f} ± {100 * deltas.std(ddof=1):.2f}'
    f' ({100 * deltas.min():+.2f} to {100 * deltas.max():+.2f}) '
    f'| {100 * deltas[selected - 1]:+.2f} (epoch {selected}) '
    f'| {100 * deltas[-1]:+.2f} | +0.00 ± 0.00' in tables
  )


def test_pooled_difference_concatenates_each_blocks_pairs():
  def block(top1, top5):
    difference = {'seeds': list(range(len(top1)))}
    for kind in sections.VALIDATED_KINDS:
      difference[f'{kind}_top1_error'] = {'per_seed': top1}
      difference[f'{kind}_top5_error'] = {'per_seed': top5}
    return {'summary': {'plp - sgd_matched': difference}}

  blocks = {
    'A': block([0.01, -0.02], [-0.03, -0.01]),
    'B': block([-0.04], [0.02]),
    'C': {'summary': {}},  # no matched pairs yet
  }
  pooled = paper_protocol.pooled_difference(
    blocks, ('A', 'B', 'C', 'D'), 'plp', 'sgd_matched'
  )
  assert (pooled['pairs'], pooled['blocks']) == (3, 2)
  top5 = pooled['selected_top5_error']
  assert top5['per_seed'] == [-0.03, -0.01, 0.02]
  expected = np.array([-0.03, -0.01, 0.02])
  assert np.isclose(top5['mean'], expected.mean())
  assert np.isclose(top5['std'], expected.std(ddof=1))
  t = expected.mean() / (expected.std(ddof=1) / np.sqrt(3))
  assert np.isclose(top5['paired_t_test_p'], 2 * stats.t.sf(abs(t), df=2))
  assert paper_protocol.pooled_difference(blocks, ('C',), 'plp', 'x') is None


def test_committed_tables_regenerate_byte_identical(tmp_path):
  for name in ('paper_protocol', 'recipe_ablations', 'lr_sweep', 'adamw_peers'):
    study = studies.load(name)
    committed = (pathlib.Path(study.out) / 'tables.md').read_text()
    out = tmp_path / name
    shutil.copytree(study.out, out)
    assert (
      report.write_report(study, str(out), str(out), plot=False) == committed
    )


def test_a_study_is_its_module_and_a_bad_name_says_the_choices():
  assert studies.names() == [
    'adamw_peers',
    'lion_vs_adamw',
    'lr_sweep',
    'paper_full',
    'paper_protocol',
    'prediction_step',
    'recipe_ablations',
    'smoke',
  ]
  with pytest.raises(ValueError, match="allowed: \\['adamw_peers'"):
    studies.load('sci_rep')
  with pytest.raises(ValueError, match="job is 'nope'"):
    studies.job_config(studies.load('lr_sweep'), 'nope')


def test_the_sweep_counts_a_diverged_run_at_chance(validated, tmp_path):
  validated_run = validated[0]
  study = studies.load('lr_sweep')
  root = tmp_path / 'runs'
  job = 'sgd_lr_0.032'
  for seed in (0, 1, 2):
    write_run(root / job / f'seed_{seed}', validated_run, ['sgd', 'plp'], seed)
  diverged = results_io.load_results(str(root / job / 'seed_2'))
  diverged['runs']['plp']['2'] = [{'epoch': 1, 'diverged': True}]
  results_io.write_json_atomically(
    str(root / job / 'seed_2' / 'results.json'), diverged
  )
  out = tmp_path / 'out'
  tables = report.write_report(study, str(root), str(out))
  assert (out / 'sweep_SGD.png').stat().st_size > 10_000
  assert '](sweep_SGD.png)' in tables and not (out / 'sweep_AdamW.png').exists()
  rate = validated_run['config']['learning_rate']  # the runs' own config's
  assert f'| {rate:g} | plp | 3 | 1 | ' in tables
  assert f'| {rate:g} | sgd | 3 | 0 | ' in tables
  plp = sweep_sections.seed_errors(
    report.load_block(study, str(out), (job,)), 'plp', (0, 1, 2)
  )
  assert plp[2] == sweep_sections.CHANCE
  assert 'Chosen so far: ' in tables
  # The borrowed grid point: the paper-protocol runs at 0.001, seeds 0-2.
  assert '| 0.001 | sgd | 3 | 0 |' in tables


def test_the_command_runs_a_study_seed_by_seed_and_resumes(
  tmp_path, monkeypatch, capsys
):
  study = studies.Study(
    name='tiny',
    base_config=tiny.get_config,
    jobs={
      'ResNet18': {'seeds': (0, 1), 'epochs': 1, 'validation_fraction': 0.25}
    },
    sections=(sections.differences,),
  )
  monkeypatch.setattr(studies, 'names', lambda: ['tiny'])
  monkeypatch.setattr(studies, 'load', lambda name: study)
  root = tmp_path / 'runs'
  with mock_cifar():
    # In this process, where the mock data is (the engine's own tests run
    # studies through submitit: tests/harness/engine_test.py).
    inline = ['run', 'tiny', str(root), '--seeds=1', '--executor=inline']
    assert studies_command.main(inline) == 0
    first = results_io.load_results(str(root / 'ResNet18' / 'seed_1'))
    assert studies_command.main(inline) == 0  # done: nothing left to run
  again = results_io.load_results(str(root / 'ResNet18' / 'seed_1'))
  assert not (root / 'ResNet18' / 'seed_0').exists()
  assert again['runs'] == first['runs'] and list(first['runs']['sgd']) == ['1']
  studies_command.main(
    ['report', 'tiny', str(root), '--out', str(tmp_path / 'out')]
  )
  assert '| ResNet18 | plp − sgd | 1 |' in capsys.readouterr().out


def test_the_shared_report_code_serves_two_studies_or_more():
  """Each function of studies/sections.py is used by two studies or more
  (directly, or through another shared function); code of one study lives in
  that study's module."""
  import ast
  import pathlib

  root = pathlib.Path(studies.__file__).parent
  shared = ast.parse((root / 'sections.py').read_text())
  names = [n.name for n in shared.body if isinstance(n, ast.FunctionDef)]
  sources = {
    name: ''.join(p.read_text() for p in sorted(root.glob(f'{name}*/**/*.py')))
    or (root / f'{name}.py').read_text()
    for name in studies.names()
  }
  users = {
    name: {s for s, text in sources.items() if f'sections.{name}' in text}
    for name in names
  }
  # A helper of other shared functions serves their users too.
  for node in shared.body:
    if isinstance(node, ast.FunctionDef):
      called = {
        c.func.id for c in ast.walk(node)
        if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
      }  # fmt: skip
      for name in called & set(names):
        users[name] |= users[node.name]
  lonely = {name: sorted(u) for name, u in users.items() if len(u) < 2}
  assert not lonely, f'shared functions with one user: {lonely}'


@pytest.mark.parametrize('name', studies.names())
def test_a_studys_fields_name_its_own_blocks_and_jobs(name):
  study = studies.load(name)
  blocks = set(study.report_blocks)
  assert set(study.measurements) <= blocks
  assert set(study.arm_blocks or ()) <= blocks
  in_blocks = {job for jobs in study.report_blocks.values() for job in jobs}
  assert set(study.borrowed) <= in_blocks - set(study.jobs)  # not run here
  assert study.settings is None or dataclasses.is_dataclass(study.settings)


def test_the_study_command_checks_jobs_before_training(tmp_path):
  import subprocess
  import sys

  root = tmp_path / 'runs'
  done = subprocess.run(
    [sys.executable, '-m', 'benchmarks.studies', 'run', 'adamw_peers',
     str(root), '--jobs=lr_0.001,nope'],
    capture_output=True, text=True, timeout=300,
  )  # fmt: skip
  assert done.returncode == 1
  last = done.stderr.strip().splitlines()[-1]
  assert last.startswith("error: jobs ['nope'] are not in the study")
  assert not root.exists()  # the valid job before it did not train


@pytest.mark.parametrize('seeds,stray', [([99], [99]), ([-1, 0], [-1])])
def test_seeds_no_chosen_job_plans_are_refused_before_any_run(seeds, stray):
  study = studies.load('adamw_peers')
  with pytest.raises(
    config_checks.ConfigError,
    match=re.escape(f'seeds {stray} are planned by none of the jobs'),
  ):
    studies.planned_runs(study, ['lr_0.001'], seeds)


def test_a_committed_study_folder_is_safe_from_the_run_command(tmp_path):
  # The committed runs have no checkpoints: a run there would replace them.
  # The engine submits no finished run; the run itself refuses too
  # (test_a_finished_run_without_checkpoints_is_refused_by_the_run_itself).
  import subprocess
  import sys

  study = tmp_path / 'lr_sweep'
  shutil.copytree(studies.load('lr_sweep').out, study)
  results = study / 'sgd_lr_0.002' / 'seed_0' / 'results.json'
  before = results.read_bytes()
  done = subprocess.run(
    [sys.executable, '-m', 'benchmarks.studies', 'run', 'lr_sweep',
     str(study), '--jobs', 'sgd_lr_0.002', '--seeds', '0'],
    capture_output=True, text=True, timeout=600,
  )  # fmt: skip
  assert done.returncode == 0, done.stderr[-2000:]
  assert done.stdout == (
    'lr_sweep: every planned run is finished, diverged or running.\n'
  )
  assert results.read_bytes() == before
  assert [p.name for p in results.parent.iterdir()] == ['results.json']


def test_a_finished_run_without_checkpoints_is_refused_by_the_run_itself(
  tmp_path,
):
  from benchmarks import tasks
  from benchmarks.harness import config_checks

  study = studies.load('lr_sweep')
  run = tmp_path / 'seed_0'
  shutil.copytree(pathlib.Path(study.out) / 'sgd_lr_0.002' / 'seed_0', run)
  before = (run / 'results.json').read_bytes()
  [(_, _, config)] = studies.planned_runs(study, ['sgd_lr_0.002'], [0])
  with pytest.raises(config_checks.ConfigError) as refused:
    tasks.train_and_evaluate(config, str(run))
  assert 'holds records no checkpoint here can give back' in str(refused.value)
  assert 'sgd seed 0: 13 epochs, checkpointed to 0' in str(refused.value)
  assert (run / 'results.json').read_bytes() == before
  assert [p.name for p in run.iterdir()] == ['results.json']


@pytest.mark.parametrize('name', studies.names())
@pytest.mark.parametrize('workroot', ['missing', 'empty', 'partial'])
def test_a_study_in_progress_reports_what_it_has(name, workroot, tmp_path):
  study = studies.load(name)
  root = tmp_path / 'runs'
  if workroot != 'missing':
    root.mkdir()
  committed = sorted(pathlib.Path(study.out).glob('*/seed_*/results.json'))
  if workroot == 'partial' and committed:  # one run of the study, or none
    run = committed[len(committed) // 2].parent
    shutil.copytree(run, root / run.relative_to(study.out))
  tables = report.write_report(study, str(root), str(tmp_path / 'out'), False)
  assert isinstance(tables, str)


def test_the_commands_end_a_bad_folder_in_one_line(tmp_path):
  import subprocess
  import sys

  def command(*args):
    return subprocess.run(
      [sys.executable, '-m', 'benchmarks.studies', *args],
      capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

  missing = command('figures', 'smoke', str(tmp_path), '--out', 'MISSING')
  assert missing.returncode == 1
  assert missing.stderr.strip() == (
    'error: no results to draw at MISSING: give --out the folder of a '
    "study's results (its report's folder)."
  )
  bare = command('comparisons', '--out')
  assert bare.returncode == 1
  assert bare.stderr.strip() == (
    'error: Missing value for flag --out (--help: the options)'
  )
  made = command('comparisons', '--out', str(tmp_path / 'new' / 'folder'))
  assert made.returncode == 0, made.stderr[-2000:]
  assert (tmp_path / 'new' / 'folder' / 'comparisons.md').exists()


def test_the_help_names_every_command_study_and_option():
  import subprocess
  import sys

  shown = subprocess.run(
    [sys.executable, '-m', 'benchmarks.studies', '--help'],
    capture_output=True,
    text=True,
    timeout=300,
    check=False,
  ).stdout  # fmt: skip (absl's --help ends with status 1)
  for command in studies_command.COMMANDS:
    assert f'\n  {command}: ' in shown, command
  assert ', '.join(studies.names()) in shown
  for name in {n for names in studies_command.OPTIONS.values() for n in names}:
    assert f'--{name}:' in shown or f'--[no]{name}:' in shown, name


@pytest.mark.parametrize(
  'arguments,expected',
  [
    ([], "the command is ''; give one of ['run', 'status', 'report', "
     "'figures', 'comparisons']"),
    (['run', 'smoke'], "run takes STUDY WORKROOT: got ['smoke']"),
    (['comparisons', 'smoke'], "comparisons takes no operands: got "
     "['smoke']"),
    (['status', 'nope', 'W'], "the study is 'nope'; give one of ["),
    (['status', 'smoke', 'W', '--executor=slurm'],
     'status takes no --executor'),
    (['report', 'smoke', 'W', '--seeds=1'], 'report takes no --seeds'),
    (['status', 'smoke', 'W', '--seeds=a'],
     "--seeds are ['a']: give integers, as --seeds=0,1"),
    (['run', 'smoke', 'W', '--distributed'],
     '--distributed trains one run across processes; give --executor=inline'),
    (['run', 'smoke', 'W', '--parallel=x'],
     "flag --parallel=x: invalid literal for int() with base 10: 'x'"),
    (['run', 'smoke', 'W', '--executor=cloud'],
     'flag --executor=cloud: value should be one of <local|slurm|inline>'),
  ],
)  # fmt: skip
def test_the_study_command_ends_bad_input_in_one_line(arguments, expected):
  with pytest.raises(SystemExit) as ended:
    studies_command.main(arguments)
  assert ended.value.code.startswith(f'error: {expected}')
  assert '\n' not in ended.value.code
