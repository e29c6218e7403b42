"""PARENT/seed_N: the one naming of a seed's own directory, for the
checkpoints of a run and for each seed of a study's job."""

import glob
import os


def seed_directory(parent, seed):
  """PARENT/seed_N: where one seed's run (or checkpoints) of a job live."""
  return os.path.join(parent, f'seed_{seed}')


def seed_directories(parent):
  """The seed_N directories under `parent`, sorted."""
  return sorted(glob.glob(seed_directory(parent, '*')))
