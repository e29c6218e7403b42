"""The engines' speed check times the smoke study, with its seeds, through
each engine in a fresh process and folder."""

from benchmarks.tools.speed import engine_speed


def test_the_study_timed_has_the_seeds_asked_for():
  study = engine_speed.study_with(3)
  assert {job: c['seeds'] for job, c in study.jobs.items()} == {
    'adamw': (0, 1, 2), 'adamw_plp': (0, 1, 2),
  }  # fmt: skip
  assert study.name == 'smoke' and study.blocks == {
    'smoke': ('adamw', 'adamw_plp')
  }


def test_one_engine_is_timed_on_a_study_that_runs():
  assert engine_speed.timed('one by one', 1) > 0  # it raises if a run fails
