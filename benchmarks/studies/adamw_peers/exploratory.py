"""adamw_peers' exploratory sections beside the protocol: how far PLP trails
AdamW along the run, and how straight each arm's path is."""

import os

import numpy as np

from benchmarks import tasks
from benchmarks.harness import results_io
from benchmarks.harness import summary
from benchmarks.reporting import tables
from benchmarks.studies import lr_sweep
from benchmarks.studies.tuned_comparison import loss_confirmation

THIRDS = ('first third', 'middle', 'last')


def thirds(cosines):
  """The mean over runs of each third of their cosines (runs of one length)."""
  parts = np.array_split(np.asarray(cosines, np.float64), 3, axis=1)
  return [f'{part.mean():.3f}' for part in parts]


def path_straightness(study, blocks):
  """Exploratory: the cosine between the last two moves of each of PLP's
  cycles, by arm and rate, over the first, middle and last third of the
  training (mean over cycles and seeds); and the same on CIFAR-100."""
  rows = []
  for job in study.settings.sweep_jobs:
    overrides, block = study.jobs[job], blocks.get(job)
    for arm, runs in sorted((block or {'runs': {}})['runs'].items()):
      cosines = [
        [r['path_cosine'] for r in summary.trained(records)]
        for records in runs.values()
      ]
      rate = f'{overrides["learning_rate"]:g}'
      rows.append([rate, arm, len(cosines), *thirds(cosines)])
  if not rows:
    return ''
  table = tables.markdown(rows, ['peak rate', 'arm', 'seeds', *THIRDS])
  return (
    '## How straight the path is (exploratory)\n\nThe cosine between the '
    "last two moves of each cycle of 3 steps (PLP's h2 − h1 and h3 − h2, "
    'all parameters as one vector), averaged over the cycles of each third '
    'of the training and over the seeds. PLP can gain only where it is near '
    "1. For `adamw_plp` the second move includes PLP's jump.\n\n"
    f'{table}\n\n{cifar_path_straightness()}'
  )


def cifar_path_straightness(folder=None):
  """The same measure on CIFAR-100, from `lr_sweep`'s measurement of it
  (its committed results, or those in `folder`; '' until there are any)."""
  folder = folder or os.path.join(lr_sweep.STUDY.out, lr_sweep.PATH_COSINE)
  results = tasks.load_results(folder)
  if results is None:
    return ''
  rows = []
  for arm, runs in results['runs'].items():
    cosines = [
      [p['path_cosine'] for r in records for p in r.get('trajectory', [])]
      for records in runs.values()
    ]
    config = results_io.arm_config(results, arm)
    field = 'learning_rate' if arm == 'sgd' else 'adamw_learning_rate'
    rows.append([f'{config[field]:g}', arm, len(cosines), *thirds(cosines)])
  table = tables.markdown(rows, ['base rate', 'arm', 'seeds', *THIRDS])
  return (
    'The same measure on CIFAR-100 (ResNet18 at width 1/16, 13 epochs, the '
    "`lr_sweep` study's chosen rates, seed 0), on plain training's path at "
    'the trajectory probes (the first three steps of 4 windows an epoch):'
    f'\n\n{table}\n\n'
  )


def curve_gaps(study, blocks):
  """Exploratory: `adamw_plp` − `adamw` validation loss at each evaluation,
  mean over the confirmation's seeds (the figure's right panel, as numbers),
  once the confirmation is complete."""
  if not loss_confirmation.complete(study, blocks):
    return ''
  steps, curves = loss_confirmation.validation_curves(blocks['confirm']['runs'])
  seeds = sorted(curves['adamw'])
  gaps = np.mean(
    [np.subtract(curves['adamw_plp'][s], curves['adamw'][s]) for s in seeds],
    axis=0,
  )
  largest = int(np.argmax(gaps))
  rows = '\n'.join(f'| {step} | {gap:+.4f} |' for step, gap in zip(
    steps, gaps, strict=True))  # fmt: skip
  return (
    '## Exploratory: how far PLP trails AdamW along the run\n\n'
    '`adamw_plp` − `adamw` validation loss (the interval windows) at each '
    f'evaluation, mean over seeds {seeds[0]}-{seeds[-1]}, nats per '
    f'character; the largest gap is {gaps[largest]:+.4f} at step '
    f'{steps[largest]}.\n\n| step | gap |\n| --- | --- |\n{rows}\n\n'
  )
