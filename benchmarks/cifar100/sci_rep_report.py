"""Tables and plots of the paper-protocol study (`configs/sci_rep_study.py`).

  python -m benchmarks.cifar100.sci_rep_report WORKROOT \
      [--out benchmarks/results/cifar100/sci_rep]

WORKROOT is what `python -m benchmarks.cifar100.study sci_rep_study WORKROOT`
made. Copies the run directories with finished runs to OUT/JOB/seed_N/ (runs
still training are left out of the tables), merges each block's jobs
(`BLOCKS`: runs compared by seed), draws its curves to OUT/BLOCK.png and writes
OUT/tables.md: per arm the validation-selected and final test errors (mean ±
std over seeds); each arm against `sgd` and `plp` against `sgd_matched`,
paired by seed, with t-tests; the exploratory pooled comparison (`POOLS`);
and the trajectory probes.
"""

import argparse
import glob
import os

from benchmarks.cifar100 import report
from benchmarks.cifar100 import study_report
from benchmarks.cifar100.configs import sci_rep_study

KINDS = ('selected', 'final')


def load_block(workroot, jobs):
  """The merged results of a block's jobs (None where none has results)."""
  parts = [report.load_results(os.path.join(workroot, job)) for job in jobs]
  return report.merged_block([p and finished_runs(p) for p in parts])


def finished_runs(results):
  """`results` keeping only the arms' runs that trained all their epochs."""
  epochs = results['config']['epochs']
  runs = {
    arm: {s: r for s, r in seeds.items() if len(r) == epochs}
    for arm, seeds in results['runs'].items()
  }
  return {**results, 'runs': {arm: s for arm, s in runs.items() if s}}


def copy_finished_runs(workroot, job, out):
  """Copies the job's seed directories in which some arm has finished.

  An arm still training there is left out of the tables and plots (see
  `load_block`), and comes in when a later report copies it finished.
  """
  pattern = os.path.join(workroot, job, 'seed_*')
  for source in sorted(glob.glob(pattern)):
    destination = os.path.join(out, job, os.path.basename(source))
    same = os.path.abspath(source) == os.path.abspath(destination)
    results = report.load_results(source)
    if results and finished_runs(results)['runs'] and not same:
      report.copy_results(source, destination)


def pooled_difference(blocks, names, arm, control):
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
  for kind in KINDS:
    for metric in report.METRICS:
      diffs = [x for d in found for x in d[f'{kind}_{metric}']['per_seed']]
      pooled[f'{kind}_{metric}'] = report.difference_stats(diffs)
  return pooled


def pooled_table(blocks):
  """The pooled comparison of `POOLS` as a markdown table."""
  arm, control = sci_rep_study.POOLED_COMPARISON
  lines = study_report.difference_header(
    ('pool', 'arm − control', 'pairs (blocks)'), KINDS, 'pair'
  )
  for pool, names in sci_rep_study.POOLS.items():
    pooled = pooled_difference(blocks, names, arm, control)
    if pooled is not None:
      count = f'{pooled["pairs"]} ({pooled["blocks"]})'
      lines.append(
        study_report.difference_row(
          (pool, f'{arm} − {control}', count), pooled, KINDS
        )
      )
  return '\n'.join(lines)


def write_report(workroot, out):
  """Copies the finished runs, plots each block, writes and returns tables."""
  blocks = {}
  for block, jobs in sci_rep_study.BLOCKS.items():
    for job in jobs:
      copy_finished_runs(workroot, job, out)
    results = load_block(out, jobs)
    if results is None:
      print(f'{block}: no results yet')
      continue
    blocks[block] = results
    figure = report.plot_curves(out, results)
    os.replace(figure, os.path.join(out, f'{block}.png'))
  tables = (
    '## Test errors per arm\n\nIn %, mean ± std over the finished seeds; '
    '"selected" is the epoch of lowest validation top-1 error.\n\n'
    f'{study_report.arm_table(blocks, KINDS)}\n\n'
    '## Paired differences\n\nIn points of %, arm minus control, paired by '
    'seed; p of the two-sided paired t-test.\n\n'
    f'{study_report.difference_table(blocks, KINDS)}\n\n'
    '## Pooled over learning rates (exploratory)\n\nChosen after seeing '
    'the first blocks; each block and seed one pair; p of the two-sided '
    f'one-sample t-test of all pairs.\n\n{pooled_table(blocks)}\n\n'
    f'{study_report.trajectory_section(blocks)}'
  )
  return study_report.write_markdown(out, tables)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('workroot')
  parser.add_argument('--out', default='benchmarks/results/cifar100/sci_rep')
  args = parser.parse_args()
  os.makedirs(args.out, exist_ok=True)
  print(write_report(args.workroot, args.out))


if __name__ == '__main__':
  main()
