"""What writing a run's TensorBoard events costs, against training it.

Writes the events of every record of the committed `adamw_peers` runs (each
record as a run writes it, flushed) into a temporary folder, and divides the
time by those runs' own wall time (each record's `wall_seconds`: its
interval's training and evaluation on this project's CPU).

  python -m benchmarks.tools.speed.event_files_speed [--runs 8]
"""

import argparse
import glob
import json
import tempfile
import time

from benchmarks.harness import event_files

RUNS = (
  'benchmarks/results/shakespeare/adamw_peers/confirm_*/seed_*/results.json'
)


def committed_runs(count):
  """The records of the first `count` committed runs (arm, seed)."""
  runs = []
  for path in sorted(glob.glob(RUNS)):
    with open(path) as file:
      for by_seed in json.load(file)['runs'].values():
        runs += list(by_seed.values())
  return runs[:count]


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--runs', type=int, default=8)
  args = parser.parse_args(argv)
  runs = committed_runs(args.runs)
  trained = sum(r['wall_seconds'] for records in runs for r in records)
  with tempfile.TemporaryDirectory() as folder:
    started = time.perf_counter()
    for index, records in enumerate(runs):
      writer = event_files.open_writer(folder, 'arm', index, 0)
      for record in records:
        event_files.write(writer, record, record['step'], 1e-3)
      writer.close()
    written = time.perf_counter() - started
  count = sum(map(len, runs))
  print(
    f'{len(runs)} runs, {count} records: events written in {written:.3f} s '
    f'({1e3 * written / count:.2f} ms a record); the runs trained '
    f'{trained:.0f} s; events / training: {written / trained:.2e}'
  )


if __name__ == '__main__':
  main()
