"""Sections of a study's report: a heading, what it shows, and its table.

Each is a function of the study and its blocks (block name -> merged and
summarised results) returning markdown, or '' where it has nothing to show.
What a section needs beyond the blocks it reads from `study.options`.
"""

import os

from benchmarks.cifar100 import models
from benchmarks.cifar100 import optimizers
from benchmarks.cifar100 import plots
from benchmarks.cifar100 import results_io
from benchmarks.cifar100 import studies
from benchmarks.cifar100 import summary
from benchmarks.cifar100 import tables

VALIDATED_KINDS = ('selected', 'final')
PLAIN_KINDS = ('final', 'best')


def compared(study, blocks):
  """The blocks that compare arms: all but the study's `measurements`."""
  measurements = study.options.get('measurements', ())
  return {name: b for name, b in blocks.items() if name not in measurements}


def arms(study, blocks):
  """Each block's arms (those of `options['arm_blocks']`, if set)."""
  shown = compared(study, blocks)
  if 'arm_blocks' in study.options:
    wanted = study.options['arm_blocks']
    shown = {name: b for name, b in shown.items() if name in wanted}
    if not shown:
      return ''
  return (
    '## Test errors per arm\n\nIn %, mean ± std over the finished seeds; '
    '"selected" is the epoch of lowest validation top-1 error.\n\n'
    f'{tables.arm_table(shown, VALIDATED_KINDS)}\n\n'
  )


def differences(study, blocks):
  """Each block's comparisons, paired by seed."""
  table = tables.difference_table(compared(study, blocks), VALIDATED_KINDS)
  return (
    '## Paired differences\n\nIn points of %, arm minus control, paired by '
    f'seed; p of the two-sided paired t-test.\n\n{table}\n\n'
  )


def pooled(study, blocks):
  """The exploratory comparison pooled over blocks (`options['pools']`)."""
  return (
    '## Pooled over learning rates (exploratory)\n\nChosen after seeing '
    'the first blocks; each block and seed one pair; p of the two-sided '
    'one-sample t-test of all pairs.\n\n'
    f'{pooled_table(blocks, study.options)}\n\n'
    'The blocks are different regimes, so the pairs above are not one '
    'sample. At the level of blocks, each block one value (its mean paired '
    'difference), with the one-sample t-test of those means:\n\n'
    f'{block_means_table(blocks, study.options)}\n\n'
  )


def trajectory(study, blocks):
  """The trajectory probes per block and learning-rate phase."""
  return tables.trajectory_section(compared(study, blocks))


def one_step_later(study, blocks):
  """Each epoch's errors right after its PLP jump against one step later."""
  rows = []
  for name in study.options.get('measurements', ()):
    for arm, by_seed in blocks.get(name, {}).get('runs', {}).items():
      rows += [one_step_later_row(arm, s, r) for s, r in by_seed.items()]
  if not rows:
    return ''
  return (
    '## Evaluated right after a PLP jump, and one step later\n\nAn epoch '
    "is 312 steps, a multiple of PLP's cycle of 3, so every evaluation falls "
    'right after a jump. The same run also evaluated one step later (the '
    "next epoch's first step, on a copy): Δ = one step later minus at the "
    "epoch's end, in points of %, over all epochs (mean ± std, min to "
    'max) and at the validation-selected and final epochs.\n\n'
    '| arm | seed | Δ top-1, all epochs (min to max) | Δ top-1 selected '
    '| Δ top-1 final | Δ top-5, all epochs | Δ top-5 selected '
    '| Δ top-5 final |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n'
    + '\n'.join(rows)
    + '\n\n'
  )


def one_step_later_row(arm, seed, records):
  """One run's row of the one-step-later table."""
  selected = summary.selected_epoch(records)
  cells = []
  for metric in summary.METRICS:
    deltas = [r['one_step_later'][metric] - r[metric] for r in records]
    spread = summary.mean_std(deltas)
    cells += [
      f'{tables.pct(spread, sign=True)} ({100 * min(deltas):+.2f} to '
      f'{100 * max(deltas):+.2f})',
      f'{100 * deltas[selected - 1]:+.2f} (epoch {selected})',
      f'{100 * deltas[-1]:+.2f}',
    ]
  return tables.markdown_row([arm, seed, *cells])


