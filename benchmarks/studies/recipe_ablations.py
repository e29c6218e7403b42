"""The reference recipe on a 2-core CPU: each model, 2 epochs, 3 seeds.

The reference recipe (`configs/reference_recipe.py`) on the full training
split with the learning-rate shape compressed to 2 epochs: a 0.2-epoch
linear warm-up, then /5 at 30%, 60% and 80% of the steps. Widths are chosen
so that the whole study (3 models x 3 seeds x 2 arms, plus the ResNet18
ablations) fits about two hours of this CPU; GoogLeNet, the slowest per
image on CPU, is the narrowest.
"""

import dataclasses

from benchmarks import tasks
from benchmarks.cifar100 import error_report
from benchmarks.cifar100 import errors
from benchmarks.cifar100 import models
from benchmarks.cifar100 import optimizers
from benchmarks.cifar100.configs import reference_recipe
from benchmarks.harness import summary
from benchmarks.reporting import tables
from benchmarks.studies import Study
from benchmarks.studies import sections


def base_config():
  config = reference_recipe.get_config()
  config.width = 0.125
  config.epochs = 2
  config.warmup_epochs = 0.2
  config.seeds = (0, 1, 2)
  config.trajectory_probes = 24  # every 16 steps
  config.progress = False
  return config


ABLATION = {'seeds': (0, 1), 'arms': ('plp',)}


PLAIN_KINDS = ('final', 'best')


def models_section(study, blocks):
  """Baseline and PLP side by side for each job named after a model."""
  return (
    '## Baseline and PLP, per model\n\nTest errors in %, mean ± std over '
    'seeds; differences are PLP minus baseline, paired by seed, with the '
    f'two-sided paired t-test p.\n\n{model_tables(blocks)}\n\n'
  )


def parameter_count(config):
  return models.parameter_count(
    models.abstract(config['model'], width=config['width'])
  )


