"""Every pre-stated comparison the project has run, in one table and one
forest plot, computed from the committed results.json files.

  python -m benchmarks.studies comparisons [--out=benchmarks/results]

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
from benchmarks.studies import prediction_step
from benchmarks.studies import report

RESULTS_FOLDER = 'benchmarks/results'  # where the table and plot are kept


class Measure(NamedTuple):
  """What a comparison's test was stated for, and how it is shown."""

  metric: str  # the block summary's key of the paired differences
  scale: float  # from the metric to `unit`
  unit: str
  decimals: int
  axis: str  # the forest plot's label
  note: str  # the table's, below it
  paper_gain: float | None  # the paper's claimed difference, where it made one


# CIFAR-100's: test top-1 error of the validation-selected epoch, in points.
TOP1_POINTS = Measure(
  'selected_top1_error', 100, 'points', 2,
  'CIFAR-100: PLP − control, test top-1 error in points (95% CI)',
  'CIFAR-100: test top-1 error of the validation-selected epoch, arm minus '
  'control in points (negative: PLP better), paired by seed on fresh '
  'seeds; the 95% CI is the paired t interval; "detectable" is the smallest '
  'true difference the test finds with 80% power at the spread observed.',
  -1.0,  # the paper's claim: about 1 point lower error
)  # fmt: skip


# The language model's: final test loss at the end of the budget, in nats.
LOSS_NATS = Measure(
  'final_test_loss', 1, 'nats/char', 4,
  'Shakespeare: PLP − control, final test loss in nats/char (95% CI)',
  'Shakespeare: final test loss in nats per character at the last step, '
  'arm minus control (negative: PLP better), paired by seed on fresh seeds; '
  'the 95% CI and "detectable" as above.',
  None,  # the paper made no claim about a language model
)  # fmt: skip


class Comparison(NamedTuple):
  """A comparison stated before its runs: where its runs are, what it is."""

  setting: str
  study: str
  block: str
  arm: str
  control: str
  test: str  # 'headline' or 'secondary', as it was stated
  measure: Measure = TOP1_POINTS
  # Jobs whose runs must all be in too: a confirmation read only whole.
  waits_for: tuple[str, ...] = ()


# In the order they were stated.
PRE_STATED = (
  Comparison(
    'ResNet18 width 1/16, 13 epochs', 'lr_sweep', 'confirm_sgd',
    'plp', 'sgd', 'headline',
  ),
  Comparison(
    'ResNet18 width 1/16, 13 epochs', 'lr_sweep',
    'confirm_adamw', 'adamw_plp', 'adamw', 'secondary',
  ),
  Comparison(
    'ResNet18 width 1/8, 26 epochs', 'lr_sweep',
    'confirm_wider_sgd', 'plp', 'sgd', 'headline',
  ),
  Comparison(
    "ResNet18 width 1/16, 13 epochs, PLP at SGD's rate",
    'lr_sweep', 'untuned_sgd', 'plp', 'sgd', 'secondary',
  ),
  # PLP at AdamW's rate, its drop-in secondary, is this very test: the two
  # chosen rates are one (adamw_peers.CHOSEN, entered before its runs).
  Comparison(
    'char GPT, 2,000 steps', 'adamw_peers', 'confirm',
    'adamw_plp', 'adamw', 'headline', LOSS_NATS,
  ),
  Comparison(
    'char GPT, 2,000 steps, k = −0.5',
    'prediction_step', 'headline', 'adamw_plp', 'adamw', 'headline',
    LOSS_NATS, tuple(prediction_step.CONFIRMATION_JOBS),
  ),
)  # fmt: skip


class Row(NamedTuple):
  """A comparison's numbers, in its measure's unit."""

  comparison: Comparison
  n: int
  mean: float
  low: float
  high: float
  detectable: float  # the smallest effect the test detects with 80% power


def all_in(study, jobs, block):
  """Whether every planned run of `jobs`, of every arm, has finished or
  diverged (and some are planned): nothing is read from a block before, not
  even a comparison of two arms whose runs are all in."""
  own = [job for job in jobs if job in study.jobs]  # less borrowed runs
  planned = studies.planned_runs(study, own) if own else ()
  arms = {arm for _, _, config in planned for arm in config.arms}
  return bool(planned) and all(
    {seed for _, seed, config in planned if arm in config.arms}
    <= report.seeds_in(block, arm)
    for arm in arms
  )


def jobs_in(study, jobs):
  """Whether every planned run of each of `jobs` has finished or diverged."""
  return all(
    all_in(study, (job,), report.load_block(study, study.out, (job,)))
    for job in jobs
  )


