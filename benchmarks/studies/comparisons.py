"""Every pre-stated comparison the project has run, in one table and one
forest plot, computed from the committed results.json files.

  python -m benchmarks.studies comparisons [--out benchmarks/results]

writes OUT/comparisons.md (the table the README shows) and
OUT/comparisons.png (the forest plot). Each comparison is a block of a
study's committed runs, an arm minus its control, paired by seed, in the
metric its test was stated for before its runs.
"""

import os
from typing import NamedTuple

from benchmarks import studies
from benchmarks.harness import summary
from benchmarks.reporting import plots
from benchmarks.reporting import tables
from benchmarks.studies import report


class Comparison(NamedTuple):
  """A comparison stated before its runs: where its runs are, what it is."""

  setting: str
  study: str
  block: str
  arm: str
  control: str
  test: str  # 'headline' or 'secondary', as it was stated


# In the order they were stated. CIFAR-100's metric: test top-1 error of the
# validation-selected epoch, in points.
PRE_STATED = (
  Comparison(
    'CIFAR-100, ResNet18 width 1/16, 13 epochs', 'lr_sweep', 'confirm_sgd',
    'plp', 'sgd', 'headline',
  ),
  Comparison(
    'CIFAR-100, ResNet18 width 1/16, 13 epochs', 'lr_sweep',
    'confirm_adamw', 'adamw_plp', 'adamw', 'secondary',
  ),
  Comparison(
    'CIFAR-100, ResNet18 width 1/8, 26 epochs', 'lr_sweep',
    'confirm_wider_sgd', 'plp', 'sgd', 'headline',
  ),
  Comparison(
    "CIFAR-100, ResNet18 width 1/16, 13 epochs, PLP at SGD's rate",
    'lr_sweep', 'untuned_sgd', 'plp', 'sgd', 'secondary',
  ),
)  # fmt: skip
METRIC = 'selected_top1_error'
PAPER_GAIN = -1.0  # the paper's claim: about 1 point lower error


class Row(NamedTuple):
  """A comparison's numbers, in points."""

  comparison: Comparison
  n: int
  mean: float
  low: float
  high: float
  detectable: float  # the smallest effect the test detects with 80% power


def measured(comparison):
  """The comparison's Row from its study's committed runs."""
  study = studies.load(comparison.study)
  jobs = study.report_blocks[comparison.block]
  block = report.load_block(study, study.out, jobs)
  stats = block['summary'][f'{comparison.arm} - {comparison.control}'][METRIC]
  differences = [100 * d for d in stats['per_seed']]
  low, high = summary.confidence_interval(differences)
  spread = summary.mean_std(differences)['std']
  detectable = summary.detectable_effect(spread, len(differences))
  return Row(
    comparison, len(differences), sum(differences) / len(differences), low,
    high, detectable,
  )  # fmt: skip


def reading(row):
  """What the interval allows one to say, in words."""
  if row.low > 0:
    return f'PLP worse (by {row.low:.2f} to {row.high:.2f} points)'
  if row.high < 0:
    return f'PLP better (by {-row.high:.2f} to {-row.low:.2f} points)'
  return (
    f'not distinguishable from zero; a gain above {-row.low:.2f} points '
    'ruled out'
  )


def table(rows):
  """The markdown table of the rows."""
  cells = [
    [
      row.comparison.setting,
      f'`{row.comparison.arm}` − `{row.comparison.control}` '
      f'({row.comparison.test})',
      row.n,
      tables.signed(f'{row.mean:+.2f} [{row.low:+.2f}, {row.high:+.2f}]'),
      f'{row.detectable:.2f}',
      reading(row),
    ]
    for row in rows
  ]
  headers = [
    'setting', 'comparison', 'n', 'difference [95% CI]',
    'detectable (80% power)', 'reading',
  ]  # fmt: skip
  return (
    tables.markdown(cells, headers)
    + '\n\nTest top-1 error of the validation-selected epoch, arm minus '
    'control in points (negative: PLP better), paired by seed on fresh seeds; '
    'the 95% CI is the paired t interval; "detectable" is the smallest true '
    'difference the test finds with 80% power at the spread observed.\n'
  )


@plots.readable
def forest_plot(rows, path):
  """Each difference with its interval on one axis, zero and the paper's
  claim marked; compact, readable at a README's width."""
  plt = plots.pyplot()
  figure, axis = plt.subplots(figsize=(9, 0.8 * len(rows) + 1.4))
  labels = [
    f'{r.comparison.arm} − {r.comparison.control}\n{r.comparison.setting}'
    for r in rows
  ]
  for y, row in enumerate(reversed(rows)):
    axis.errorbar(
      row.mean, y, xerr=[[row.mean - row.low], [row.high - row.mean]],
      fmt='o', color='black', capsize=4,
    )  # fmt: skip
  axis.axvline(0, color='gray', linewidth=1)
  axis.axvline(PAPER_GAIN, color='tab:green', linestyle='--', linewidth=1)
  axis.text(
    PAPER_GAIN, len(rows) - 0.45, " paper's claim", color='tab:green',
    ha='left', va='bottom',
  )  # fmt: skip
  axis.set_yticks(range(len(rows)), list(reversed(labels)), fontsize=9.5)
  axis.set_ylim(-0.6, len(rows) - 0.05)
  axis.set_xlabel('PLP − control: test top-1 error, points (95% CI)')
  axis.grid(axis='x', alpha=0.3)
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)
  return path


def write(out='benchmarks/results'):
  """Writes OUT/comparisons.md and OUT/comparisons.png; returns the table."""
  rows = [measured(comparison) for comparison in PRE_STATED]
  text = table(rows)
  with open(os.path.join(out, 'comparisons.md'), 'w') as file:
    file.write(text)
  forest_plot(rows, os.path.join(out, 'comparisons.png'))
  return text
