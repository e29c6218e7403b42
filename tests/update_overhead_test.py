"""Smoke tests of the benchmark scripts (what they compute, not how fast)."""

import numpy as np

from benchmarks import update_overhead


def test_update_overhead_trees_have_the_reference_sizes():
  resnet = update_overhead.resnet18_shapes()
  vgg = update_overhead.vgg16_shapes()
  assert (len(resnet), sum(int(np.prod(s)) for s in resnet)) == (62, 11_220_132)
  assert round(sum(int(np.prod(s)) for s in vgg) / 1e6, 1) == 34.0


def test_update_overhead_measures_every_arm():
  results = update_overhead.measure([(8, 4), (4,)], rounds=1, steps=3)
  assert set(results) == {name for name, *_ in update_overhead.optimizers()}
  assert results['sgd-momentum + plp'][2] == 1.0
  assert results['sgd-momentum + plp(bf16 history)'][2] == 0.5