def pooled_difference(blocks, names, arm, control, kinds=VALIDATED_KINDS):
  """`arm` minus `control` over the blocks `names`, one pair per block and seed.

  Each block's per-seed paired differences, concatenated, with a one-sample
  t-test of the lot (None where no block has the comparison yet).
  """
  key = f'{arm} - {control}'
  found = [
    blocks[name]['summary'][key]
    for name in names
    if key in blocks.get(name, {}).get('summary', {})
  ]
  if not found:
    return None
  pooled = {'pairs': sum(len(d['seeds']) for d in found), 'blocks': len(found)}
  for kind in kinds:
    for metric in summary.METRICS:
      diffs = [x for d in found for x in d[f'{kind}_{metric}']['per_seed']]
      pooled[f'{kind}_{metric}'] = summary.difference_stats(diffs)
  return pooled


def pooled_table(blocks, options):
  """The pooled comparisons of `options['pools']` as a markdown table."""
  arm, control = options['pooled_comparison']
  lines = tables.difference_header(
    ('pool', 'arm − control', 'pairs (blocks)'), VALIDATED_KINDS, 'pair'
  )
  for pool, names in options['pools'].items():
    found = pooled_difference(blocks, names, arm, control)
    if found is not None:
      count = f'{found["pairs"]} ({found["blocks"]})'
      lines.append(
        tables.difference_row(
          (pool, f'{arm} − {control}', count), found, VALIDATED_KINDS
        )
      )
  return '\n'.join(lines)


