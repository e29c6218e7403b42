"""Every duration the README, configs, docs and notebooks state is this
machine's measurement, written from the committed record."""

import re

import pytest

from benchmarks.tools.speed import durations


def test_each_stated_duration_is_written_from_the_record():
  record = durations.recorded()
  assert set(record) == set(durations.COMMANDS) == set(durations.STATED_IN)
  for name, paths in durations.STATED_IN.items():
    said = durations.phrase(record[name]['seconds'])
    for path in paths:
      text = ' '.join((durations.ROOT / path).read_text().split())
      assert said in text, (name, path, said)


def test_each_record_names_its_command_and_machine():
  for name, entry in durations.recorded().items():
    assert entry['command'] == durations.shown(name)
    assert entry['cores'] == 2
    assert re.fullmatch(r'\d{4}-\d\d-\d\d', entry['date'])


def test_no_file_states_a_duration_the_record_does_not_hold():
  vague = re.compile(r'a few minutes|about an? (minute|hour)\b|seconds a run')
  for paths in durations.STATED_IN.values():
    for path in paths:
      text = (durations.ROOT / path).read_text()
      assert not vague.search(text), (path, vague.search(text))


@pytest.mark.parametrize(
  'seconds,said',
  [(4, 'about 10 seconds'), (12, 'about 10 seconds'), (41, 'about 40 seconds'),
   (89, 'about 90 seconds'), (90, 'about 2 minutes'), (143, 'about 2 minutes'),
   (899, 'about 15 minutes'), (3600, 'about 60 minutes')],
)  # fmt: skip
def test_a_time_reads_to_the_nearest_minute_or_ten_seconds(seconds, said):
  assert durations.phrase(seconds) == said


def test_a_command_is_timed_in_a_fresh_folder(monkeypatch):
  probe = 'python -m benchmarks.tools.speed.durations --only'  # no NAME
  monkeypatch.setitem(durations.COMMANDS, 'probe', 'test -d {tmp}')
  assert durations.timed('probe') > 0  # raises where the command failed
  monkeypatch.setitem(durations.COMMANDS, 'probe', probe)
  with pytest.raises(durations.subprocess.CalledProcessError):
    durations.timed('probe')
