"""A study's report: its finished runs copied to OUT, and OUT/tables.md.

Runs still training are left out (and left behind) until a later report finds
them finished; each block's jobs are merged and summarised from the runs.
"""

import glob
import os

from benchmarks import tasks
from benchmarks.cifar100 import error_report
from benchmarks.harness import checkpoints
from benchmarks.harness import results_io
from benchmarks.harness import summary


def finished_runs(results):
  """`results` keeping only the arms' runs that trained all their epochs."""
  epochs = results['config']['epochs']
  runs = {
    arm: summary.finished(results['runs'], arm, epochs)
    for arm in results['runs']
  }
  return {**results, 'runs': {arm: s for arm, s in runs.items() if s}}


def run_directories(job_directory):
  """The directories holding a results.json: the job's own, or its seeds'."""
  if os.path.exists(os.path.join(job_directory, 'results.json')):
    return [job_directory]
  return checkpoints.seed_directories(job_directory)


def copy_finished_runs(workroot, job, out):
  """Copies the job's run directories in which some arm has finished."""
  for source in run_directories(os.path.join(workroot, job)):
    relative = os.path.relpath(source, workroot)
    destination = os.path.join(out, relative)
    same = os.path.abspath(source) == os.path.abspath(destination)
    results = tasks.load_results(source)
    if results and finished_runs(results)['runs'] and not same:
      results_io.copy_results(source, destination)


def restricted(results, seeds):
  """`results` with only the runs of `seeds` (None stays None)."""
  if results is None:
    return None
  wanted = {str(s) for s in seeds}
  runs = {
    arm: {s: r for s, r in by_seed.items() if s in wanted}
    for arm, by_seed in results['runs'].items()
  }
  return {**results, 'runs': runs}


def job_results(study, out, job):
  """A job's results: its copy in `out`, or a borrowed study's runs."""
  if job in study.borrowed:
    borrowed = study.borrowed[job]
    return restricted(tasks.load_results(borrowed.results), borrowed.seeds)
  return tasks.load_results(os.path.join(out, job))


def diverged_runs(parts):
  """Arm -> the seeds whose run diverged, over `parts` (Nones skipped)."""
  diverged = {}
  for part in filter(None, parts):
    for arm, by_seed in part['runs'].items():
      for seed, records in by_seed.items():
        if records and records[-1].get('diverged'):
          diverged.setdefault(arm, []).append(int(seed))
  return {arm: sorted(seeds) for arm, seeds in diverged.items()}


def seeds_in(block, arm):
  """The seeds of `arm` whose runs are in a loaded block (None: no block):
  finished, or diverged."""
  block = block or {}
  finished = {int(seed) for seed in block.get('runs', {}).get(arm, {})}
  return finished | set(block.get('diverged', {}).get(arm, ()))


def load_block(study, out, jobs):
  """The merged, summarised finished runs of `jobs` (None where none).

  Its 'diverged' lists the runs that diverged, which the summary leaves out.
  """
  parts = [job_results(study, out, job) for job in jobs]
  done = [p and finished_runs(p) for p in parts]
  kept = [
    (job, d) for job, d in zip(jobs, done, strict=True) if d and d['runs']
  ]
  merged = tasks.merged_block(
    [d for _, d in kept], [f'job {job}' for job, _ in kept]
  )
  diverged = diverged_runs(parts)
  if merged is None and diverged:
    first = next(filter(None, parts))
    merged = {'config': first['config'], 'runs': {}, 'summary': {}}
  if merged is not None and diverged:
    merged['diverged'] = diverged
  return merged


def load_blocks(study, out=None):
  """Block -> its merged, summarised finished runs in `out` (the study's
  committed ones by default), for each block that has any."""
  found = {
    block: load_block(study, out or study.out, jobs)
    for block, jobs in study.report_blocks.items()
  }
  return {block: results for block, results in found.items() if results}


def draw_run_figures(study, figures, out=None):
  """Draws each committed run's figures (its task's) into `figures`.

  The per-run figures are not committed (they were most of the repository's
  weight); this draws them on request, each under its run's path relative to
  the study's results (`out`). Returns the paths drawn.
  """
  out = out or study.out
  drawn = []
  pattern = os.path.join(out, '**', 'results.json')
  for path in sorted(glob.glob(pattern, recursive=True)):
    directory = os.path.dirname(path)
    target = os.path.join(figures, os.path.relpath(directory, out))
    os.makedirs(target, exist_ok=True)
    results = tasks.with_summary(tasks.load_results(directory))
    for draw in tasks.task_of(results['config']).figures:
      drawn.append(draw(target, results))
  return [path for path in drawn if path]


def write_report(study, workroot, out=None, plot=True):
  """Copies the study's finished runs to `out`, writes and returns tables.md.

  `plot`: whether to draw each block's curves, where the study plots blocks.
  """
  out = out or study.out
  os.makedirs(out, exist_ok=True)
  for job in study.jobs:
    copy_finished_runs(workroot, job, out)
  blocks = load_blocks(study, out)
  for block in study.report_blocks:
    if block not in blocks:
      print(f'{block}: no finished runs yet')
    elif block in study.plot_blocks and plot:
      figure = error_report.plot_curves(out, blocks[block])
      os.replace(figure, os.path.join(out, f'{block}.png'))
  if plot and study.figures:
    study.figures(study, blocks, out)
  tables = ''.join(section(study, blocks) for section in study.sections)
  with open(os.path.join(out, 'tables.md'), 'w') as file:
    file.write(tables)
  return tables
