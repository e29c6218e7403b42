"""Smoke tests of the update-overhead benchmark: what it measures, not speed."""

import numpy as np

from benchmarks.tools.speed import update_overhead


def test_parameter_shapes_are_the_models_at_width_one():
  resnet = update_overhead.parameter_shapes('ResNet18')
  vgg = update_overhead.parameter_shapes('VGG16')
  assert (len(resnet), sum(int(np.prod(s)) for s in resnet)) == (62, 11_220_132)
  assert round(sum(int(np.prod(s)) for s in vgg) / 1e6, 1) == 34.0


def test_update_overhead_measures_every_arm():
  arms = update_overhead.measure([(8, 4), (4,)], rounds=1, steps=3)
  assert set(arms) == {
    'sgd-momentum', 'sgd-momentum + plp', 'sgd-momentum + plp(order=2)',
    "sgd-momentum + plp(gate='cosine')",
    "sgd-momentum + plp(order=2, gate='cosine')",
    'sgd-momentum + plp(bf16 history)', 'lookahead(sgd-momentum)', 'adamw',
    'adamw + plp',
  }  # fmt: skip
  rows = {row[0]: row for row in update_overhead.overhead_rows(arms)}
  assert rows['sgd-momentum'][2] == rows['adamw'][2] == 1.0  # their own base
  assert all(ms > 0 for _, ms, _, _ in rows.values())
  for name in update_overhead.RULE_LABELS:
    # One parameter-sized buffer for every rule.
    assert arms[f'sgd-momentum + {name}'].state_ratio == 1.0
  assert arms['sgd-momentum + plp(bf16 history)'].state_ratio == 0.5
  assert all(len(arm.seconds) == 1 for arm in arms.values())
