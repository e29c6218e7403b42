"""The events' cost check writes each committed run's records as a run does."""

from benchmarks.tools.speed import event_files_speed


def test_it_times_the_committed_runs_records(capsys):
  event_files_speed.main(['--runs', '2'])
  printed = capsys.readouterr().out
  assert printed.startswith('2 runs, 40 records: events written in ')
  assert 'events / training: ' in printed