def measured(comparison):
  """The comparison's Row from its study's committed runs; None until all
  of them are in, and those it waits for (or before its block is planned)."""
  study = studies.load(comparison.study)
  jobs = study.report_blocks.get(comparison.block, ())
  block = report.load_block(study, study.out, jobs) if jobs else None
  if not all_in(study, jobs, block) or not jobs_in(study, comparison.waits_for):
    return None
  measure = comparison.measure
  pair = block['summary'][f'{comparison.arm} - {comparison.control}']
  differences = [measure.scale * d for d in pair[measure.metric]['per_seed']]
  low, high = summary.confidence_interval(differences)
  spread = summary.mean_std(differences)['std']
  detectable = summary.detectable_effect(spread, len(differences))
  return Row(
    comparison, len(differences), sum(differences) / len(differences), low,
    high, detectable,
  )  # fmt: skip


def reading(row):
  """What the interval allows one to say, in words."""
  decimals, unit = row.comparison.measure.decimals, row.comparison.measure.unit
  low, high = (f'{abs(v):.{decimals}f}' for v in (row.low, row.high))
  if row.low > 0:
    return f'PLP worse (by {low} to {high} {unit})'
  if row.high < 0:
    return f'PLP better (by {high} to {low} {unit})'
  return f'not distinguishable from zero; a gain above {low} {unit} ruled out'


def measure_table(rows):
  """The markdown table of rows of one measure, and its note."""
  decimals = rows[0].comparison.measure.decimals
  cells = [
    [
      f'{row.comparison.setting}: `{row.comparison.arm}` − '
      f'`{row.comparison.control}` ({row.comparison.test})',
      tables.signed(
        f'{row.mean:+.{decimals}f} '
        f'[{row.low:+.{decimals}f}, {row.high:+.{decimals}f}]'
      ),
      row.n,
      f'{row.detectable:.{decimals}f}',
      reading(row),
    ]
    for row in rows
  ]
  # The difference next to what it compares: on a phone's screen the two
  # show before the table scrolls.
  headers = ['comparison', 'difference [95% CI]', 'n', 'detectable', 'reading']
  return (
    tables.compact_markdown(cells, headers)
    + f'\n\n{rows[0].comparison.measure.note}\n'
  )


def by_measure(rows):
  """The rows grouped by their measure, in the order first stated."""
  groups = {}
  for row in rows:
    groups.setdefault(row.comparison.measure, []).append(row)
  return list(groups.values())


def table(rows):
  """A markdown table of the rows of each measure, one after the other."""
  return '\n'.join(measure_table(group) for group in by_measure(rows))


# The forest plot's inches: its width (shown at a column's 390-700 px, its
# text stays 9 px or more), a row's height and a panel's axis and margins.
FOREST_WIDTH, ROW_INCHES, PANEL_INCHES = 6, 0.75, 1.1


@plots.readable
def forest_plot(rows, path):
  """Each difference with its interval, a panel per measure, zero and the
  paper's claim marked; each row's label above its interval, so that the
  intervals take the figure's whole width (readable on a phone too)."""
  plt = plots.pyplot()
  groups = by_measure(rows)
  heights = [ROW_INCHES * len(group) + PANEL_INCHES for group in groups]
  figure, axes = plt.subplots(
    len(groups), 1, figsize=(FOREST_WIDTH, sum(heights)), squeeze=False,
    gridspec_kw={'height_ratios': heights},
  )  # fmt: skip
  for axis, group in zip(axes[:, 0], groups, strict=True):
    forest_panel(axis, group)
  return plots.save(figure, path, dpi=100)


def forest_panel(axis, rows):
  """One measure's differences on `axis`, the first row at the top."""
  left = axis.get_yaxis_transform()  # x in the axes' fraction, y in data
  for y, row in enumerate(reversed(rows)):
    axis.errorbar(
      row.mean, y, xerr=[[row.mean - row.low], [row.high - row.mean]],
      fmt='o', color='black', capsize=4,
    )  # fmt: skip
    label = (
      f'{row.comparison.arm} − {row.comparison.control}: '
      f'{row.comparison.setting}'
    )
    axis.text(0.01, y + 0.22, label, transform=left, va='bottom', fontsize=10)
  axis.axvline(0, color='gray', linewidth=1)
  measure = rows[0].comparison.measure
  if measure.paper_gain is not None:
    axis.axvline(
      measure.paper_gain, color='tab:green', linestyle='--', linewidth=1
    )
    axis.text(
      measure.paper_gain, -0.45, " paper's claim", color='tab:green',
      ha='left', va='bottom', fontsize=10,
    )  # fmt: skip
  axis.set_yticks([])
  axis.set_ylim(-0.5, len(rows) - 0.2)
  axis.set_xlabel(measure.axis)
  axis.grid(axis='x', alpha=0.3)


def write(out=RESULTS_FOLDER):
  """Writes OUT/comparisons.md and OUT/comparisons.png; returns the table."""
  rows = [row for row in map(measured, PRE_STATED) if row]
  text = table(rows)
  with open(os.path.join(out, 'comparisons.md'), 'w') as file:
    file.write(text)
  forest_plot(rows, os.path.join(out, 'comparisons.png'))
  return text