def block_means_table(blocks, options, kind='selected'):
  """Per pool: the blocks' mean paired differences and their t-test."""
  arm, control = options['pooled_comparison']
  key = f'{arm} - {control}'
  lines = [
    f'| pool | arm − control | blocks | Δ {kind} top-1 (block means) | p '
    f'| Δ {kind} top-5 (block means) | p |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ]
  for pool, names in options['pools'].items():
    found = [blocks[n]['summary'][key] for n in names if n in blocks]
    found = [d for d in found if d]
    if len(found) < 2:
      continue
    cells = []
    for metric in summary.METRICS:
      means = [d[f'{kind}_{metric}']['mean'] for d in found]
      stats = summary.difference_stats(means)
      cells += [
        f'{tables.pct(stats, sign=True)} ({tables.per_seed(stats)})',
        tables.p_value(stats),
      ]
    lines.append(
      tables.markdown_row([pool, f'{arm} − {control}', len(found), *cells])
    )
  return '\n'.join(lines)


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
    errors = ' | '.join(
      tables.pct(entry[f'{kind}_{metric}'])
      for kind in PLAIN_KINDS
      for metric in summary.METRICS
    )
    rows.append(
      f'| {label} | {arm} | {errors} | {reached or "not reached"} of '
      f'{config["epochs"]} | {entry["images_per_second"]["mean"]:.0f} |'
    )
  return rows


def model_difference_row(model, results):
  """PLP minus SGD, final, best and halfway, with p; None without both."""
  difference = results['summary'].get('plp - sgd')
  if not difference:
    return None
  cells = tables.difference_cells(
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
    f'{ablation_table(blocks, study.options)}\n\n'
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


def ablation_table(blocks, options):
  """PLP's variants on ResNet18 against the baseline of the same seeds."""
  lines = [
    '| variant | seeds | Δ final top-1 (per seed) | Δ final top-5 (per seed) '
    '| variant final top-1 | baseline final top-1 |',
    '| --- | --- | --- | --- | --- | --- |',
  ]
  ablated = options['ablations']
  seeds = [str(s) for s in options['ablation_seeds']]
  for job, (arm, base_job, base_arm, label) in ablated.items():
    if job not in blocks or base_job not in blocks:
      continue
    name = f'{arm}, {label}'
    runs = ablation_runs(blocks, name, job, arm, base_job, base_arm, seeds)
    epochs = blocks[job]['config']['epochs']
    entries = summary.summarize(
      runs, [base_arm, name], epochs, optimizers.CONTROLS
    )
    difference = entries.get(f'{name} - {base_arm}')
    if not difference:
      continue
    top1, top5 = (difference[f'final_{m}'] for m in summary.METRICS)
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
  jobs = study.options['variant_jobs']
  if not all(job in blocks for job in jobs):
    return ''
  merged = {jobs[0]: results_io.merged_block([blocks[job] for job in jobs])}
  return (
    "## PLP's variants on ResNet18\n\nThe quadratic rule, the cosine gate "
    'and SGD with a 7/6 longer step (`sgd_matched`) on the seeds of the '
    'ResNet18 job. Test errors in %, mean ± std; differences in points of '
    '%, paired by seed, with the two-sided paired t-test p.\n\n'
    f'{tables.arm_table(merged, PLAIN_KINDS)}\n\n'
    f'{tables.difference_table(merged, PLAIN_KINDS)}\n\n'
  )


def headline(study, blocks):
  """The confirmation on fresh seeds, each comparison with its 95% CI."""
  rows = []
  for block, comparisons in study.options.get('headline', {}).items():
    found = blocks.get(block, {}).get('summary', {})
    planned = planned_seeds(study, block)
    rows += confirmation_rows(block, comparisons, found, planned)
  if not rows:
    return ''
  return (
    '## The confirmation on fresh seeds\n\nEach arm at its chosen rate, '
    'seeds none of the choices saw; test errors of the validation-selected '
    'epoch, arm minus control in points of %, paired by seed: the mean with '
    'its 95% confidence interval (t, n − 1 degrees of freedom) and the '
    'two-sided paired t-test p. Rows marked headline are the tests stated '
    'before their runs (one a confirmation), each read once all its planned '
    'seeds have run; until then a row says how many have.\n\n'
    '| block | arm − control | metric | test | seeds | mean (per seed) '
    '| 95% CI | p |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n'
    + '\n'.join(sorted(rows, key=lambda row: '| headline' not in row))
    + '\n\n'
  )


def planned_seeds(study, block):
  """How many seeds the jobs of a block are to run (0 if it has none yet)."""
  jobs = study.blocks.get(block, ())
  return max((len(studies.job_config(study, j).seeds) for j in jobs), default=0)


def confirmation_rows(block, comparisons, found, planned):
  """The rows of a block's comparisons found in its summary, top-1 first."""
  rows = []
  for arm, control, is_headline in comparisons:
    difference = found.get(f'{arm} - {control}')
    for metric in summary.METRICS if difference else ():
      test = (
        'headline' if is_headline and metric == 'top1_error' else 'secondary'
      )
      rows.append(
        confirmation_row(
          block, f'{arm} − {control}', difference, metric, test, planned
        )
      )
  return rows


def confirmation_row(block, comparison, difference, metric, test, planned):
  """One comparison's row: mean, per seed, 95% CI and p of `metric`."""
  seeds = len(difference['seeds'])
  if seeds < planned:
    test += f', {seeds} of {planned} seeds so far'
  stats = difference[f'selected_{metric}']
  interval = summary.confidence_interval(stats['per_seed'])
  return tables.markdown_row(
    [
      block,
      comparison,
      metric.replace('_error', ''),
      test,
      seeds,
      f'{100 * stats["mean"]:+.2f} ({tables.per_seed(stats)})',
      'n/a'
      if interval is None
      else '[{:+.2f}, {:+.2f}]'.format(*(100 * bound for bound in interval)),
      tables.p_value(stats),
    ]
  )


# A diverged run counts at chance: 99 of 100 classes wrong, 95 not in a top 5.
CHANCE = {'val_top1_error': 0.99, 'top1_error': 0.99, 'top5_error': 0.95}
SWEEP_METRICS = ('val_top1_error', 'top1_error', 'top5_error')


def seed_errors(block, arm, seeds):
  """Seed -> the selected epoch's errors (chance where it diverged)."""
  runs = block['runs'].get(arm, {})
  diverged = block.get('diverged', {}).get(arm, [])
  errors = {}
  for seed in seeds:
    if seed in diverged:
      errors[seed] = dict(CHANCE)
    elif str(seed) in runs:
      records = runs[str(seed)]
      errors[seed] = {
        m: summary.pick(records, 'selected', m) for m in SWEEP_METRICS
      }
  return errors


def sweep_points(study, blocks, arms, field, prefix):
  """(rate, arm, seed -> errors, diverged count) of one sweep, by rate."""
  points = []
  for name, block in blocks.items():
    if not name.startswith(prefix):
      continue
    rate = block['config'][field]
    for arm in arms:
      errors = seed_errors(block, arm, study.options['seeds'])
      diverged = len(block.get('diverged', {}).get(arm, []))
      if errors:
        points.append((rate, arm, errors, diverged))
  return sorted(points, key=lambda point: (point[0], arms.index(point[1])))


def study_sweep_points(study, blocks):
  """Sweep name -> its `sweep_points`, for each sweep with a point run."""
  found = {}
  for name, each in study.options.get('sweeps', {}).items():
    arms = (each.baseline, each.plp)
    points = sweep_points(study, blocks, arms, each.field, each.prefix)
    if points:
      found[name] = points
  return found


def chosen_rates(points, seeds):
  """Arm -> (rate, mean validation top-1) of its lowest mean, over `seeds`."""
  best = {}
  for rate, arm, errors, _ in summary.complete_points(points, seeds):
    mean = summary.mean_std([e['val_top1_error'] for e in errors.values()])
    if arm not in best or mean['mean'] < best[arm][1]:
      best[arm] = (rate, mean['mean'])
  return best


def sweep_table(points):
  """One row per rate and arm: its seeds, diverged runs and errors."""
  lines = [
    '| base rate | arm | seeds | diverged | val top-1 | test top-1 '
    '| test top-5 |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ]
  for rate, arm, errors, diverged in points:
    cells = [
      tables.pct(summary.mean_std([e[m] for e in errors.values()]))
      for m in SWEEP_METRICS
    ]
    lines.append(
      tables.markdown_row([f'{rate:g}', arm, len(errors), diverged, *cells])
    )
  return '\n'.join(lines)


def sweep(study, blocks):
  """Each sweep's grid: errors per rate and arm, and each arm's chosen rate."""
  text = (
    '## The learning-rate sweeps\n\nAt the validation-selected epoch, in %, '
    'mean ± std over the seeds run so far; a diverged run counts at chance '
    "(99% top-1, 95% top-5). Each arm's rate is chosen by the lowest mean "
    'validation top-1 error over all three seeds.\n\n'
  )
  for name, points in study_sweep_points(study, blocks).items():
    said = chosen_so_far(points, study.options['seeds'])
    text += (
      f'### {name}\n\n![{name}: top-1 error against the learning rate]'
      f'({sweep_figure(name)})\n\n{sweep_table(points)}\n\n'
      f'Chosen so far: {said or "no point has all three seeds yet"}.\n\n'
    )
  return text


def chosen_so_far(points, seeds):
  """Each arm's chosen rate, marked where the grid is to be extended.

  That is where the rate is the lowest or highest that the arm has run on
  every seed.
  """
  said = []
  complete_runs = summary.complete_points(points, seeds)
  for arm, (rate, error) in chosen_rates(points, seeds).items():
    complete = [p[0] for p in complete_runs if p[1] == arm]
    edge = rate in (min(complete), max(complete))
    note = ', at an edge of the complete points: extend the grid' * edge
    said.append(f'{arm} {rate:g} ({100 * error:.2f}{note})')
  return '; '.join(said)


def sweep_figure(name):
  """The file name of a sweep's figure, beside the report."""
  return f'sweep_{name}.png'


def model_setting(config):
  """Its model, width and length in words: 'ResNet18 width 1/16, 13 epochs'."""
  width = optimizers.as_fraction(config.width)
  return f'{config.model} width {width}, {config.epochs} epochs'


def sweep_figures(study, blocks, out):
  """Draws each sweep's figure to OUT/sweep_NAME.png; their paths."""
  paths, config = [], study.base_config()
  for name, points in study_sweep_points(study, blocks).items():
    each = study.options['sweeps'][name]
    # The baseline's curve shifted by its control's longer step: PLP's step
    # at the study's prediction settings (7/6 at the paper's).
    factor = optimizers.rate_scale(each.matched, config)
    title = f'{name}, {model_setting(config)}: mean ± std over seeds'
    path = os.path.join(out, sweep_figure(name))
    longer_step, seeds = (each.baseline, factor), study.options['seeds']
    paths.append(plots.plot_sweep(path, title, points, longer_step, seeds))
  return paths
