"""Tables and plots of the CIFAR-100 study (`configs/study.py`) from its runs.

  python -m benchmarks.cifar100.study_report WORKROOT \
      [--out benchmarks/results/cifar100/study]

WORKROOT is what `python -m benchmarks.cifar100.study study WORKROOT` made.
Copies every job's results.json and plots to OUT/JOB/ and writes OUT/tables.md:
per model and arm the final and best test errors (mean ± std over seeds),
PLP minus baseline per seed with a paired t-test, the epochs each arm needs
to reach the baseline's final top-1 error and its training speed; the
ablations against the baseline of the same seeds; and the trajectory probes
summarised per learning-rate phase.
"""

import argparse
import os

import ml_collections
import numpy as np

from benchmarks.cifar100 import models
from benchmarks.cifar100 import optimizers
from benchmarks.cifar100 import report
from benchmarks.cifar100 import trajectory
from benchmarks.cifar100.configs import study

MODELS = tuple(job for job in study.JOBS if job in models.MODELS)
ABLATIONS = study.ABLATIONS
ABLATION_SEEDS = tuple(str(s) for s in study.ABLATION['seeds'])
# Jobs with one config but for their arms: PLP's variants against ResNet18's
# sgd and plp, paired by seed.
VARIANT_JOBS = ('ResNet18', 'ResNet18_variants')


def parameter_count(config):
  return models.parameter_count(
    models.abstract(config['model'], width=config['width'])
  )


def pct(stats, sign=False):
  return (
    f'{100 * stats["mean"]:{"+" if sign else ""}.2f} ± {100 * stats["std"]:.2f}'
  )


def p_value(stats):
  p = stats['paired_t_test_p']
  return 'n/a' if p is None else f'{p:.3f}'


def per_seed(stats):
  return ', '.join(f'{100 * d:+.2f}' for d in stats['per_seed'])


