"""The cache folder says what it holds and frees what will never be read again
(``runs.record_source``, ``runs.survey_cache``, ``wavenet-music cache``): each entry
records the recording or score it was built from; one whose source changed or is gone is
stale, and ``--prune`` removes those (with their derived features) and nothing else: not
the same file under other settings, not other files, not anything not named as an entry;
a corpus decoded beside a gigabyte of stale entries says so."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from wavenet_music.audio.io import write_wav
from wavenet_music.cli import main
from wavenet_music.config import DataConfig
from wavenet_music.notes.features import recording_notes
from wavenet_music.notes.midi import Note, write_midi
from wavenet_music.runs import (
    SOURCE_RECORD,
    file_identity,
    record_source,
    survey_cache,
)
from wavenet_music.wavenet import data as data_module
from wavenet_music.wavenet.data import cached_classes, prepare_corpus, stale_cache_note

RATE = 16000


def _tone(seconds: float, hz: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _decoded(path: Path, cache: Path, rate: int = RATE) -> Path:
    return cached_classes(path, DataConfig(sample_rate=rate, cache_dir=str(cache)), 256)


def _derived(entry: Path) -> Path:
    """A features file derived from ``entry`` (as ``audio.features`` names them)."""
    derived = entry.with_name(f"{entry.stem}.features-{'0' * 12}.npy")
    derived.write_bytes(b"features")
    return derived


def _prune(cache: Path, capsys) -> str:
    assert main(["cache", "--cache-dir", str(cache), "--prune"]) == 0
    return capsys.readouterr().out


def test_a_recording_changed_leaves_a_stale_decode_that_prune_removes(tmp_path, capsys):
    """Edited, the recording is decoded again; its old entry stays (a run started before
    may still read it), reads as stale and goes with its derived features on ``--prune``;
    the recording at another rate (its own cache) and a file whose name starts alike
    stay."""
    cache = tmp_path / "cache"
    take, other = tmp_path / "take.wav", tmp_path / "take-2.wav"
    write_wav(take, _tone(1.0, 220), RATE)
    write_wav(other, _tone(1.0, 330), RATE)
    first = _decoded(take, cache)
    at_8k = _decoded(take, cache, 8000)
    neighbour = _decoded(other, cache)
    derived = _derived(first)
    record = json.loads(first.with_name(first.name + SOURCE_RECORD).read_text())
    assert record["source"] == str(take.resolve()) and record["identity"] == file_identity(take)[1:]

    write_wav(take, _tone(1.0, 440), RATE)  # edited: 8 kHz too is stale now
    second = _decoded(take, cache)
    assert second != first and first.exists() and derived.exists()
    survey = survey_cache(cache)
    assert set(survey.live) == {second, neighbour} and set(survey.stale) == {first, at_8k}
    assert survey.stale[first] == sum(
        p.stat().st_size for p in (first, derived, first.with_name(first.name + SOURCE_RECORD))
    )
    assert "removed 2 stale entries" in _prune(cache, capsys)
    assert not first.exists() and not derived.exists() and not at_8k.exists()
    assert not first.with_name(first.name + SOURCE_RECORD).exists()
    assert second.exists() and neighbour.exists() and _decoded(other, cache) == neighbour


def test_an_entry_records_the_file_as_it_was_decoded(tmp_path):
    """A decode another process finishes after the file was replaced is recorded with the
    identity it was built from: stale, not current."""
    cache = tmp_path / "cache"
    cache.mkdir()
    take = tmp_path / "take.wav"
    write_wav(take, _tone(1.0, 220), RATE)
    before = file_identity(take)
    write_wav(take, _tone(1.0, 440), RATE)
    late = cache / f"take-{'a' * 20}.npy"
    np.save(late, np.zeros(10, np.uint8))
    record_source(late, before)
    assert set(survey_cache(cache).stale) == {late}


def test_a_score_changed_leaves_stale_notes_that_prune_removes(tmp_path, capsys):
    cache = tmp_path / "cache"
    take, score = tmp_path / "take.wav", tmp_path / "take.mid"
    write_wav(take, _tone(2.0, 262), RATE)
    write_midi(score, [Note(0.1, 1.0, 60, 90)])
    first = recording_notes(take, 2.0, cache)
    write_midi(score, [Note(0.1, 1.5, 64, 90)])  # the score corrected
    second = recording_notes(take, 2.0, cache)
    assert second != first and set(survey_cache(cache).stale) == {first}
    assert "removed 1 stale entry" in _prune(cache, capsys)
    assert list(cache.glob("*.score.npy")) == [second]


def test_the_cache_command_tells_and_removes_only_entries(tmp_path, capsys):
    cache = tmp_path / "cache"
    kept, gone = tmp_path / "kept.wav", tmp_path / "gone.wav"
    for path in (kept, gone):
        write_wav(path, _tone(1.0, 220), RATE)
    current, stale = _decoded(kept, cache), _decoded(gone, cache)
    gone.unlink()  # the recording deleted: its entry is never read again
    old = cache / f"older-{'b' * 20}.npy"  # an entry from before entries kept records
    np.save(old, np.zeros(10, np.uint8))
    strangers = [cache / "notes.txt", cache / "mine.npy", cache / "kernels" / "step.so"]
    for path in strangers:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"not an entry")

    assert main(["cache", "--cache-dir", str(cache)]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"{cache}: 3 entries, ") and ": 1 current, " in said
    assert "; 1 stale (their recording or score changed or is gone), " in said
    assert "; 1 from before entries recorded their source, 138.0 bytes: --clear removes" in said

    assert "removed 1 stale entry" in _prune(cache, capsys)
    assert not stale.exists() and current.exists() and old.exists()
    assert all(path.exists() for path in strangers)

    assert main(["cache", "--cache-dir", str(cache), "--clear"]) == 0
    assert "removed 2 entries" in capsys.readouterr().out
    assert sorted(os.listdir(cache)) == ["kernels", "mine.npy", "notes.txt"]


def test_the_cache_command_on_a_folder_with_no_cache(tmp_path, capsys):
    assert main(["cache", "--cache-dir", str(tmp_path / "none")]) == 0
    assert capsys.readouterr().out.strip() == f"{tmp_path / 'none'}: no entries"
    with pytest.raises(SystemExit):
        main(["cache", "--prune", "--clear"])


def test_decoding_a_corpus_beside_much_stale_cache_says_how_to_free_it(
    tmp_path, capsys, monkeypatch
):
    cache = tmp_path / "cache"
    data = tmp_path / "music"
    data.mkdir()
    take = data / "take.wav"
    write_wav(take, _tone(1.0, 220), RATE)
    config = DataConfig(cache_dir=str(cache))
    prepare_corpus(data, config, 256, min_samples=100, quiet=False)
    write_wav(take, _tone(1.0, 440), RATE)  # its decode is stale: 16,128 bytes and a record
    prepare_corpus(data, config, 256, min_samples=100, quiet=False)
    assert "note: the cache" not in capsys.readouterr().err  # under a gigabyte
    assert stale_cache_note(config, bound=17_000) is None
    monkeypatch.setattr(data_module, "STALE_NOTE_BYTES", 16_000)
    prepare_corpus(data, config, 256, min_samples=100, quiet=False)
    assert (
        f"note: the cache {cache} holds 0.0 GiB of decodes of recordings changed or gone "
        f"since; `wavenet-music cache --prune --cache-dir {cache}` frees it (while no "
        "other command is running)"
    ) in capsys.readouterr().err.splitlines()
