"""The language model's losses over seeds: each arm's final validation and
test losses, its mean loss curves, and the paired differences of the arms it
compares (results.json's summary); their table and figure."""

import os

import numpy as np
import tabulate

from benchmarks.harness import summary
from benchmarks.reporting import plots

# The final losses a language model's runs are compared in: at the end of the
# budget, on every window of the held-out splits.
METRICS = ('final_val_loss', 'final_test_loss')


def arm_summary(done):
  """One arm's final losses over seeds, and its mean loss curves."""
  done = dict(sorted(done.items()))
  entry = {'seeds': list(done)}
  for metric in METRICS:
    entry[metric] = summary.mean_std([r[-1][metric] for r in done.values()])
  for metric in ('val_loss', 'test_loss'):
    curves = np.array([[r[metric] for r in h] for h in done.values()])
    entry[f'mean_curve_{metric}'] = curves.mean(axis=0).tolist()
  rates = [
    np.median([r['tokens_per_second'] for r in h]) for h in done.values()
  ]
  entry['tokens_per_second'] = summary.mean_std(rates)
  return entry


def summarize(runs, arms, epochs, controls):
  """Per arm: final losses over seeds; per comparison (each arm against the
  first, and `controls`' pairs): paired differences."""
  done = {arm: summary.finished(runs, arm, epochs) for arm in arms}
  result = {arm: arm_summary(d) for arm, d in done.items() if d}
  pairs = summary.comparisons(list(arms), controls)
  return summary.with_differences(result, done, pairs, paired_difference)


def paired_difference(arm_runs, control_runs):
  """Arm minus control final losses, paired by seed, with t-tests."""
  seeds = sorted(set(arm_runs) & set(control_runs))
  return {'seeds': seeds} | {
    metric: summary.difference_stats(
      [arm_runs[s][-1][metric] - control_runs[s][-1][metric] for s in seeds]
    )
    for metric in METRICS
  }


def format_table(results):
  """The language model's side-by-side table: final losses in nats/char."""
  seeds = max(len(e['seeds']) for e in results['summary'].values())
  rows = []
  for name, entry in results['summary'].items():
    sign = '+' if ' - ' in name else ''
    cells = [
      f'{entry[m]["mean"]:{sign}.4f}'
      + (f' ± {entry[m]["std"]:.4f}' if seeds > 1 else '')
      for m in METRICS
    ]
    rate = entry.get('tokens_per_second')
    rows.append([name, *cells, f'{rate["mean"]:.0f}' if rate else ''])
  spread = (
    f'mean ± std over {seeds} seeds' if seeds > 1
    else 'one seed: no spread to show (set config.seeds for more)'
  )  # fmt: skip
  return (
    tabulate.tabulate(
      rows, ['arm', 'validation loss', 'test loss', 'tokens/s'],
      disable_numparse=True,
    )
    + f'\nnats per character at the end, {spread} (a difference: paired by '
    'seed), on every window of each split'
  )  # fmt: skip


@plots.readable
def plot_curves(workdir, results):
  """The language model's validation and train loss against the step,
  mean and range over seeds."""
  plt = plots.pyplot()
  figure, axes = plt.subplots(1, 2, figsize=plots.TWO_PANELS)
  for arm, seeds in results['runs'].items():
    runs = [r for r in map(summary.trained, seeds.values()) if r]
    length = min((len(r) for r in runs), default=0)
    if not length:
      continue
    steps = [e['step'] for e in runs[0][:length]]
    for axis, metric in zip(axes, ('val_loss', 'train_loss'), strict=True):
      values = np.array([[e[metric] for e in r[:length]] for r in runs])
      plots.mean_and_range(axis, steps, values.T, label=arm)
  axes[0].set(xlabel='step', ylabel='validation loss (nats/char)')
  axes[1].set(xlabel='step', ylabel='train loss (nats/char)')
  for axis in axes:
    plots.gridded(axis)
  figure.suptitle(f'Shakespeare, character GPT: {plots.over_seeds(results)}')
  return plots.save(figure, os.path.join(workdir, 'curves.png'), dpi=110)
