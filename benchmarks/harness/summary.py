"""Statistics of runs: errors over seeds, paired differences and their tests."""

import functools

import numpy as np
from scipy import optimize
from scipy import stats

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

  if np.allclose(differences, differences[0]):
    return 1.0 if differences[0] == 0 else 0.0
  return float(stats.ttest_1samp(differences, 0.0).pvalue)


def confidence_interval(differences, level=0.95):
  """(low, high): the t interval of the mean of paired differences.

  mean ± t_{(1 + level) / 2, n - 1} · std / √n; None with fewer than 2.
  """
  if len(differences) < 2:
    return None
  values = np.asarray(differences, np.float64)
  if np.all(values == values[0]):  # scipy's interval is NaN without spread
    return float(values[0]), float(values[0])
  interval = stats.ttest_1samp(values, 0.0).confidence_interval(level)
  return float(interval.low), float(interval.high)


def paired_power(effect, spread, n, alpha=0.05):
  """The two-sided paired t-test's chance of rejecting 0 at a true effect.

  The statistic mean / (spread / √n) follows a noncentral t with n − 1
  degrees of freedom and noncentrality effect / (spread / √n); it rejects
  beyond ±t_{1 - alpha / 2, n - 1}.
  """
  df, noncentrality = n - 1, effect / (spread / np.sqrt(n))
  critical = stats.t.ppf(1 - alpha / 2, df)
  # P(T < -c | δ) = P(T > c | -δ): scipy's nct.cdf far in a tail is NaN where
  # its sf is not.
  return float(
    stats.nct.sf(critical, df, noncentrality)
    + stats.nct.sf(critical, df, -noncentrality)
  )


def seeds_for_power(effect, spread, fewest, most, power=0.8):
  """(n, its power): the fewest seeds from `fewest` whose paired t-test has
  `power` for `effect` at `spread`, or `most` (with the power it reaches)
  where none up to it has."""
  for n in range(fewest, most + 1):
    reached = paired_power(effect, spread, n)
    if reached >= power:
      return n, reached
  return most, reached


def detectable_effect(spread, n, power=0.8, alpha=0.05):
  """The smallest effect the paired t-test detects with the given power.

  Power grows with the effect, and an effect of 20 spreads has power above
  0.97 at any n >= 2 (least at n = 2), so the root is bracketed for powers
  up to that. Without spread, every effect is detected.
  """
  if spread == 0:
    return 0.0
  return float(
    optimize.brentq(
      lambda effect: paired_power(effect, spread, n, alpha) - power,
      0.0,
      20.0 * spread,
    )
  )


def difference_stats(differences):
  """Mean ± std of paired differences, the values and their t-test p."""
  return {
    **mean_std(differences),
    'per_seed': list(differences),
    'paired_t_test_p': paired_p_value(differences),
  }


def finished(runs, arm, epochs):
  """Seed -> records of the runs of `arm` that trained all `epochs`.

  A diverged run (its last record marked ``'diverged'``) never finishes.
  """
  return {
    s: r
    for s, r in runs[arm].items()
    if len(r) == epochs and not r[-1].get('diverged')
  }


def trained(records):
  """A run's records of trained epochs: without a diverged run's marker."""
  return records[:-1] if records and records[-1].get('diverged') else records


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
  """Errors of one arm's finished runs over seeds, and its mean curves.

  Per-seed lists are in the seeds' order, as `paired_difference`'s are.
  """
  done = dict(sorted(done.items()))
  entry = {'seeds': list(done)}
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


def comparisons(arms, controls):
  """(arm, control) pairs: each arm against the first, and `controls`'.

  `controls`: (arm, control) pairs compared wherever both ran (the task's).

  Each pair comes once: a control may be an arm against the first already
  (a PLP arm against its base, the first).
  """
  pairs = [(arm, arms[0]) for arm in arms[1:]]
  pairs += [pair for pair in controls if set(pair) <= set(arms)]
  return list(dict.fromkeys(pairs))


def summarize(runs, arms, epochs, controls):
  """Per arm: errors over seeds; per comparison: paired differences.

  The comparisons are each arm against the first and `controls` (pairs).
  """
  kinds = kinds_of(runs)
  done = {arm: finished(runs, arm, epochs) for arm in arms}
  summary = {arm: arm_summary(d, kinds) for arm, d in done.items() if d}
  if arms[0] in summary:
    target = summary[arms[0]]['final_top1_error']['mean']
    for entry in summary.values():
      entry['epochs_to_baseline_final_top1'] = epochs_to_reach(
        entry['mean_curve_top1_error'], target
      )
  difference = functools.partial(paired_difference, kinds=kinds)
  return with_differences(
    summary, done, comparisons(arms, controls), difference
  )


def with_differences(summary, done, pairs, difference):
  """`summary` with `difference` of each (arm, control) pair's finished
  runs (`done`: arm -> seed -> records), where both arms have some."""
  for arm, control in pairs:
    if arm in summary and control in summary:
      summary[f'{arm} - {control}'] = difference(done[arm], done[control])
  return summary


# The final losses a language model's runs are compared in: at the end of the
# budget, on every window of the held-out splits.
LOSS_METRICS = ('final_val_loss', 'final_test_loss')


def loss_summary(done):
  """One arm's final losses over seeds, and its mean loss curves."""
  done = dict(sorted(done.items()))
  entry = {'seeds': list(done)}
  for metric in LOSS_METRICS:
    entry[metric] = mean_std([r[-1][metric] for r in done.values()])
  for metric in ('val_loss', 'test_loss'):
    curves = np.array([[r[metric] for r in h] for h in done.values()])
    entry[f'mean_curve_{metric}'] = curves.mean(axis=0).tolist()
  rates = [
    np.median([r['tokens_per_second'] for r in h]) for h in done.values()
  ]
  entry['tokens_per_second'] = mean_std(rates)
  return entry


def summarize_losses(runs, arms, epochs, controls):
  """Per arm: final losses over seeds; per comparison (each arm against the
  first, and `controls`' pairs): paired differences."""
  done = {arm: finished(runs, arm, epochs) for arm in arms}
  result = {arm: loss_summary(d) for arm, d in done.items() if d}
  pairs = comparisons(list(arms), controls)
  return with_differences(result, done, pairs, loss_difference)


def loss_difference(arm_runs, control_runs):
  """Arm minus control final losses, paired by seed, with t-tests."""
  seeds = sorted(set(arm_runs) & set(control_runs))
  return {'seeds': seeds} | {
    metric: difference_stats(
      [arm_runs[s][-1][metric] - control_runs[s][-1][metric] for s in seeds]
    )
    for metric in LOSS_METRICS
  }
