"""CIFAR-100's errors over seeds: a run's final, best and validation-selected
top-1 and top-5 test errors, each arm's over its seeds, and the paired
differences of the arms it compares (results.json's summary)."""

import functools

import numpy as np

from benchmarks.harness import summary

METRICS = ('top1_error', 'top5_error')


KINDS = ('final', 'best', 'selected')


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
  """Errors of one arm's finished runs over seeds, and its mean curves.

  Per-seed lists are in the seeds' order, as `paired_difference`'s are.
  """
  done = dict(sorted(done.items()))
  entry = {'seeds': list(done)}
  for metric in METRICS:
    for kind in kinds:
      values = [pick(r, kind, metric) for r in done.values()]
      entry[f'{kind}_{metric}'] = summary.mean_std(values)
    curves = np.array([[r[metric] for r in h] for h in done.values()])
    entry[f'mean_curve_{metric}'] = curves.mean(axis=0).tolist()
  if 'selected' in kinds:
    epochs = [selected_epoch(r) for r in done.values()]
    entry['selected_epoch'] = {**summary.mean_std(epochs), 'per_seed': epochs}
  rates = [
    np.median([r['images_per_second'] for r in h]) for h in done.values()
  ]
  entry['images_per_second'] = summary.mean_std(rates)
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
      difference[f'{kind}_{metric}'] = summary.difference_stats(diffs)
  return difference


def summarize(runs, arms, epochs, controls):
  """Per arm: errors over seeds; per comparison: paired differences.

  The comparisons are each arm against the first and `controls` (pairs).
  """
  kinds = kinds_of(runs)
  done = {arm: summary.finished(runs, arm, epochs) for arm in arms}
  entries = {arm: arm_summary(d, kinds) for arm, d in done.items() if d}
  if arms[0] in entries:
    target = entries[arms[0]]['final_top1_error']['mean']
    for entry in entries.values():
      entry['epochs_to_baseline_final_top1'] = summary.epochs_to_reach(
        entry['mean_curve_top1_error'], target
      )
  difference = functools.partial(paired_difference, kinds=kinds)
  return summary.with_differences(
    entries, done, summary.comparisons(arms, controls), difference
  )
