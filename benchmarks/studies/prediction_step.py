"""Is PLP more than a longer step? The prediction step k at a tuned AdamW rate.

Over one cycle whose last two updates are u1 and u2, PLP moves h3 by
(k/2)(u1 + u2) − u2/2. Where consecutive updates are aligned (u1 = u2 = u),
that is (k − 1/2)u: the cycle walks (5/2 + k)u instead of 3u, as AdamW would
at m(k) = 1 + (2k − 1)/6 times its rate. So each k of the grid is run twice,
on the selection seeds 0-2, in `adamw_peers`' exact setting (nanoGPT's CPU
GPT, 2,000 steps): `adamw_plp` at AdamW's confirmed rate η* with step k
(`plp_k{k}`), and `adamw` at m(k)·η* (`adamw_k{k}`, the rate PLP's cycle
walks). If PLP were only a longer step, the two would coincide.

The runs `adamw_peers` made at these exact settings (AdamW at η*, which is
m(1/2)·η*, and PLP at k = 1, seeds 0-2: its √2 point 5.66e-3) are borrowed.
The best k is the one of lowest mean final validation loss over seeds 0-2,
ties to the smaller |k − 1/2|; at an edge of the grid, the grid is widened
by 0.5 past it first. Then the confirmation, its size and its tests are
stated in REPORT.md before its first run.
"""

import dataclasses
import math

import numpy as np

from benchmarks.studies import Borrowed
from benchmarks.studies import Study
from benchmarks.studies import adamw_peers
from benchmarks.studies.adamw_peers import loss_sections

SEEDS = (0, 1, 2)
ETA = adamw_peers.CHOSEN['adamw']  # 4e-3 * 2**0.5: AdamW's confirmed rate
K_GRID = (-1.0, -0.5, 0.0, 0.5, 1.0, 2.0)
# adamw_peers' √2 point at η*: AdamW there is `adamw_k0.5`, PLP `plp_k1`.
PEERS_AT_ETA = 'peers_lr_0.00565685'
BORROWED_AS = {'plp_k1': 'adamw_plp', 'adamw_k0.5': 'adamw'}


@dataclasses.dataclass(frozen=True)
class Settings:
  """What the study's sections read."""

  k_grid: tuple[float, ...]


def walk_factor(k):
  """m(k): the factor on AdamW's rate that walks as far as PLP's cycle."""
  return 1 + (2 * k - 1) / 6


def plp_job(k):
  return f'plp_k{k:g}'


def adamw_job(k):
  return f'adamw_k{k:g}'


def base_config():
  return adamw_peers.base_config()


def selection_jobs(grid):
  """`plp_k{k}` and `adamw_k{k}` for each k, less the borrowed ones."""
  jobs = {}
  for k in grid:
    jobs[plp_job(k)] = {
      'arms': ('adamw_plp',), 'learning_rate': ETA,
      'prediction.step_size': k, 'seeds': SEEDS,
    }  # fmt: skip
    jobs[adamw_job(k)] = {
      'arms': ('adamw',), 'learning_rate': ETA * walk_factor(k),
      'seeds': SEEDS,
    }  # fmt: skip
  return {job: c for job, c in jobs.items() if job not in BORROWED_AS}


def seed_losses(blocks, job):
  """Seed -> final validation loss of a selection job (borrowed or run)."""
  if job in BORROWED_AS:
    return loss_sections.seed_losses(
      blocks.get(PEERS_AT_ETA), BORROWED_AS[job], SEEDS
    )
  arm = 'adamw_plp' if job.startswith('plp_') else 'adamw'
  return loss_sections.seed_losses(blocks.get(job), arm, SEEDS)


def best_k(blocks, grid):
  """The rule: lowest mean final validation loss (4 decimals) over seeds
  0-2, ties to the smaller |k − 1/2|; None until every k has every seed."""
  means = {}
  for k in grid:
    losses = seed_losses(blocks, plp_job(k))
    if set(losses) != set(SEEDS):
      return None
    means[k] = round(float(np.mean(list(losses.values()))), 4)
  return min(grid, key=lambda k: (means[k], abs(k - 0.5)))


def selection(study, blocks):
  """The selection table: each k, PLP at η* beside AdamW at m(k)·η*."""
  grid = study.settings.k_grid
  rows = [
    '| k | m(k) | `adamw_plp`, step k, at η* | `adamw` at m(k)·η* | '
    'PLP − AdamW at m(k)·η*, paired |',
    '| --- | --- | --- | --- | --- |',
  ]
  for k in grid:
    plp = seed_losses(blocks, plp_job(k))
    adamw = seed_losses(blocks, adamw_job(k))
    paired = [plp[s] - adamw[s] for s in SEEDS if s in plp and s in adamw]
    difference = (
      f'{np.mean(paired):+.4f} (n {len(paired)})'
      if paired and all(math.isfinite(d) for d in paired)
      else ''
    )
    rows.append(
      f'| {k:g} | {walk_factor(k):.4g} | {loss_sections.cell(plp, SEEDS)} '
      f'| {loss_sections.cell(adamw, SEEDS)} | {difference} |'
    )
  best = best_k(blocks, grid)
  chosen = (
    f'The best k by the rule: **{best:g}**.'
    if best is not None
    else 'No k chosen until every k has run on every selection seed.'
  )
  return (
    '## Selection: the prediction step k at η*, and the longer step\n\n'
    f'Final validation loss in nats per character, mean ± std over seeds '
    f"0-2; η* = {ETA:.6g} (AdamW's confirmed rate in `adamw_peers`); k = 1 "
    "and m = 1 are `adamw_peers`' runs at η*. "
    f'{chosen}\n\n' + '\n'.join(rows) + '\n\n'
  )


STUDY = Study(
  name='prediction_step',
  base_config=base_config,
  jobs=selection_jobs(K_GRID),
  blocks={job: (job,) for job in selection_jobs(K_GRID)}
  | {PEERS_AT_ETA: (PEERS_AT_ETA,)},
  sections=(selection,),
  borrowed={
    PEERS_AT_ETA: Borrowed(
      'benchmarks/results/shakespeare/adamw_peers/lr_0.00565685', SEEDS
    ),
  },
  settings=Settings(k_grid=K_GRID),
  results_root='benchmarks/results/shakespeare',
)
