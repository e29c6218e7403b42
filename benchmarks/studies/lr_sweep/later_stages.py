"""lr_sweep's stages beside the protocol, at each arm's chosen rate: the
longer, wider runs and the second confirmation (block -> its jobs)."""

# Longer and wider: two learning-rate cycles at twice the width.
WIDER = {'width': 1 / 8, 'epochs': 26}
# The second confirmation's runs also measure their errors with BatchNorm's
# statistics recomputed at each evaluation's weights, from this many training
# batches (6,400 images, 16% of the training split;
# experiment.recalibrated_record).
RECALIBRATED = {'batch_norm_recalibration_batches': 50}


def rate_overrides(field):
  """A point's overrides: the rate's field (SGD's cycle peaks at twice it)."""

  def overrides(rate):
    if field == 'learning_rate':
      return {field: rate, 'max_learning_rate': 2 * rate}
    return {field: rate}

  return overrides


def point_job(sweep, rate, arms, seeds):
  """The job of `arms` at base rate `rate` on `seeds`."""
  return {
    'arms': tuple(arms), 'seeds': seeds, **rate_overrides(sweep.field)(rate),
  }  # fmt: skip


def wider_blocks(sweep, chosen, seeds):
  """The longer, wider runs, one arm a job, each at its arm's chosen rate
  (the matched control at PLP's): block -> its jobs. One run a job: a job
  resumes only from its own checkpoints, so a lost work tree costs at most
  one run (a wider run is 26 epochs, each about 1.5 times a width-1/16
  epoch: 73 s against 48 s on one machine)."""
  if not (sweep.wider and {sweep.baseline, sweep.plp} <= chosen.keys()):
    return {}
  block = f'wider_{sweep.baseline}'
  rate_from = {sweep.baseline: sweep.baseline, sweep.plp: sweep.plp}
  rate_from[sweep.matched] = sweep.plp
  return {
    block: {
      f'{block}_{arm}': {
        **point_job(sweep, chosen[source], (arm,), seeds), **WIDER,
      }
      for arm, source in rate_from.items()
    }
  }  # fmt: skip


def second_confirmation_blocks(sweep, chosen, fresh_seeds):
  """The second confirmation, on the fresh seeds: block -> its jobs.

  'confirm_wider_sgd': the baseline and PLP at their chosen rates, longer
  and wider (its own headline), one run a job. 'untuned_sgd': PLP
  at the baseline's chosen rate at the study's width, against the first
  confirmation's baseline runs.
  """
  if not (sweep.wider and {sweep.baseline, sweep.plp} <= chosen.keys()):
    return {}
  wider = f'confirm_wider_{sweep.baseline}'
  untuned = f'untuned_{sweep.baseline}'
  rates = {sweep.baseline: chosen[sweep.baseline], sweep.plp: chosen[sweep.plp]}
  wider_jobs = {
    f'{wider}_{arm}': {
      **point_job(sweep, rate, (arm,), fresh_seeds),
      **WIDER,
      **RECALIBRATED,
    }
    for arm, rate in rates.items()
  }
  untuned_job = {
    f'{untuned}_{sweep.plp}': {
      **point_job(sweep, chosen[sweep.baseline], (sweep.plp,), fresh_seeds),
      **RECALIBRATED,
    }
  }
  baseline_job = f'confirm_{sweep.baseline}_{sweep.baseline}'
  return {
    wider: wider_jobs,
    untuned: {baseline_job: None, **untuned_job},
  }


def blocks(sweep, chosen, seeds, fresh_seeds):
  """Both later stages' blocks, once the sweep's arms' rates are chosen."""
  return wider_blocks(sweep, chosen, seeds) | second_confirmation_blocks(
    sweep, chosen, fresh_seeds
  )
