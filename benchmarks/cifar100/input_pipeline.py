"""CIFAR-100 from TensorFlow Datasets, held in memory as NumPy arrays.

The whole split is loaded once (CIFAR-100 is 180 MB as uint8) and later put
on the accelerator; batches are gathered and augmented inside the jitted step,
so the input pipeline never waits on the host. TFDS finds the data under
``TFDS_DATA_DIR`` (or its default directory) and downloads it if allowed.
`load_split` reads the same splits from a compact copy instead, without
TensorFlow, where the environment variable OPTAX_PLP_CIFAR100 names one
(`benchmarks/tools/data_arrays.py` writes it, for an accelerator).
"""

import dataclasses
import hashlib
import io
import json
import os
import re
import zipfile

import numpy as np

from benchmarks.harness import experiment

# Per-channel statistics of the CIFAR-100 training images, in [0, 255].
MEAN = np.array([129.30, 124.07, 112.43], np.float32)
STD = np.array([68.17, 65.39, 70.42], np.float32)
NUM_CLASSES = 100
# The compact copy: the variable naming it, and the splits it holds.
ENVIRONMENT_VARIABLE = 'OPTAX_PLP_CIFAR100'
SPLITS = ('train', 'test')


class DatasetUnavailableError(experiment.DataUnavailableError):
  """The dataset, or the package that reads it, is not available."""


@dataclasses.dataclass(frozen=True)
class Split:
  images: np.ndarray  # uint8, [N, 32, 32, 3]
  labels: np.ndarray  # int32, [N]

  def __len__(self):
    return len(self.labels)

  def __iter__(self):  # images, labels = split
    return iter((self.images, self.labels))


def load_tfds_split(split, *, dataset='cifar100', download=True, limit=None):
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


def load_split(split, *, dataset='cifar100', download=True, limit=None):
  """`load_tfds_split`, read from the compact copy where the environment
  variable OPTAX_PLP_CIFAR100 names one (CIFAR-100 only; see
  `benchmarks/tools/data_arrays.py`, which writes it)."""
  path = os.environ.get(ENVIRONMENT_VARIABLE)
  if path and dataset == 'cifar100':
    return load_split_from_arrays(path, split, limit)
  return load_tfds_split(split, dataset=dataset, download=download, limit=limit)


def load_split_from_arrays(path, split, limit=None):
  """`load_split` from the compact copy at `path`.

  Takes a split name, optionally with a first-N slice (``'train[:32]'``).
  """
  found = re.fullmatch(r'(\w+)(?:\[:(\d+)\])?', split)
  if not found:
    raise ValueError(
      f'split is {split!r}; the compact copy takes a name and an optional '
      "first-N slice, such as 'train' or 'test[:1000]'."
    )
  name, first = found.group(1), found.group(2)
  limits = [int(n) for n in (first, limit) if n is not None]
  if not os.path.exists(path):
    raise DatasetUnavailableError(
      f'{ENVIRONMENT_VARIABLE} is {path}, which does not exist: '
      'assemble it (python -m benchmarks.tools.data_arrays assemble) or '
      'unset the variable to read CIFAR-100 through TFDS.'
    )
  images, labels = read_split(path, name, min(limits) if limits else None)
  return Split(images, labels)


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


class ChecksumError(DatasetUnavailableError, ValueError):
  """A file, part or split is not what its checksum says."""


def sha256(data):
  return hashlib.sha256(data).hexdigest()


def decode(blob, offsets):
  """The uint8 images [N, 32, 32, 3] of `encode`'s output."""
  from PIL import Image

  data = blob.tobytes()
  images = [
    np.asarray(Image.open(io.BytesIO(data[start:end])).convert('RGB'))
    for start, end in zip(offsets[:-1], offsets[1:], strict=True)
  ]
  return np.stack(images).astype(np.uint8)


def checksums(images, labels):
  return {
    'images': sha256(np.ascontiguousarray(images, np.uint8).tobytes()),
    'labels': sha256(np.ascontiguousarray(labels, np.int32).tobytes()),
  }


def read_split(path, split, limit=None):
  """(images, labels) of `split` from the compact file, checked.

  The checksum covers the whole split, so a `limit` decodes it all first.
  """
  try:
    with np.load(path) as arrays:
      if f'{split}_labels' not in arrays:
        raise ValueError(f'{path} has no split {split!r}; it has {SPLITS}.')
      manifest = json.loads(arrays['checksums'].tobytes())
      images = decode(arrays[f'{split}_webp'], arrays[f'{split}_offsets'])
      labels = arrays[f'{split}_labels'].astype(np.int32)
  except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as error:
    # A damaged copy fails in numpy's zip reader, the image decoder or the
    # JSON: whichever, the file is what to replace.
    raise ChecksumError(
      f'{path} is damaged ({type(error).__name__}: '
      f'{str(error).splitlines()[0][:120] if str(error) else "unreadable"}); '
      'rebuild it (`build`) or assemble its parts again.'
    ) from None
  if checksums(images, labels) != manifest.get(split):
    raise ChecksumError(
      f'{path}: the {split!r} split does not match its checksums; rebuild '
      'it (`build`) or assemble its parts again.'
    )
  if limit is not None:
    images, labels = images[:limit], labels[:limit]
  return images, labels
