"""The paper's protocol (`configs/paper_protocol.py`) scaled to a 2-core CPU.

What is scaled, and nothing else: the models' widths (1/16; GoogLeNet 1/32),
the number of epochs (13 epochs of 312 steps = 4,056 steps, just over one
full learning-rate cycle of 2 x 2,000 steps, where the paper trains 100
epochs) and the number of seeds (5 for ResNet18 and 3 for the others, where
the paper has 10). The data, the split, the batch, the optimizers, the
schedules and the selection are the paper's protocol.
"""

import dataclasses

from benchmarks.cifar100 import error_report
from benchmarks.cifar100 import errors
from benchmarks.cifar100.configs import paper as protocol_config
from benchmarks.harness import summary
from benchmarks.reporting import tables
from benchmarks.studies import Study
from benchmarks.studies import sections


def base_config():
  """ResNet18 at width 1/16 for 13 epochs, in the paper's protocol."""
  config = protocol_config.get_config()
  config.model = 'ResNet18'
  config.width = 1 / 16
  config.epochs = 13
  config.progress = False
  return config


MATCHED = ('sgd', 'plp', 'sgd_matched')


def constant_rate(rate):
  """A job without the cycle: the rate and the momentum held constant."""
  return {
    'arms': MATCHED, 'seeds': (0, 1, 2), 'lr_schedule': 'constant',
    'learning_rate': rate, 'max_learning_rate': rate,
    'cycle_momentum': False,
  }  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Pools:
  """One comparison pooled over blocks: each (block, seed) one pair."""

  arm: str
  control: str
  pools: dict[str, tuple[str, ...]]  # pool name -> its blocks


def pooled(study, blocks):
  """The exploratory comparison pooled over blocks (`study.settings`)."""
  return (
    '## Pooled over learning rates (exploratory)\n\nChosen after seeing '
    'the first blocks; each block and seed one pair; p of the two-sided '
    'one-sample t-test of all pairs.\n\n'
    f'{pooled_table(blocks, study.settings)}\n\n'
    'The blocks are different regimes, so the pairs above are not one '
    'sample. At the level of blocks, each block one value (its mean paired '
    'difference), with the one-sample t-test of those means:\n\n'
    f'{block_means_table(blocks, study.settings)}\n\n'
  )


def one_step_later(study, blocks):
  """Each epoch's errors right after its PLP jump against one step later."""
  rows = []
  for name in study.measurements:
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
  selected = errors.selected_epoch(records)
  cells = []
  for metric in errors.METRICS:
    deltas = [r['one_step_later'][metric] - r[metric] for r in records]
    spread = summary.mean_std(deltas)
    cells += [
      f'{tables.pct(spread, sign=True)} ({100 * min(deltas):+.2f} to '
      f'{100 * max(deltas):+.2f})',
      f'{100 * deltas[selected - 1]:+.2f} (epoch {selected})',
      f'{100 * deltas[-1]:+.2f}',
    ]
  return tables.markdown_row([arm, seed, *cells])


def pooled_difference(
  blocks, names, arm, control, kinds=sections.VALIDATED_KINDS
):
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
    for metric in errors.METRICS:
      diffs = [x for d in found for x in d[f'{kind}_{metric}']['per_seed']]
      pooled[f'{kind}_{metric}'] = summary.difference_stats(diffs)
  return pooled


def pooled_table(blocks, pools):
  """The pooled comparisons of `pools` (`Pools`) as a markdown table."""
  arm, control = pools.arm, pools.control
  lines = error_report.difference_header(
    ('pool', 'arm − control', 'pairs (blocks)'),
    sections.VALIDATED_KINDS,
    'pair',
  )
  for pool, names in pools.pools.items():
    found = pooled_difference(blocks, names, arm, control)
    if found is not None:
      count = f'{found["pairs"]} ({found["blocks"]})'
      lines.append(
        error_report.difference_row(
          (pool, f'{arm} − {control}', count), found, sections.VALIDATED_KINDS
        )
      )
  return '\n'.join(lines)


def block_means_table(blocks, pools, kind='selected'):
  """Per pool: the blocks' mean paired differences and their t-test."""
  arm, control = pools.arm, pools.control
  key = f'{arm} - {control}'
  lines = [
    f'| pool | arm − control | blocks | Δ {kind} top-1 (block means) | p '
    f'| Δ {kind} top-5 (block means) | p |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ]
  for pool, names in pools.pools.items():
    found = [blocks[n]['summary'][key] for n in names if n in blocks]
    found = [d for d in found if d]
    if len(found) < 2:
      continue
    cells = []
    for metric in errors.METRICS:
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


STUDY = Study(
  name='paper_protocol',
  base_config=base_config,
  jobs={
    'ResNet18': {'arms': MATCHED, 'seeds': tuple(range(5))},
    'ResNet18_demon': {'arms': ('demon',), 'seeds': tuple(range(5))},
    # PLP's variants, paired with the ResNet18 job's seeds.
    'ResNet18_variants': {
      'arms': ('plp_quadratic', 'plp_gated'),
      'seeds': (0, 1, 2),
    },
    'VGG16': {'model': 'VGG16', 'arms': MATCHED, 'seeds': (0, 1, 2)},
    'GoogLeNet': {
      'model': 'GoogLeNet',
      'width': 1 / 32,
      'arms': ('sgd', 'plp'),
      'seeds': (0, 1, 2),
    },
    # Sensitivity: no schedule, at the cycle's two ends.
    'ResNet18_constant_0.001': constant_rate(0.001),
    'ResNet18_constant_0.002': constant_rate(0.002),
    # A measurement, not a comparison: each epoch (312 steps, a multiple of
    # PLP's 3) ends on a PLP jump; the same seed also evaluated one step on.
    'ResNet18_one_step_later': {
      'arms': ('sgd', 'plp'),
      'seeds': (0,),
      'evaluate_one_step_later': True,
    },
  },  # fmt: skip
  blocks={
    'ResNet18': ('ResNet18', 'ResNet18_demon', 'ResNet18_variants'),
    'VGG16': ('VGG16',),
    'GoogLeNet': ('GoogLeNet',),
    'ResNet18_constant_0.001': ('ResNet18_constant_0.001',),
    'ResNet18_constant_0.002': ('ResNet18_constant_0.002',),
    'ResNet18_one_step_later': ('ResNet18_one_step_later',),
  },
  plot_blocks=('ResNet18', 'VGG16'),
  sections=(
    sections.arms,
    sections.differences,
    pooled,
    sections.trajectory,
    one_step_later,
  ),
  measurements=('ResNet18_one_step_later',),
  # Exploratory, chosen after the cyclic and constant-0.001 ResNet18 blocks
  # had run (their top-5 differences leaned one way): one comparison pooled
  # over blocks of the same model and arms at different learning rates.
  settings=Pools(
    'plp',
    'sgd_matched',
    {
      'ResNet18, cyclic and constant': (
        'ResNet18',
        'ResNet18_constant_0.001',
        'ResNet18_constant_0.002',
      ),
    },
  ),  # fmt: skip
)
