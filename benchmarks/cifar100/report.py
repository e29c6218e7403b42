"""Results of a CIFAR-100 comparison: summary, table, curves and JSON file."""

import glob
import json
import os
import shutil
import tempfile

import jax
import numpy as np

from benchmarks.cifar100 import models
from benchmarks.cifar100 import optimizers
from benchmarks.cifar100 import trajectory

METRICS = ('top1_error', 'top5_error')
KINDS = ('final', 'best', 'selected')


def mean_std(values):
  values = np.asarray(values, np.float64)
  std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
  return {'mean': float(values.mean()), 'std': std, 'n': len(values)}


def paired_p_value(differences):
  """Two-sided paired t-test p-value of the differences (None if < 2)."""
  if len(differences) < 2:
    return None
  from scipy import stats  # noqa: PLC0415  (optional, only for summaries)

  if np.allclose(differences, differences[0]):
    return 1.0 if differences[0] == 0 else 0.0
  return float(stats.ttest_1samp(differences, 0.0).pvalue)


def finished(runs, arm, epochs):
  """Seed -> records of the runs of `arm` that trained all `epochs`.

  A diverged run (its last record marked ``'diverged'``) never finishes.
  """
  return {
    s: r
    for s, r in runs[arm].items()
    if len(r) == epochs and not r[-1].get('diverged')
  }


def epochs_to_reach(curve, target):
  """First epoch (1-based) whose value is <= target, else None."""
  hits = np.flatnonzero(np.asarray(curve) <= target + 1e-12)
  return int(hits[0]) + 1 if len(hits) else None


def selected_epoch(records):
  """The epoch (1-based) of lowest validation top-1 error, the first if tied.

  This is the paper's "optimal model": the one a validation split selects.
  """
  return int(np.argmin([r['val_top1_error'] for r in records])) + 1


def pick(records, kind, metric):
  """A metric's final, best (lowest) or validation-selected value in a run."""
  values = [record[metric] for record in records]
  if kind == 'final':
    return values[-1]
  if kind == 'selected':
    return values[selected_epoch(records) - 1]
  return min(values)


def kinds_of(runs):
  """'final' and 'best', and 'selected' where the runs were validated."""
  validated = all(
    'val_top1_error' in r for seeds in runs.values() for h in seeds.values()
    for r in h
  )  # fmt: skip
  return KINDS if validated else KINDS[:2]


def arm_summary(done, kinds):
  """Errors of one arm's finished runs over seeds, and its mean curves."""
  entry = {'seeds': sorted(done)}
  for metric in METRICS:
    for kind in kinds:
      values = [pick(r, kind, metric) for r in done.values()]
      entry[f'{kind}_{metric}'] = mean_std(values)
    curves = np.array([[r[metric] for r in h] for h in done.values()])
    entry[f'mean_curve_{metric}'] = curves.mean(axis=0).tolist()
  if 'selected' in kinds:
    epochs = [selected_epoch(r) for r in done.values()]
    entry['selected_epoch'] = {**mean_std(epochs), 'per_seed': epochs}
  rates = [
    np.median([r['images_per_second'] for r in h]) for h in done.values()
  ]
  entry['images_per_second'] = mean_std(rates)
  return entry


def paired_difference(arm_runs, control_runs, kinds):
  """Arm minus control per metric and kind, paired by seed, with t-tests."""
  seeds = sorted(set(arm_runs) & set(control_runs))
  difference = {'seeds': seeds}
  for kind in kinds:
    for metric in METRICS:
      diffs = [
        pick(arm_runs[s], kind, metric) - pick(control_runs[s], kind, metric)
        for s in seeds
      ]
      difference[f'{kind}_{metric}'] = difference_stats(diffs)
  return difference


def difference_stats(differences):
  """Mean ± std of paired differences, the values and their t-test p."""
  return {
    **mean_std(differences),
    'per_seed': list(differences),
    'paired_t_test_p': paired_p_value(differences),
  }


def comparisons(arms):
  """(arm, control) pairs: each arm against the first, and the controls."""
  pairs = [(arm, arms[0]) for arm in arms[1:]]
  return pairs + [
    pair for pair in optimizers.CONTROLS if set(pair) <= set(arms)
  ]


def summarize(runs, arms, epochs):
  """Per arm: errors over seeds; per comparison: paired differences."""
  kinds = kinds_of(runs)
  summary = {}
  for arm in arms:
    done = finished(runs, arm, epochs)
    if done:
      summary[arm] = arm_summary(done, kinds)
  if arms[0] in summary:
    target = summary[arms[0]]['final_top1_error']['mean']
    for entry in summary.values():
      entry['epochs_to_baseline_final_top1'] = epochs_to_reach(
        entry['mean_curve_top1_error'], target
      )
  for arm, control in comparisons(arms):
    if arm in summary and control in summary:
      summary[f'{arm} - {control}'] = paired_difference(
        finished(runs, arm, epochs), finished(runs, control, epochs), kinds
      )
  return summary


