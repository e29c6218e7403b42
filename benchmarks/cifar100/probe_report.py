"""The trajectory probes' report: where PLP's prediction lands from plain
training's path, as a table per learning-rate phase and a figure per layer
(`trajectory` measures them)."""

import ml_collections
import numpy as np

from benchmarks.cifar100 import error_report
from benchmarks.cifar100 import optimizers
from benchmarks.cifar100 import trajectory
from benchmarks.harness import results_io
from benchmarks.harness import summary
from benchmarks.reporting import plots


def trajectory_table(results):
  """Median relative error of the probes per learning-rate phase."""
  lines = [
    '| job, arm | learning rate | probes | all parameters | first layer '
    '| median layer | last layer | layers < 1 |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ]
  for job, result in results.items():
    steps_per_epoch = result['data']['steps_per_epoch']
    layers = trajectory.kernel_names(result['config'])
    for arm, seeds in result['runs'].items():
      config = ml_collections.ConfigDict(results_io.arm_config(result, arm))
      phases = optimizers.schedule_phases(config, steps_per_epoch, arm)
      probes = [
        p
        for records in seeds.values()
        for r in records
        for p in r.get('trajectory', [])
      ]
      if not probes:
        continue
      for i, (start, phase) in enumerate(phases):
        end = phases[i + 1][0] if i + 1 < len(phases) else np.inf
        inside = [
          p['relative_error'] for p in probes if start <= p['step'] < end
        ]
        if not inside:
          continue
        per_layer = {k: np.median([e[k] for e in inside]) for k in layers}
        ordered = sorted(per_layer.values())
        lines.append(
          f'| {job}, {arm} | {phase} | {len(inside)} '
          f'| {np.median([e[trajectory.ALL] for e in inside]):.2f} '
          f'| {per_layer[layers[0]]:.2f} '
          f'| {ordered[len(ordered) // 2]:.2f} '
          f'| {per_layer[layers[-1]]:.2f} '
          f'| {sum(v < 1 for v in ordered)} of {len(ordered)} |'
        )
  return '\n'.join(lines)


def trajectory_section(results):
  """The probes' heading, what they measure, and their table."""
  return (
    '## Trajectory probes\n\n||m23 + (m23 - m12) - m34|| / ||m34 - h3|| '
    'over four plain steps, median over probes and seeds; below 1 the '
    'prediction lands closer to where training goes than h3 does.\n\n'
    f'{trajectory_table(results)}\n'
  )


def trajectory_curves(runs):
  """Steps and, per probed name, the relative errors averaged over seeds."""
  probes = [[p for r in h for p in r.get('trajectory', [])] for h in runs]
  length = min(len(p) for p in probes)
  if not length:
    return None, {}
  steps = [p['step'] for p in probes[0][:length]]
  layers = probes[0][0]['relative_error']
  return steps, {
    name: np.mean(
      [[p['relative_error'][name] for p in run[:length]] for run in probes],
      axis=0,
    )
    for name in layers
  }


@plots.readable
def plot_trajectory(workdir, results):
  """Per layer, how far PLP's prediction lands from training's path."""
  plt = plots.pyplot()

  probed = probed_arms(results)
  if not probed:
    return None
  figure, axes = plt.subplots(
    1, len(probed), figsize=(6.4 * len(probed), 4.4), squeeze=False
  )
  layers = trajectory.kernel_names(results['config'])
  for axis, (arm, probe) in zip(axes[0], probed.items(), strict=True):
    draw_trajectory(axis, arm, probe, layers)
  return error_report.save_figure(
    figure,
    results['config'],
    "where PLP's prediction (step size 1) lands from plain training's path",
    workdir,
    'trajectory',
  )


def probed_arms(results):
  """Arm -> (steps, layer -> errors, seeds) of its trained, probed runs."""
  probed = {}
  for arm, seeds in results['runs'].items():
    runs = [h for h in map(summary.trained, seeds.values()) if h]
    steps, errors = trajectory_curves(runs) if runs else (None, {})
    if errors:
      probed[arm] = steps, errors, len(runs)
  return probed


def draw_trajectory(axis, arm, probe, layers):
  """One arm's panel: each layer's curve, all parameters' in black."""
  steps, errors, seeds = probe
  colors = plots.pyplot().cm.viridis(np.linspace(0, 1, len(layers)))
  for name, color in zip(layers, colors, strict=True):
    axis.plot(steps, errors[name], color=color, lw=0.8, alpha=0.8)
  axis.plot(
    steps, errors[trajectory.ALL], color='black', lw=2, label='all parameters'
  )
  axis.axhline(1, color='red', ls='--', lw=1, label='no better than h3')
  axis.set(
    xlabel='step',
    ylabel='||prediction - m34|| / ||m34 - h3||',
    ylim=(0, None),
    title=f'{arm}: {len(layers)} layers, input (purple) to output '
    f'(yellow); mean of {seeds} seed(s)',
  )
  axis.title.set_fontsize('small')
  axis.grid(alpha=0.3)
  axis.legend()
