"""CIFAR-100 from TensorFlow Datasets, held in memory as NumPy arrays.

The whole split is loaded once (CIFAR-100 is 180 MB as uint8) and later put
on the accelerator; batches are gathered and augmented inside the jitted step,
so the input pipeline never waits on the host. TFDS finds the data under
``TFDS_DATA_DIR`` (or its default directory) and downloads it if allowed.
(`data_arrays.load_split` reads the same splits from a compact copy, without
TensorFlow, where one is named.)
"""

import dataclasses
import os

import numpy as np

# Per-channel statistics of the CIFAR-100 training images, in [0, 255].
MEAN = np.array([129.30, 124.07, 112.43], np.float32)
STD = np.array([68.17, 65.39, 70.42], np.float32)
NUM_CLASSES = 100


class DatasetUnavailableError(RuntimeError):
  """The dataset, or the package that reads it, is not available."""


@dataclasses.dataclass(frozen=True)
class Split:
  images: np.ndarray  # uint8, [N, 32, 32, 3]
  labels: np.ndarray  # int32, [N]

  def __len__(self):
    return len(self.labels)

  def __iter__(self):  # images, labels = split
    return iter((self.images, self.labels))


def load_split(split, *, dataset='cifar100', download=True, limit=None):
  """Loads a whole split as uint8 images and int32 labels.

  Args:
    split: a TFDS split name such as ``'train'`` or ``'test[:10%]'``.
    dataset: the TFDS dataset name.
    download: whether TFDS may download the data if it is not on disk.
    limit: keep only the first ``limit`` examples (``None``: all).

  Returns:
    A `Split`.

  Raises:
    DatasetUnavailableError: with what to do, if TFDS cannot provide it.
  """
  tfds = import_tfds(dataset)
  if limit is not None and '[' not in split:
    # Slicing the split reads only those examples; `take` on the whole split
    # would leave TFDS's cache half read, and tf.data warns about it. (`take`
    # below still applies: TFDS's mock data ignores slices.)
    split = f'{split}[:{limit}]'
  try:
    dataset_split = tfds.load(
      dataset, split=split, as_supervised=True, download=download
    )
  except Exception as error:  # TFDS raises many types; all mean the same here.
    data_dir = os.environ.get('TFDS_DATA_DIR', '~/tensorflow_datasets')
    raise DatasetUnavailableError(
      f'Could not load {dataset!r} split {split!r} from {data_dir}: '
      f'{type(error).__name__}: {error}\n'
      f'Either set TFDS_DATA_DIR to a directory holding a prepared '
      f'{dataset!r}, or allow the download (config.download=True) on a '
      f'machine with internet access, or prepare it once with '
      f'`tfds build {dataset}`.'
    ) from error
  if limit is not None:
    dataset_split = dataset_split.take(limit)
  batches = list(tfds.as_numpy(dataset_split.batch(10_000)))
  images = np.concatenate([images for images, _ in batches])
  labels = np.concatenate([labels for _, labels in batches])
  return Split(np.asarray(images, np.uint8), np.asarray(labels, np.int32))


def import_tfds(dataset):
  """TensorFlow Datasets, quiet; a clear error naming `dataset` if absent."""
  # TensorFlow only decodes the images here: its C++ start-up notices (the
  # oneDNN one is printed whatever the log level, unless oneDNN is off) are
  # not for our users, and oneDNN's kernels do nothing for decoding.
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')
  try:
    # Imported here: TensorFlow is heavy, and only real-data runs need it.
    import tensorflow_datasets as tfds
  except ImportError as error:
    raise DatasetUnavailableError(
      f'Could not load {dataset!r}: TensorFlow Datasets is not installed '
      f"({error}). Install the benchmarks' dependencies with "
      "`pip install 'optax-plp[bench]'` (or `pip install tensorflow-datasets "
      'tensorflow-cpu`).'
    ) from error
  return tfds


def random_split(size, num_classes=NUM_CLASSES, seed=0):
  """`size` random images of CIFAR's shape and labels, for timing and tests."""
  rng = np.random.default_rng(seed)
  images = rng.integers(0, 256, (size, 32, 32, 3), dtype=np.uint8)
  labels = rng.integers(0, num_classes, size, dtype=np.int32)
  return Split(images, labels)


def normalize(images):
  """uint8 images to float32, standardised per channel (works in jit)."""
  return (images.astype(np.float32) - MEAN) / STD


def split_validation(split, fraction, seed):
  """A seeded random split of `split` into (training, validation) parts.

  The same `seed` gives the same split whatever else is run, so every arm and
  seed of a comparison trains on the same images and is selected on the same
  held-out ones. With ``fraction == 0`` the validation part is ``None``.
  """
  if not fraction:
    return split, None
  held_out = round(fraction * len(split))
  order = np.random.default_rng(seed).permutation(len(split))
  train, validation = np.sort(order[held_out:]), np.sort(order[:held_out])
  return (
    Split(split.images[train], split.labels[train]),
    Split(split.images[validation], split.labels[validation]),
  )