def write_json_atomically(path, data):
  """Writes JSON to a temporary file beside `path`, then renames it."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  with tempfile.NamedTemporaryFile(
    'w', dir=directory, suffix='.tmp', delete=False
  ) as file:
    json.dump(data, file, indent=1)
  os.replace(file.name, path)


def load_results(directory):
  """The results in `directory`, merging its seed_N/ run directories if any.

  `study` trains each seed of a job in a directory of its own; the merged
  results hold every arm and seed and the first run's config and data sizes,
  and no summary (see `summarize`). None where there are no results.
  """
  path = os.path.join(directory, 'results.json')
  if os.path.exists(path):
    with open(path) as file:
      return json.load(file)
  seed_dirs = sorted(glob.glob(os.path.join(directory, 'seed_*')))
  return merge_results([load_results(d) for d in seed_dirs])


def merge_results(parts):
  """One results dict holding every arm and seed of `parts` (Nones skipped).

  The config and data sizes are the first part's; there is no summary.
  """
  merged = None
  for part in parts:
    if part is None:
      continue
    merged = merged or {
      'config': part['config'],
      'data': part['data'],
      'runs': {},
    }
    for arm, seeds in part['runs'].items():
      merged['runs'].setdefault(arm, {}).update(seeds)
  return merged


def merged_block(parts):
  """Runs of one config but for their arms (`parts`), as one summarised
  results dict whose arms are all of theirs; None where every part is None.
  """
  merged = merge_results(parts)
  if merged is None:
    return None
  merged['config'] = {**merged['config'], 'arms': list(merged['runs'])}
  return with_summary(merged)


def with_summary(results):
  """`results` with a summary computed from its runs where it has none."""
  if 'summary' in results:
    return results
  runs = {
    arm: {int(s): r for s, r in seeds.items()}
    for arm, seeds in results['runs'].items()
  }
  arms = [a for a in results['config']['arms'] if a in runs]
  arms += [a for a in runs if a not in arms]
  epochs = results['config']['epochs']
  return {**results, 'summary': summarize(runs, arms, epochs)}


def copy_results(source, destination):
  """Copies a run or job directory's results and plots, not its checkpoints."""
  shutil.copytree(
    source,
    destination,
    ignore=shutil.ignore_patterns('checkpoints', '*.tmp'),
    dirs_exist_ok=True,
  )


# A record's fields that a rerun, a resumed run or another process layout must
# reproduce; its speed and wall time it need not.
REPRODUCIBLE = (
  'epoch', 'train_loss', 'test_loss', 'top1_error', 'top5_error', 'trajectory',
)  # fmt: skip


def reproducible(results):
  """The REPRODUCIBLE fields of every record of `results`, run by run."""
  return {
    arm: {
      seed: [{k: r.get(k) for k in REPRODUCIBLE} for r in records]
      for seed, records in seeds.items()
    }
    for arm, seeds in results['runs'].items()
  }


def collect_results(config, runs, data_sizes):
  """What results.json holds: the config, the data, every run, the summary."""
  return {
    'config': config.to_dict(),
    'data': data_sizes,
    'runs': {
      arm: {str(s): h for s, h in seeds.items()} for arm, seeds in runs.items()
    },
    'summary': summarize(runs, list(config.arms), config.epochs),
  }


def write_results(workdir, results):
  write_json_atomically(os.path.join(workdir, 'results.json'), results)


def format_table(results):
  """The side-by-side table of the errors (in %), one column per kind."""

  def pct(stats):
    return f'{100 * stats["mean"]:6.2f} ± {100 * stats["std"]:4.2f}'

  summary = results['summary']
  kinds = [
    k for k in KINDS if any(f'{k}_top1_error' in v for v in summary.values())
  ]
  titles = [f'{kind} {m}' for m in ('top-1', 'top-5') for kind in kinds]
  header = f'{"arm":22s} ' + ' '.join(f'{t:>15s}' for t in titles)
  header += f' {"images/s":>9s}'
  lines = [header, '-' * len(header)]
  for name, entry in summary.items():
    cells = [pct(entry[f'{k}_{m}']) for m in METRICS for k in kinds]
    rate = entry.get('images_per_second')
    rate = f'{rate["mean"]:9.0f}' if rate else ''
    lines.append(
      f'{name:22s} ' + ' '.join(f'{c:>15s}' for c in cells) + f' {rate}'
    )
  seeds = {len(v.get('seeds', [])) for v in summary.values()}
  lines.append(f'errors in %, mean ± std over {max(seeds, default=0)} seed(s)')
  if 'selected' in kinds:
    lines.append(
      'selected: test errors at the epoch of lowest validation top-1 error'
    )
  return '\n'.join(lines)


