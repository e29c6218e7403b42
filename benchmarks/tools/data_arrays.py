"""CIFAR-100 as a compact lossless file that needs no TensorFlow, and in parts.

An accelerator this project borrows has no TensorFlow and takes at most
64 MiB a call, the working tree included; CIFAR-100 is 133 MB as TFDS's files.
So, once, from TFDS:

  python -m benchmarks.tools.data_arrays build DIR [--part-mib 40]

writes DIR/cifar100.npz (every image as lossless WebP, about 1.8 kB each,
with the labels and the SHA-256 of the decoded uint8 arrays) and the same
bytes cut into parts DIR/parts/cifar100.npz.part-NN, each small enough to
travel in one call beside the working tree, with DIR/parts/manifest.json
(each part's and the whole file's SHA-256). On the other side:

  python -m benchmarks.tools.data_arrays assemble DIR/parts OUT.npz

joins the parts, checking every checksum, and

  export OPTAX_PLP_CIFAR100=OUT.npz

makes the harness read it (`input_pipeline.load_split`) instead of TFDS,
decoding the images with Pillow and checking them against their checksums.
"""

import argparse
import io
import json
import os
import sys

import numpy as np

from benchmarks.cifar100 import input_pipeline
from benchmarks.harness import atomic_files

MANIFEST = 'manifest.json'
NAME = 'cifar100.npz'
MIB = 2**20


def encode(images):
  """Each uint8 image as lossless WebP: (the bytes joined, their offsets)."""
  from PIL import Image

  blobs = []
  for image in images:
    buffer = io.BytesIO()
    # method 4 was both smaller and 25x quicker than 6 on a 2,000-image
    # sample here (1,779 against 1,815 bytes an image).
    Image.fromarray(image).save(buffer, 'WEBP', lossless=True, method=4)
    blobs.append(buffer.getvalue())
  offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
  return np.frombuffer(b''.join(blobs), np.uint8), offsets


def write_file(path, splits):
  """Writes the compact file of `splits` (name -> `input_pipeline.Split`)."""
  arrays, manifest = {}, {}
  for name, split in splits.items():
    arrays[f'{name}_webp'], arrays[f'{name}_offsets'] = encode(split.images)
    arrays[f'{name}_labels'] = split.labels.astype(np.uint8)  # 100 classes
    manifest[name] = input_pipeline.checksums(split.images, split.labels)
  arrays['checksums'] = np.frombuffer(json.dumps(manifest).encode(), np.uint8)
  buffer = io.BytesIO()
  np.savez(buffer, **arrays)
  atomic_files.write_atomically(path, buffer.getvalue())


def write_parts(path, directory, part_bytes):
  """Cuts `path` into parts of at most `part_bytes`; returns the manifest."""
  with open(path, 'rb') as file:
    data = file.read()
  os.makedirs(directory, exist_ok=True)
  parts = []
  for index, start in enumerate(range(0, len(data), part_bytes)):
    chunk = data[start : start + part_bytes]
    name = f'{os.path.basename(path)}.part-{index:02d}'
    with open(os.path.join(directory, name), 'wb') as file:
      file.write(chunk)
    parts.append(
      {
        'name': name,
        'bytes': len(chunk),
        'sha256': input_pipeline.sha256(chunk),
      }
    )
  manifest = {
    'file': os.path.basename(path),
    'sha256': input_pipeline.sha256(data),
  }
  manifest['parts'] = parts
  with open(os.path.join(directory, MANIFEST), 'w') as file:
    json.dump(manifest, file, indent=1)
  return manifest


def assemble(directory, path):
  """Joins the parts in `directory` into `path`, checking every checksum."""
  manifest = read_manifest(directory)
  chunks = []
  for part in manifest['parts']:
    where = os.path.join(directory, part['name'])
    if not os.path.exists(where):
      raise input_pipeline.ChecksumError(
        f'{where} is missing: copy every part first.'
      )
    with open(where, 'rb') as file:
      chunk = file.read()
    if input_pipeline.sha256(chunk) != part['sha256']:
      raise input_pipeline.ChecksumError(
        f'{where} does not match its checksum: copy it again.'
      )
    chunks.append(chunk)
  data = b''.join(chunks)
  if input_pipeline.sha256(data) != manifest['sha256']:
    raise input_pipeline.ChecksumError(
      f'the parts in {directory} do not make up the file.'
    )
  atomic_files.write_atomically(path, data)
  return path


def read_manifest(directory):
  """The parts' manifest in `directory`; a ChecksumError where it is not
  whole (cut short, or without its file, checksum or parts)."""
  path = os.path.join(directory, MANIFEST)
  with open(path) as file:
    text = file.read()
  try:
    manifest = json.loads(text)
    whole = isinstance(manifest['sha256'], str) and all(
      'name' in part and 'sha256' in part for part in manifest['parts']
    )
  except (ValueError, KeyError, TypeError):
    whole = False
  if not whole:
    raise input_pipeline.ChecksumError(
      f"{path} is not a whole manifest (it needs the file's sha256 and its "
      "parts, each with its name and sha256): copy it again from the parts' "
      'source.'
    ) from None
  return manifest


def build(directory, part_mib, dataset='cifar100'):
  """The compact file and its parts, from TFDS: the manifest of the parts."""
  splits = {
    name: input_pipeline.load_tfds_split(name, dataset=dataset, download=False)
    for name in input_pipeline.SPLITS
  }
  path = os.path.join(directory, NAME)
  write_file(path, splits)
  return write_parts(path, os.path.join(directory, 'parts'), part_mib * MIB)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  actions = parser.add_subparsers(dest='action', required=True)
  build_parser = actions.add_parser('build', help='from TFDS, once')
  build_parser.add_argument('directory')
  build_parser.add_argument('--part-mib', type=int, default=40)
  assemble_parser = actions.add_parser('assemble', help='join and check parts')
  assemble_parser.add_argument('parts')
  assemble_parser.add_argument('path')
  args = parser.parse_args(argv)
  if args.action == 'build' and args.part_mib < 1:
    parser.error(f'--part-mib is {args.part_mib}; allowed: an int >= 1.')
  try:
    if args.action == 'build':
      manifest = build(args.directory, args.part_mib)
      sizes = ', '.join(f'{p["bytes"] / MIB:.1f}' for p in manifest['parts'])
      print(f'{len(manifest["parts"])} parts of {sizes} MiB')
    else:
      print(f'assembled and checked {assemble(args.parts, args.path)}')
  except (input_pipeline.ChecksumError, OSError) as error:
    sys.exit(f'error: {error}')


if __name__ == '__main__':
  main()
