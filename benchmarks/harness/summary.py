"""Statistics of runs: means over seeds, paired differences and their tests,
the power of a paired test."""

import numpy as np
from scipy import special

# scipy.stats and scipy.optimize are imported where they are used: a run's
# process needs neither (its summary's p-values are the t distribution's
# tail, `special`), and they take most of a second to import in every
# process a study or a test starts.


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
  # scipy.stats.ttest_1samp's: t = mean / √(var / n), var with n − 1
  # degrees of freedom, and twice the tail beyond |t| of the t distribution
  # with n − 1 of them.
  values = np.asarray(differences, np.float64)
  n = len(values)
  t = values.mean() / np.sqrt(values.var(ddof=1) / n)
  return float(2 * special.stdtr(n - 1, -abs(t)))


def confidence_interval(differences, level=0.95):
  """(low, high): the t interval of the mean of paired differences.

  mean ± t_{(1 + level) / 2, n - 1} · std / √n; None with fewer than 2.
  """
  if len(differences) < 2:
    return None
  values = np.asarray(differences, np.float64)
  if np.all(values == values[0]):  # scipy's interval is NaN without spread
    return float(values[0]), float(values[0])
  from scipy import stats

  interval = stats.ttest_1samp(values, 0.0).confidence_interval(level)
  return float(interval.low), float(interval.high)


def paired_power(effect, spread, n, alpha=0.05):
  """The two-sided paired t-test's chance of rejecting 0 at a true effect.

  The statistic mean / (spread / √n) follows a noncentral t with n − 1
  degrees of freedom and noncentrality effect / (spread / √n); it rejects
  beyond ±t_{1 - alpha / 2, n - 1}.
  """
  from scipy import stats

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
  from scipy import optimize

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


def comparisons(arms, controls):
  """(arm, control) pairs: each arm against the first, and `controls`'.

  `controls`: (arm, control) pairs compared wherever both ran (the task's).

  Each pair comes once: a control may be an arm against the first already
  (a PLP arm against its base, the first).
  """
  pairs = [(arm, arms[0]) for arm in arms[1:]]
  pairs += [pair for pair in controls if set(pair) <= set(arms)]
  return list(dict.fromkeys(pairs))


def with_differences(summary, done, pairs, difference):
  """`summary` with `difference` of each (arm, control) pair's finished
  runs (`done`: arm -> seed -> records), where both arms have some."""
  for arm, control in pairs:
    if arm in summary and control in summary:
      summary[f'{arm} - {control}'] = difference(done[arm], done[control])
  return summary