def plot_curves(workdir, results):
  """Test top-1 error and train loss per epoch, mean and range over seeds.

  Where the runs were validated, a marker shows each seed's selected epoch
  and its test top-1 error.
  """
  import matplotlib  # noqa: PLC0415  (optional, only for plots)

  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # noqa: PLC0415
  from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

  figure, axes = plt.subplots(1, 2, figsize=(11, 4))
  marked = False
  for arm, seeds in results['runs'].items():
    runs = [r for r in seeds.values() if r]
    if runs:
      color = plot_arm(axes, arm, runs)
      marked |= mark_selected(axes[0], runs, color)
  if marked:
    axes[0].plot([], [], 'v', color='gray', label='selected by validation')
  axes[0].set(xlabel='epoch', ylabel='test top-1 error (%)')
  axes[1].set(xlabel='epoch', ylabel='train loss', yscale='log')
  for axis in axes:
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.grid(alpha=0.3)
    axis.legend()
  return save_figure(
    figure, results['config'], 'mean and range over seeds', workdir, 'curves'
  )


def plot_arm(axes, arm, runs):
  """One arm's mean curves and their range over seeds; returns its colour."""
  length = min(len(r) for r in runs)
  epochs = np.arange(1, length + 1)
  for axis, metric, scale in (
    (axes[0], 'top1_error', 100),
    (axes[1], 'train_loss', 1),
  ):
    values = scale * np.array([[e[metric] for e in r[:length]] for r in runs])
    (line,) = axis.plot(epochs, values.mean(axis=0), label=arm)
    axis.fill_between(
      epochs,
      values.min(axis=0),
      values.max(axis=0),
      color=line.get_color(),
      alpha=0.2,
    )
  return line.get_color()


def mark_selected(axis, runs, color):
  """Marks each validated run's selected epoch at its test top-1 error."""
  validated = [r for r in runs if all('val_top1_error' in e for e in r)]
  for records in validated:
    epoch = selected_epoch(records)
    axis.plot(epoch, 100 * records[epoch - 1]['top1_error'], 'v', color=color)
  return bool(validated)


def save_figure(figure, config, title, workdir, name):
  """Titles `figure` with the model, saves it as workdir/name.png, closes it."""
  import matplotlib.pyplot as plt  # noqa: PLC0415  (optional, only for plots)

  figure.suptitle(
    f'CIFAR-100, {config["model"]} width {config["width"]}:\n{title}'
  )
  figure.tight_layout()
  path = os.path.join(workdir, f'{name}.png')
  figure.savefig(path, dpi=110)
  plt.close(figure)
  return path


def new_model(config):
  """The model a results file's config describes, freshly initialised."""
  return models.create(config['model'], width=config['width'])


def layer_order(config):
  """The model's kernel names from input to output, without initialising it.

  (Tracing skips the many small initialisations, which take a minute for
  GoogLeNet on a CPU; nnx.eval_shape would sort the attributes.)
  """
  names = []
  jax.eval_shape(
    lambda: names.extend(trajectory.layer_order(new_model(config)))
  )
  return names


def trajectory_curves(runs):
  """Steps and, per probed name, the relative errors averaged over seeds."""
  probes = [[p for r in h for p in r.get('trajectory', [])] for h in runs]
  length = min(len(p) for p in probes)
  if not length:
    return None, {}
  steps = [p['step'] for p in probes[0][:length]]
  layers = probes[0][0]['relative_error']
  return steps, {
    name: np.mean(
      [[p['relative_error'][name] for p in run[:length]] for run in probes],
      axis=0,
    )
    for name in layers
  }


def plot_trajectory(workdir, results):
  """Per layer, how far PLP's prediction lands from training's path."""
  import matplotlib  # noqa: PLC0415  (optional, only for plots)

  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # noqa: PLC0415

  probed = {}
  for arm, seeds in results['runs'].items():
    runs = [h for h in seeds.values() if h]
    steps, errors = trajectory_curves(runs) if runs else (None, {})
    if errors:
      probed[arm] = steps, errors, len(runs)
  if not probed:
    return None
  figure, axes = plt.subplots(
    1, len(probed), figsize=(max(8, 6 * len(probed)), 4.4), squeeze=False
  )
  for axis, (arm, (steps, errors, seeds)) in zip(
    axes[0], probed.items(), strict=True
  ):
    layers = layer_order(results['config'])
    colors = plt.cm.viridis(np.linspace(0, 1, len(layers)))
    for name, color in zip(layers, colors, strict=True):
      axis.plot(steps, errors[name], color=color, lw=0.8, alpha=0.8)
    axis.plot(
      steps, errors[trajectory.ALL], color='black', lw=2, label='all parameters'
    )
    axis.axhline(1, color='red', ls='--', lw=1, label='no better than h3')
    axis.set(
      xlabel='step',
      ylabel='||prediction - m34|| / ||m34 - h3||',
      ylim=(0, None),
      title=f'{arm}: {len(layers)} layers, input (purple) to output '
      f'(yellow); mean of {seeds} seed(s)',
    )
    axis.title.set_fontsize(9)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
  return save_figure(
    figure,
    results['config'],
    "where PLP's prediction (step size 1) lands from plain training's path",
    workdir,
    'trajectory',
  )