def halfway_difference(results, seeds):
  """PLP minus baseline top-1 error at the middle epoch, paired by seed."""
  epoch = max(results['config']['epochs'] // 2, 1)
  runs = results['runs']
  differences = [
    runs['plp'][str(s)][epoch - 1]['top1_error']
    - runs['sgd'][str(s)][epoch - 1]['top1_error']
    for s in seeds
  ]
  return {
    **summary.mean_std(differences),
    'epoch': epoch,
    'paired_t_test_p': summary.paired_p_value(differences),
  }


def model_arm_rows(model, results):
  """One row per arm: final and best errors, epochs to SGD's, speed."""
  config, entries = results['config'], results['summary']
  label = f'{model} ({config["width"]}, {parameter_count(config):,})'
  rows = []
  for arm in config['arms']:
    if arm not in entries:
      continue
    entry = entries[arm]
    reached = entry['epochs_to_baseline_final_top1']
    cells = ' | '.join(
      tables.pct(entry[f'{kind}_{metric}'])
      for kind in PLAIN_KINDS
      for metric in errors.METRICS
    )
    rows.append(
      f'| {label} | {arm} | {cells} | {reached or "not reached"} of '
      f'{config["epochs"]} | {entry["images_per_second"]["mean"]:.0f} |'
    )
  return rows


def model_difference_row(model, results):
  """PLP minus SGD, final, best and halfway, with p; None without both."""
  difference = results['summary'].get('plp - sgd')
  if not difference:
    return None
  cells = error_report.difference_cells(
    difference, PLAIN_KINDS, lambda kind, _: kind == 'final'
  )
  halfway = halfway_difference(results, difference['seeds'])
  cells += [
    f'{tables.pct(halfway, sign=True)} ({halfway["epoch"]})',
    tables.p_value(halfway),
  ]
  return tables.markdown_row([model, *cells])


def model_tables(blocks):
  """Markdown tables of the models' baseline and PLP arms side by side."""
  arm_rows = [
    '| model (width, params) | arm | final top-1 | final top-5 | best top-1 '
    '| best top-5 | epochs to baseline final top-1 | images/s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ]
  difference_rows = [
    '| model | PLP − SGD final top-1 (per seed) | p | final top-5 (per seed) '
    '| p | best top-1 | p | best top-5 | p | top-1 halfway (epoch) | p |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ]
  for model in (name for name in blocks if name in models.MODELS):
    arm_rows += model_arm_rows(model, blocks[model])
    row = model_difference_row(model, blocks[model])
    difference_rows += [row] if row else []
  return '\n'.join(arm_rows) + '\n\n' + '\n'.join(difference_rows)


def ablations(study, blocks):
  """Each ablation's arm against the baseline of the same seeds."""
  return (
    '## Ablations on ResNet18\n\nEach variant against the baseline of the '
    'same seeds (Δ = variant minus baseline, in points of %).\n\n'
    f'{ablation_table(blocks, study.settings)}\n\n'
  )


def ablation_runs(blocks, name, job, arm, base_job, base_arm, seeds):
  """The ablation's arm and its baseline, on `seeds` where both ran."""
  runs = {}
  for label, source, source_arm in (
    (base_arm, base_job, base_arm),
    (name, job, arm),
  ):
    records = blocks[source]['runs'].get(source_arm, {})
    runs[label] = {int(s): records[s] for s in seeds if s in records}
  return runs


@dataclasses.dataclass(frozen=True)
class Ablations:
  """The ablations' jobs and seeds, and the jobs of PLP's variants."""

  # Job -> (the arm it adds, the job and arm it is compared with, label).
  by_job: dict[str, tuple[str, str, str, str]]
  seeds: tuple[int, ...]
  variant_jobs: tuple[str, ...]


def ablation_table(blocks, settings):
  """PLP's variants on ResNet18 against the baseline of the same seeds."""
  lines = [
    '| variant | seeds | Δ final top-1 (per seed) | Δ final top-5 (per seed) '
    '| variant final top-1 | baseline final top-1 |',
    '| --- | --- | --- | --- | --- | --- |',
  ]
  seeds = [str(s) for s in settings.seeds]
  for job, (arm, base_job, base_arm, label) in settings.by_job.items():
    if job not in blocks or base_job not in blocks:
      continue
    name = f'{arm}, {label}'
    runs = ablation_runs(blocks, name, job, arm, base_job, base_arm, seeds)
    epochs = blocks[job]['config']['epochs']
    entries = errors.summarize(
      runs, [base_arm, name], epochs, optimizers.CONTROLS
    )
    difference = entries.get(f'{name} - {base_arm}')
    if not difference:
      continue
    top1, top5 = (difference[f'final_{m}'] for m in errors.METRICS)
    lines.append(
      f'| {name} | {len(difference["seeds"])} '
      f'| {tables.pct(top1, sign=True)} ({tables.per_seed(top1)}) '
      f'| {tables.pct(top5, sign=True)} ({tables.per_seed(top5)}) '
      f'| {tables.pct(entries[name]["final_top1_error"])} '
      f'| {tables.pct(entries[base_arm]["final_top1_error"])} ({base_arm}) |'
    )
  return '\n'.join(lines)


def variants(study, blocks):
  """PLP's variants and the matched-step control against sgd and plp."""
  jobs = study.settings.variant_jobs
  if not all(job in blocks for job in jobs):
    return ''
  merged = {jobs[0]: tasks.merged_block([blocks[job] for job in jobs])}
  return (
    "## PLP's variants on ResNet18\n\nThe quadratic rule, the cosine gate "
    'and SGD with a 7/6 longer step (`sgd_matched`) on the seeds of the '
    'ResNet18 job. Test errors in %, mean ± std; differences in points of '
    '%, paired by seed, with the two-sided paired t-test p.\n\n'
    f'{error_report.arm_table(merged, PLAIN_KINDS)}\n\n'
    f'{error_report.difference_table(merged, PLAIN_KINDS)}\n\n'
  )


STUDY = Study(
  name='recipe_ablations',
  base_config=base_config,
  jobs={
    'VGG16': {'model': 'VGG16'},
    'GoogLeNet': {'model': 'GoogLeNet', 'width': 0.0625},
    'ResNet18': {},
    'ResNet18_step_size_0.5': {**ABLATION, 'prediction.step_size': 0.5},
    'ResNet18_step_size_2': {**ABLATION, 'prediction.step_size': 2.0},
    'ResNet18_every_6': {**ABLATION, 'prediction.every': 6},
    'ResNet18_start_after_warmup': {
      **ABLATION,
      'prediction.start_epoch': 0.2,
    },
    'ResNet18_adamw': {**ABLATION, 'arms': ('adamw', 'adamw_plp')},
    # PLP's variants and the matched-step control, paired by seed with the
    # ResNet18 job's arms.
    'ResNet18_variants': {
      'arms': ('sgd_matched', 'plp_quadratic', 'plp_gated'),
    },
  },  # fmt: skip
  sections=(
    models_section,
    ablations,
    variants,
    sections.trajectory,
  ),
  settings=Ablations(
    by_job={
      'ResNet18': ('plp', 'ResNet18', 'sgd', 'paper settings'),
      'ResNet18_step_size_0.5': ('plp', 'ResNet18', 'sgd', 'step size 0.5'),
      'ResNet18_step_size_2': ('plp', 'ResNet18', 'sgd', 'step size 2'),
      'ResNet18_every_6': ('plp', 'ResNet18', 'sgd', 'every 6'),
      'ResNet18_start_after_warmup': (
        'plp',
        'ResNet18',
        'sgd',
        'start after warmup',
      ),
      'ResNet18_adamw': ('adamw_plp', 'ResNet18_adamw', 'adamw', 'adamw'),
    },  # fmt: skip
    seeds=ABLATION['seeds'],
    variant_jobs=('ResNet18', 'ResNet18_variants'),
  ),
)
