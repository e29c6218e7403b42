"""Tests of the trajectory diagnostic against NumPy and hand-derived paths."""

from flax import nnx
import jax
import numpy as np
import pytest

from benchmarks.cifar100 import models
from benchmarks.cifar100 import trajectory


def path(points):
  """Parameters with a 2x2 kernel, a bias and a 3x1 kernel at each point."""
  return [
    {
      'blocks': {'layers': {0: {'conv': {'kernel': a, 'bias': b}}}},
      'head': {'kernel': c},
    }
    for a, b, c in points
  ]


def numpy_relative_error(h1, h2, h3, h4):
  m12, m23, m34 = (h1 + h2) / 2, (h2 + h3) / 2, (h3 + h4) / 2
  prediction = m23 + (m23 - m12)
  return np.linalg.norm(prediction - m34) / np.linalg.norm(m34 - h3)


def test_a_straight_path_in_equal_steps_is_predicted_exactly():
  start, velocity = np.float32(1.5), np.float32(-0.25)
  points = [
    (
      start + i * velocity * np.ones((2, 2), np.float32),
      start - i * velocity * np.ones(2, np.float32),
      np.full((3, 1), 2 * i, np.float32),
    )
    for i in range(1, 5)
  ]
  errors = trajectory.relative_errors(*path(points))
  assert set(errors) == {'all', 'blocks/0/conv', 'head'}
  for error in errors.values():
    assert float(error) == 0.0


def test_hand_derived_errors():
  # 1-D: h = 0, 1, 2, 4. The prediction m23 + (m23 - m12) = 2.5, the path's
  # next midpoint m34 = 3, and h3 = 2: the error is 0.5 / 1.
  # A reversal: h = 0, 1, 2, 1 gives prediction 2.5, m34 = 1.5: 1 / 0.5 = 2.
  points = [
    (
      np.full((1, 1), a, np.float32),
      np.zeros(1),
      np.full((1, 1), c, np.float32),
    )
    for a, c in [(0, 0), (1, 1), (2, 2), (4, 1)]
  ]
  errors = trajectory.relative_errors(*path(points))
  assert float(errors['blocks/0/conv']) == 0.5
  assert float(errors['head']) == 2.0
  # Over all parameters: sqrt((0.5^2 + 1^2) / (1^2 + 0.5^2)) = 1.
  assert float(errors['all']) == pytest.approx(1.0)


def test_matches_a_numpy_reference_on_random_paths():
  rng = np.random.default_rng(0)
  points = [
    tuple(rng.normal(size=s).astype(np.float32) for s in ((2, 2), 2, (3, 1)))
    for _ in range(4)
  ]
  errors = trajectory.relative_errors(*path(points))
  for name, index in (('blocks/0/conv', 0), ('head', 2)):
    want = numpy_relative_error(*(np.float64(p[index]) for p in points))
    np.testing.assert_allclose(errors[name], want, rtol=1e-5)
  flat = [
    np.concatenate([np.ravel(x) for x in p]).astype(np.float64) for p in points
  ]
  np.testing.assert_allclose(
    errors['all'], numpy_relative_error(*flat), rtol=1e-5
  )


def test_path_cosine_of_hand_derived_and_random_paths():
  line = [(np.full((2, 2), i, np.float32), np.full(2, -i), np.ones((3, 1)))
          for i in (0.0, 1.0, 3.0)]  # fmt: skip
  assert float(trajectory.path_cosine(*path(line))) == pytest.approx(1.0)
  back = [line[0], line[1], line[0]]  # a step and its reversal
  assert float(trajectory.path_cosine(*path(back))) == pytest.approx(-1.0)
  rng = np.random.default_rng(1)
  points = [
    tuple(rng.normal(size=s).astype(np.float32) for s in ((2, 2), 2, (3, 1)))
    for _ in range(3)
  ]
  flat = [np.concatenate([np.ravel(x) for x in p]).astype(np.float64)
          for p in points]  # fmt: skip
  first, second = flat[1] - flat[0], flat[2] - flat[1]
  want = first @ second / np.linalg.norm(first) / np.linalg.norm(second)
  got = trajectory.path_cosine(*path(points))
  np.testing.assert_allclose(got, want, rtol=1e-5)


def test_probe_measures_the_first_four_steps_of_each_interval():
  model = nnx.Linear(2, 3, rngs=nnx.Rngs(0))
  probe = trajectory.Probe(5, steps_in_epoch=12, first_global_step=100)
  for step in range(12):
    model.kernel.value = model.kernel.value + 0.5  # a straight path
    model.bias.value = model.bias.value - 1.0
    probe.after_step(step, nnx.to_pure_dict(nnx.state(model, nnx.Param)))
  # Windows at steps 0-3 and 5-8; the one at 10 would run past the epoch.
  assert [r['step'] for r in probe.records] == [103, 108]
  assert [s for s in range(12) if probe.sees(s)] == [0, 1, 2, 3, 5, 6, 7, 8]
  for record in probe.records:
    errors = record['relative_error']
    assert errors == pytest.approx({'all': 0, 'kernel': 0}, abs=1e-6)
    assert record['path_cosine'] == pytest.approx(1.0)
  assert probe.window == []


def test_a_probe_that_sees_nothing_and_a_bad_interval():
  model = nnx.Linear(2, 3, rngs=nnx.Rngs(0))
  probe = trajectory.Probe(0, steps_in_epoch=12, first_global_step=0)
  for step in range(12):
    assert not probe.sees(step)
    probe.after_step(step, nnx.to_pure_dict(nnx.state(model, nnx.Param)))
  assert probe.records == []
  with pytest.raises(ValueError, match='interval is 3; allowed: 0 or >= 4'):
    trajectory.Probe(3, steps_in_epoch=12, first_global_step=0)


def test_layer_names_leave_out_list_containers():
  assert trajectory.layer_name(['blocks', 'layers', 0, 'conv', 'kernel']) == (
    'blocks/0/conv'
  )
  assert trajectory.layer_name(['kernel']) == 'kernel'


@pytest.mark.parametrize(
  'name,first,last',
  [
    ('VGG16', 'features/0/conv', 'classifier/6'),
    ('ResNet18', 'stem/conv', 'head'),
    ('GoogLeNet', 'stem/conv', 'head'),
  ],
)
def test_layer_order_runs_from_input_to_output(name, first, last):
  order = trajectory.kernel_names({'model': name, 'width': 0.0625})
  assert (order[0], order[-1]) == (first, last)
  model = nnx.eval_shape(
    lambda: models.MODELS[name](100, width=0.0625, rngs=nnx.Rngs(0))
  )
  params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
  errors = jax.eval_shape(trajectory.relative_errors, *[params] * 4)
  assert sorted(order) == sorted(set(errors) - {'all'})