def halfway_difference(result, seeds):
  """PLP minus baseline top-1 error at the middle epoch, paired by seed."""
  epoch = max(result['config']['epochs'] // 2, 1)
  runs = result['runs']
  differences = [
    runs['plp'][str(s)][epoch - 1]['top1_error']
    - runs['sgd'][str(s)][epoch - 1]['top1_error']
    for s in seeds
  ]
  return {
    **report.mean_std(differences),
    'epoch': epoch,
    'paired_t_test_p': report.paired_p_value(differences),
  }


def difference_cells(difference, kinds, with_seeds):
  """Each kind and metric's paired difference and its p, as table cells.

  `with_seeds(kind, metric)`: whether the cell lists the per-seed values.
  """
  cells = []
  for kind in kinds:
    for metric in report.METRICS:
      stats = difference[f'{kind}_{metric}']
      shown = pct(stats, sign=True)
      if with_seeds(kind, metric):
        shown += f' ({per_seed(stats)})'
      cells += [shown, p_value(stats)]
  return cells


def main_tables(results):
  """Markdown tables of the models' baseline and PLP arms side by side."""
  arms = [
    '| model (width, params) | arm | final top-1 | final top-5 | best top-1 '
    '| best top-5 | epochs to baseline final top-1 | images/s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ]
  differences = [
    '| model | PLP − SGD final top-1 (per seed) | p | final top-5 (per seed) '
    '| p | best top-1 | p | best top-5 | p | top-1 halfway (epoch) | p |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ]
  for model in MODELS:
    if model not in results:
      continue
    config, summary = results[model]['config'], results[model]['summary']
    label = f'{model} ({config["width"]}, {parameter_count(config):,})'
    for arm in config['arms']:
      if arm not in summary:
        continue
      entry = summary[arm]
      reached = entry['epochs_to_baseline_final_top1']
      arms.append(
        f'| {label} | {arm} | '
        + ' | '.join(
          pct(entry[f'{kind}_{metric}'])
          for kind in ('final', 'best')
          for metric in report.METRICS
        )
        + f' | {reached or "not reached"} of {config["epochs"]} '
        f'| {entry["images_per_second"]["mean"]:.0f} |'
      )
    difference = summary.get('plp - sgd')
    if difference:
      cells = difference_cells(
        difference, ('final', 'best'), lambda kind, _: kind == 'final'
      )
      halfway = halfway_difference(results[model], difference['seeds'])
      cells += [
        f'{pct(halfway, sign=True)} ({halfway["epoch"]})',
        p_value(halfway),
      ]
      differences.append(f'| {model} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(arms) + '\n\n' + '\n'.join(differences)


def ablation_table(results):
  """PLP's variants on ResNet18 against the baseline of the same seeds."""
  lines = [
    '| variant | seeds | Δ final top-1 (per seed) | Δ final top-5 (per seed) '
    '| variant final top-1 | baseline final top-1 |',
    '| --- | --- | --- | --- | --- | --- |',
  ]
  variants = {'ResNet18': ('plp', 'ResNet18', 'sgd'), **ABLATIONS}
  for job, (arm, base_job, base_arm) in variants.items():
    if job not in results or base_job not in results:
      continue
    name = f'{arm}, ' + (
      job.removeprefix('ResNet18_').replace('_', ' ')
      if job in ABLATIONS
      else 'paper settings'
    )
    runs = {}
    for label, source, source_arm in (
      (base_arm, base_job, base_arm),
      (name, job, arm),
    ):
      seeds_records = results[source]['runs'].get(source_arm, {})
      runs[label] = {
        int(s): seeds_records[s] for s in ABLATION_SEEDS if s in seeds_records
      }
    epochs = results[job]['config']['epochs']
    summary = report.summarize(runs, [base_arm, name], epochs)
    difference = summary.get(f'{name} - {base_arm}')
    if not difference:
      continue
    top1, top5 = (difference[f'final_{m}'] for m in report.METRICS)
    lines.append(
      f'| {name} | {len(difference["seeds"])} '
      f'| {pct(top1, sign=True)} ({per_seed(top1)}) '
      f'| {pct(top5, sign=True)} ({per_seed(top5)}) '
      f'| {pct(summary[name]["final_top1_error"])} '
      f'| {pct(summary[base_arm]["final_top1_error"])} ({base_arm}) |'
    )
  return '\n'.join(lines)


def arm_table(blocks, kinds):
  """Per block and arm: test errors of `kinds` (and the selected epoch)."""
  titles = [f'{kind} {m}' for kind in kinds for m in ('top-1', 'top-5')]
  selected = 'selected' in kinds
  titles += ['selected epoch'] if selected else []
  lines = [
    '| block | arm | seeds | ' + ' | '.join(titles) + ' |',
    '| --- | --- | --- |' + ' --- |' * len(titles),
  ]
  for block, results in blocks.items():
    for arm in results['config']['arms']:
      entry = results['summary'].get(arm)
      if not entry:
        continue
      cells = [
        pct(entry[f'{kind}_{metric}'])
        for kind in kinds
        for metric in report.METRICS
      ]
      if selected:
        epoch = entry['selected_epoch']
        per = ', '.join(map(str, epoch['per_seed']))
        cells.append(f'{epoch["mean"]:.1f} ({per})')
      lines.append(
        f'| {block} | {arm} | {len(entry["seeds"])} | '
        + ' | '.join(cells)
        + ' |'
      )
  return '\n'.join(lines)


def difference_header(leading_titles, kinds, unit):
  """Header lines of a table of `difference_row`s; top-1 lists per `unit`."""
  titles = list(leading_titles)
  for kind in kinds:
    titles += [f'Δ {kind} top-1 (per {unit})', 'p', f'Δ {kind} top-5', 'p']
  return [
    '| ' + ' | '.join(titles) + ' |',
    '|' + ' --- |' * len(titles),
  ]


def difference_row(leading_cells, difference, kinds):
  """One table row: `leading_cells`, then each kind's differences and p."""
  cells = [str(cell) for cell in leading_cells] + difference_cells(
    difference, kinds, lambda _, metric: metric == 'top1_error'
  )
  return '| ' + ' | '.join(cells) + ' |'


def difference_table(blocks, kinds):
  """Arm minus control, paired by seed, with two-sided paired t-tests."""
  lines = difference_header(('block', 'arm − control', 'seeds'), kinds, 'seed')
  for block, results in blocks.items():
    arms = results['config']['arms']
    for arm, control in report.comparisons(arms):
      difference = results['summary'].get(f'{arm} - {control}')
      if difference:
        lines.append(
          difference_row(
            (block, f'{arm} − {control}', len(difference['seeds'])),
            difference,
            kinds,
          )
        )
  return '\n'.join(lines)


def trajectory_table(results):
  """Median relative error of the probes per learning-rate phase."""
  lines = [
    '| job, arm | learning rate | probes | all parameters | first layer '
    '| median layer | last layer | layers < 1 |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ]
  for job, result in results.items():
    config = ml_collections.ConfigDict(result['config'])
    steps_per_epoch = result['data']['steps_per_epoch']
    phases = optimizers.schedule_phases(config, steps_per_epoch)
    layers = report.layer_order(result['config'])
    for arm, seeds in result['runs'].items():
      probes = [
        p
        for records in seeds.values()
        for r in records
        for p in r.get('trajectory', [])
      ]
      if not probes:
        continue
      for i, (start, phase) in enumerate(phases):
        end = phases[i + 1][0] if i + 1 < len(phases) else np.inf
        inside = [
          p['relative_error'] for p in probes if start <= p['step'] < end
        ]
        if not inside:
          continue
        per_layer = {k: np.median([e[k] for e in inside]) for k in layers}
        ordered = sorted(per_layer.values())
        lines.append(
          f'| {job}, {arm} | {phase} | {len(inside)} '
          f'| {np.median([e[trajectory.ALL] for e in inside]):.2f} '
          f'| {per_layer[layers[0]]:.2f} '
          f'| {ordered[len(ordered) // 2]:.2f} '
          f'| {per_layer[layers[-1]]:.2f} '
          f'| {sum(v < 1 for v in ordered)} of {len(ordered)} |'
        )
  return '\n'.join(lines)


def write_tables(workroot, out):
  """Copies the jobs' results to `out` and writes and returns the tables."""
  results = {}
  for job in study.JOBS:
    source = os.path.join(workroot, job)
    loaded = report.load_results(source)
    if loaded is None:
      print(f'{job}: no results yet')
      continue
    results[job] = report.with_summary(loaded)
    if os.path.abspath(source) != os.path.abspath(os.path.join(out, job)):
      report.copy_results(source, os.path.join(out, job))
  tables = (
    '## Baseline and PLP, per model\n\nTest errors in %, mean ± std over '
    'seeds; differences are PLP minus baseline, paired by seed, with the '
    f'two-sided paired t-test p.\n\n{main_tables(results)}\n\n'
    '## Ablations on ResNet18\n\nEach variant against the baseline of the '
    'same seeds (Δ = variant minus baseline, in points of %).\n\n'
    f'{ablation_table(results)}\n\n{variants_section(results)}'
    f'{trajectory_section(results)}'
  )
  return write_markdown(out, tables)


def variants_section(results):
  """PLP's variants and the matched-step control against sgd and plp."""
  if not all(job in results for job in VARIANT_JOBS):
    return ''
  blocks = {
    'ResNet18': report.merged_block([results[job] for job in VARIANT_JOBS])
  }
  kinds = ('final', 'best')
  return (
    "## PLP's variants on ResNet18\n\nThe quadratic rule, the cosine gate "
    'and SGD with a 7/6 longer step (`sgd_matched`) on the seeds of the '
    'ResNet18 job. Test errors in %, mean ± std; differences in points of '
    '%, paired by seed, with the two-sided paired t-test p.\n\n'
    f'{arm_table(blocks, kinds)}\n\n{difference_table(blocks, kinds)}\n\n'
  )


def trajectory_section(results):
  """The probes' heading, what they measure, and their table."""
  return (
    '## Trajectory probes\n\n||m23 + (m23 - m12) - m34|| / ||m34 - h3|| '
    'over four plain steps, median over probes and seeds; below 1 the '
    'prediction lands closer to where training goes than h3 does.\n\n'
    f'{trajectory_table(results)}\n'
  )


def write_markdown(out, tables):
  """Writes OUT/tables.md; returns what it wrote."""
  with open(os.path.join(out, 'tables.md'), 'w') as file:
    file.write(tables)
  return tables


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('workroot')
  parser.add_argument('--out', default='benchmarks/results/cifar100/study')
  args = parser.parse_args()
  print(write_tables(args.workroot, args.out))


if __name__ == '__main__':
  main()
