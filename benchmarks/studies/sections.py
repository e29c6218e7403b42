"""Sections of a study's report: a heading, what it shows, and its table.

Each is a function of the study and its blocks (block name -> merged and
summarised results) returning markdown, or '' where it has nothing to show.
What a section needs beyond the blocks it reads from the study's fields.
"""

from benchmarks.cifar100 import error_report
from benchmarks.cifar100 import probe_report

VALIDATED_KINDS = ('selected', 'final')


def compared(study, blocks):
  """The blocks that compare arms: all but the study's `measurements`."""
  return {n: b for n, b in blocks.items() if n not in study.measurements}


def arms(study, blocks):
  """Each block's arms (those of `study.arm_blocks`, if set)."""
  shown = compared(study, blocks)
  if study.arm_blocks is not None:
    shown = {n: b for n, b in shown.items() if n in study.arm_blocks}
    if not shown:
      return ''
  return (
    '## Test errors per arm\n\nIn %, mean ± std over the finished seeds; '
    '"selected" is the epoch of lowest validation top-1 error.\n\n'
    f'{error_report.arm_table(shown, VALIDATED_KINDS)}\n\n'
  )


def differences(study, blocks):
  """Each block's comparisons, paired by seed."""
  table = error_report.difference_table(
    compared(study, blocks), VALIDATED_KINDS
  )
  return (
    '## Paired differences\n\nIn points of %, arm minus control, paired by '
    f'seed; p of the two-sided paired t-test.\n\n{table}\n\n'
  )


def trajectory(study, blocks):
  """The trajectory probes per block and learning-rate phase."""
  return probe_report.trajectory_section(compared(study, blocks))
