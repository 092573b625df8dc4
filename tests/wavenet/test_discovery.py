"""Discovery: which files are audio, their labels, and what is skipped and said."""

from __future__ import annotations

import os
import unicodedata
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wavenet_music.config import Config, DataConfig, UserError
from wavenet_music.wavenet.data import prepare_corpus
from wavenet_music.wavenet.discovery import (
    find_audio_files,
    label_of,
    label_positions,
    read_label_rows,
)
from wavenet_music.wavenet.run_dir import with_corpus_labels
from wavenet_music.wavenet.windows import WindowSource

from .conftest import TONE_RATE, data_config, label_manifest, write_tone


def test_discovery_is_recursive_and_audio_only(folder):
    names = [p.relative_to(folder).as_posix() for p in find_audio_files(folder)]
    assert len(names) == 9 and "fake.wav" not in names and "notes.txt" not in names
    assert label_of("piano/sub/piano0.wav") == "piano" and label_of("top.wav") == ""


def test_symlink_loops_are_not_followed(folder):
    os.symlink(folder, folder / "piano" / "loop")
    assert len(find_audio_files(folder)) == 9


def test_a_file_labelled_twice_differently_is_one_line_naming_both_rows(folder, tmp_path):
    csv = label_manifest(tmp_path, "top.wav,calm", "ambient/long.flac,calm", "./top.wav,loud")
    with pytest.raises(UserError) as error:
        prepare_corpus(folder, data_config(tmp_path, labels=str(csv)), 256, 100, quiet=True)
    message = str(error.value)
    assert "\n" not in message and str(csv) in message and "top.wav" in message
    for part in ("lines 2 and 4", "'calm'", "'loud'"):
        assert part in message, message


def test_a_repeated_row_is_harmless_and_a_row_without_its_file_is_named(folder, tmp_path, capsys):
    rows = ["top.wav,calm", "top.wav,calm", "ambient/long.flac,calm", "ambient/lnog.flac,calm"]
    csv = label_manifest(tmp_path, *rows)
    corpus = prepare_corpus(folder, data_config(tmp_path, labels=str(csv)), 256, 100)
    labels = {s.source: s.label for s in corpus.train + corpus.validation}
    assert labels == {"top.wav": "calm", "ambient/long.flac": "calm"}
    err = capsys.readouterr().err
    assert f"{csv}:5: ambient/lnog.flac is not an audio file under {folder}" in err, err


def test_rows_naming_a_file_by_absolute_or_working_folder_path_label_it(
    folder, tmp_path, capsys, monkeypatch
):
    """``/abs/music/piano/...`` and ``music/guitar/...`` (from the working folder) name
    files under ``music``: they were "not an audio file under music" and the files "no
    label"; a row under neither says how to name files."""
    monkeypatch.chdir(tmp_path)
    piano = folder / "piano" / "sub" / "piano0.wav"
    rows = [f"{piano},keys", "music/guitar/sub/guitar0.wav,strings", "top.wav,calm"]
    csv = label_manifest(tmp_path, *rows, "/elsewhere/x.wav,calm", "piano/sub/typo.wav,x")
    config = data_config(tmp_path, labels=str(csv))
    corpus = prepare_corpus(Path("music"), config, 256, 100)
    labels = {s.source: s.label for s in corpus.train + corpus.validation}
    assert labels == {
        "piano/sub/piano0.wav": "keys",
        "guitar/sub/guitar0.wav": "strings",
        "top.wav": "calm",
    }
    err = capsys.readouterr().err
    assert "2 of 5 rows of" in err, err
    hint = "its label is unused (name files relative to music, e.g. ambient/long.flac)"
    assert f"{csv}:5: /elsewhere/x.wav is not an audio file under music; {hint}" in err, err
    assert "typo.wav is not an audio file under music; its label is unused\n" in err, err


def test_a_label_file_that_is_not_utf8_or_is_a_folder_is_one_line(tmp_path):
    binary = tmp_path / "labels.csv"
    binary.write_bytes(b"file,label\npiano/a.wav,\xff\xfe\n")
    with pytest.raises(UserError, match=r"label file .*labels\.csv is not UTF-8"):
        read_label_rows(binary)
    with pytest.raises(UserError, match="is a folder"):
        read_label_rows(tmp_path)


@pytest.mark.parametrize("mark", [";", "\t"])
def test_a_label_file_split_by_semicolons_or_tabs_says_to_use_commas(tmp_path, mark):
    """A spreadsheet saves ``;`` where the decimal mark is a comma: the line said only
    "expected file,label"."""
    path = tmp_path / "labels.csv"
    path.write_text(f"file{mark}label\npiano/a.wav{mark}calm\n")
    with pytest.raises(UserError) as error:
        read_label_rows(path)
    assert str(error.value) == (
        f"{path}:1: expected file,label, got {f'file{mark}label'!r}; separate file and "
        f"label with a comma, not {mark!r}"
    )


def _refusal(path, text: str) -> str:
    """The one line ``read_label_rows`` refuses ``text`` (written to ``path``) with."""
    path.write_text(text)
    with pytest.raises(UserError) as error:
        read_label_rows(path)
    return str(error.value)


def test_a_double_quote_never_closed_is_one_line_naming_its_line(tmp_path):
    """A field that opens a double quote runs on to the next one or the end of the
    file: past the csv module's limit of 131,072 characters it raised ``_csv.Error``, a
    traceback from `train --labels`; short, its row read as one column without a word on
    the quote. Rows after a quoted field spanning lines keep their own line numbers."""
    long, short = tmp_path / "long.csv", tmp_path / "short.csv"
    rows = "piano/b.wav,calm\n" * 10_000
    assert _refusal(long, 'file,label\n"piano/a.wav,calm\n' + rows) == (
        f"{long}:2: not a CSV row of file,label (field larger than field limit (131072)); "
        'a field that opens a double quote must close it ("piano/a b.wav",piano)'
    )
    assert _refusal(short, 'file,label\npiano/a.wav,calm\n"piano/b.wav,calm\n') == (
        f"{short}:3: expected file,label, got 'piano/b.wav,calm'; a double quote opens it "
        "and never closes"
    )
    spanning = '"piano/two\nlines.wav",calm\npiano/a.wav,calm\npiano/a.wav,loud\n'
    assert "lines 3 and 4 both label piano/a.wav" in _refusal(tmp_path / "span.csv", spanning)


def test_a_label_file_with_a_byte_order_mark_reads_its_header(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("file,label\npiano/a.wav,calm\n", encoding="utf-8-sig")
    assert read_label_rows(path) == {"piano/a.wav": ("calm", 2)}


def _sources(corpus) -> list[str]:
    return sorted(s.source for s in corpus.train + corpus.validation if s.start == 0)


def test_a_symlinked_folder_or_file_is_read_once_and_named_as_a_repeat(folder, tmp_path, capsys):
    os.symlink("piano", folder / "zz_alias")  # a sibling alias: not a label, not a second copy
    os.symlink(folder / "guitar" / "sub" / "guitar0.wav", folder / "a_link.wav")
    config = data_config(tmp_path, labels="folders", validation_fraction=0.3)
    corpus = prepare_corpus(folder, config, 256, 100)
    assert len(_sources(corpus)) == len(set(_sources(corpus))) == 8  # top.wav: no label folder
    assert {s.label for s in corpus.train + corpus.validation} == {"piano", "guitar", "ambient"}
    skipped = dict(corpus.skipped)
    assert skipped["zz_alias/sub/piano1.wav"] == "same file as piano/sub/piano1.wav"
    assert skipped["a_link.wav"] == "same file as guitar/sub/guitar0.wav"
    err = capsys.readouterr().err
    assert "skipped zz_alias/sub/piano0.wav: same file as piano/sub/piano0.wav" in err
    assert "skipped 6 of 14 audio files" in err  # 4 alias files, the link, top.wav


def test_undecoded_audio_and_broken_links_are_counted(folder, tmp_path, capsys):
    for name in ("a.m4a", "b.m4a", "c.aac"):
        (folder / "piano" / name).write_bytes(b"\x00" * 100)
    os.symlink("nonexistent.wav", folder / "dangling.wav")
    os.symlink("selfloop.wav", folder / "selfloop.wav")
    corpus = prepare_corpus(folder, data_config(tmp_path), 256, 100)
    skipped = dict(corpus.skipped)
    assert skipped == {"dangling.wav": "broken link", "selfloop.wav": "symlink loop"}
    err = capsys.readouterr().err
    assert "ignored 3 files with unsupported extensions (.aac, .m4a): convert" in err
    assert "skipped 2 of 11 audio files" in err
    (folder / "x").mkdir()
    (folder / "x" / "only.m4a").write_bytes(b"")
    with pytest.raises(UserError, match=r"no audio files .* holds 1 files with unsupported"):
        prepare_corpus(folder / "x", data_config(tmp_path), 256, 100)


def test_quiet_still_counts_skipped_files_and_unlabelled_rows(folder, tmp_path, capsys):
    (folder / "piano" / "broken.ogg").write_bytes(b"OggS" + bytes(100))
    csv = label_manifest(tmp_path, "top.wav,calm", "piano/sub/piano0.wav,calm", "gone.wav,calm")
    prepare_corpus(folder, data_config(tmp_path, labels=str(csv)), 256, 100, quiet=True)
    err = capsys.readouterr().err
    assert "skipped 8 of 10 audio files (first: " in err and "without --quiet" in err
    assert "skipped piano/broken.ogg" not in err  # one by one only when not quiet
    assert f"1 of 3 rows of {csv} name no audio file" in err


def test_the_run_folder_inside_the_data_folder_is_not_data(folder):
    write_tone(folder / "run" / "report" / "clip.wav", 0.5)
    assert len(find_audio_files(folder, exclude=folder / "run")) == 9
    assert len(find_audio_files(folder)) == 10


@pytest.mark.parametrize("label", ["rock/pop", "jazz, bebop", "all", "a\tb"])
def test_a_label_generate_cannot_name_is_refused_where_it_is_written(folder, tmp_path, label):
    """A label with a comma (``--label`` splits there), a path separator (clips are named
    after labels: generate raised from pathlib), a control character, or ``all``."""
    csv = tmp_path / "labels.csv"
    with csv.open("w", newline="") as f:
        f.write("file,label\n")
        f.write(f'top.wav,"{label}"\n')
    with pytest.raises(UserError, match=r"labels.csv:2: the label .* (holds|is 'all')"):
        prepare_corpus(folder, data_config(tmp_path, labels=str(csv)), 256, 100, quiet=True)


def test_a_folder_named_all_is_refused_as_a_label(folder, tmp_path):
    (folder / "ambient").rename(folder / "all")
    with pytest.raises(UserError, match=r"folder 'all' is 'all'.*rename the folder"):
        prepare_corpus(folder, data_config(tmp_path, labels="folders"), 256, 100, quiet=True)


@pytest.mark.parametrize("labels", ["csv", "folders"])
def test_labels_differing_only_in_case_are_refused_at_training(folder, tmp_path, labels):
    """``Piano`` and ``piano`` name clips (``x-Piano.wav``, ``x-piano.wav``) that overwrite
    each other on macOS or Windows: generate and the report wrote both, one lost."""
    (folder / "guitar").rename(folder / "Piano")
    rows = ["piano/sub/piano0.wav,piano", "Piano/sub/guitar0.wav,Piano", "top.wav,calm"]
    spec = str(label_manifest(tmp_path, *rows)) if labels == "csv" else "folders"
    corpus = prepare_corpus(folder, data_config(tmp_path, labels=spec), 256, 100, quiet=True)
    with pytest.raises(UserError) as error:
        with_corpus_labels(Config(data=data_config(tmp_path, labels=spec)), corpus)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("labels 'Piano' and 'piano' differ only in case: their clips")
    assert ("rename one folder" if labels == "folders" else f"one spelling in {spec}") in message


def test_an_old_runs_labels_differing_only_in_case_name_their_files_apart(tmp_path):
    """A run trained before such labels were refused holds them still: generate, compose
    and the report named clips after them (``x-Piano.wav``, ``x-piano.wav``: one file on
    macOS or Windows; the report's lower-case names were one file on any disk)."""
    from wavenet_music.config import GenerateConfig
    from wavenet_music.report.composition import _write
    from wavenet_music.report.page import label_slugs
    from wavenet_music.wavenet.to_audio import clip_paths, clip_plan

    labels = ("Piano", "piano", "piano_2", "PIANO")
    config = replace(Config(), model=replace(Config().model, global_labels=labels))
    for num in (1, 2):
        tags = clip_plan(config, GenerateConfig(label="all", num=num))[1]
        names = [p.name for p in clip_paths(tmp_path / "x.wav", tags)]
        assert len({name.casefold() for name in names}) == len(labels) * num, names
    assert names[:2] == ["x-Piano-1.wav", "x-Piano-2.wav"]  # the first keeps its name
    assert len({slug.casefold() for slug in label_slugs(labels).values()}) == len(labels)
    clip = {label: np.full(800, 0.1, dtype=np.float32) for label in labels}
    _write({"composed": clip, "plain": clip}, tmp_path / "report", 8000)
    written = [p.name.casefold() for p in (tmp_path / "report").iterdir()]
    assert len(set(written)) == 2 * len(labels)


@pytest.mark.parametrize(
    ("name", "container", "subtype"),
    [
        ("take.aifc", "AIFF", "PCM_16"),
        ("take.caf", "CAF", "PCM_24"),
        ("lossless.caf", "CAF", "ALAC_16"),
        ("field.bwf", "WAV", "PCM_24"),
        ("long.w64", "W64", "PCM_24"),
        ("long.rf64", "RF64", "PCM_16"),
        ("old.au", "AU", "PCM_16"),
        ("take.wave", "WAV", "PCM_16"),
        ("old.snd", "AU", "PCM_16"),
    ],
)
def test_containers_daws_and_recorders_write_are_trained_on(tmp_path, name, container, subtype):
    """Logic's CAF and AIFF-C, a field recorder's Broadcast Wave, Wave64 and RF64 past 4 GB,
    WAV named .wave and AU named .snd: libsndfile decodes them; they were left out of
    training without a word."""
    t = np.arange(TONE_RATE) / TONE_RATE
    tone = 0.3 * np.sin(2 * np.pi * 300 * t)
    (tmp_path / "music").mkdir()
    sf.write(tmp_path / "music" / name, tone, TONE_RATE, format=container, subtype=subtype)
    config = data_config(tmp_path, validation_fraction=0.0)
    corpus = prepare_corpus(tmp_path / "music", config, 256, 100, quiet=True)
    assert [(s.source, s.length) for s in corpus.train] == [(name, TONE_RATE)]


CAFE_MAC, CAFE_TYPED = unicodedata.normalize("NFD", "café"), unicodedata.normalize("NFC", "café")


def test_names_copied_from_a_mac_match_a_typed_label_file(folder, tmp_path, capsys):
    """A Mac keeps ``café`` decomposed in a name (``e`` and an accent), a CSV or a keyboard
    types it composed: the row was "not an audio file" and the file "no label" in one run."""
    (folder / "piano").rename(folder / CAFE_MAC)
    (folder / "top.wav").rename(folder / f"{CAFE_MAC}.wav")
    rows = [f"{CAFE_TYPED}/sub/piano0.wav,calm", f"{CAFE_TYPED}.wav,calm"]
    csv = label_manifest(tmp_path, *rows)
    corpus = prepare_corpus(folder, data_config(tmp_path, labels=str(csv)), 256, 100)
    labels = {s.source: s.label for s in corpus.train + corpus.validation}
    assert labels == {f"{CAFE_MAC}/sub/piano0.wav": "calm", f"{CAFE_MAC}.wav": "calm"}
    assert "name no audio file" not in capsys.readouterr().err


def test_a_label_typed_composed_finds_a_folder_named_on_a_mac():
    """``generate --label café`` on a run whose folder came from a Mac said "unknown label
    'café'; this run knows: café"."""
    assert label_positions(["bass", CAFE_MAC], [CAFE_TYPED, "bass"]) == [1, 0]
    assert label_positions(["bass", CAFE_TYPED], [CAFE_MAC]) == [1]
    with pytest.raises(UserError, match="unknown label 'cafe'"):
        label_positions([CAFE_MAC], ["cafe"])


def test_windows_of_a_folder_spelled_otherwise_take_the_models_label(folder, tmp_path):
    """``evaluate --data`` of a folder named ``café`` on Linux, for a run trained on the
    Mac's spelling (or ``--label café`` typed): scored under the run's label."""
    corpus = prepare_corpus(folder, data_config(tmp_path, labels="folders"), 256, 100)
    segments = [replace(s, label=CAFE_TYPED) for s in corpus.train[:2]]
    source = WindowSource(segments, 100, 500, 128, labels=["bass", CAFE_MAC])
    assert {s.label for s in source.segments} == {CAFE_MAC}
    assert source.label_index[source.segments[0].label] == 1


def test_macos_metadata_files_are_one_line_not_undecodable_audio(folder, tmp_path, capsys):
    """A folder copied from a Mac holds a ``._NAME`` beside every file (and a zip of one a
    ``__MACOSX`` folder of them): each was "skipped ._x.wav: cannot decode", half the
    corpus counted as broken audio."""
    apple_double = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(4000)
    (folder / "piano" / "sub" / "._piano0.wav").write_bytes(apple_double)
    (folder / "__MACOSX" / "piano").mkdir(parents=True)
    (folder / "__MACOSX" / "piano" / "._piano1.wav").write_bytes(apple_double)
    write_tone(folder / "ambient" / "._real.wav", 1.0)  # a WAV, whatever its name
    os.mkfifo(folder / "._pipe.wav")  # never opened to read a header
    corpus = prepare_corpus(folder, data_config(tmp_path, validation_fraction=0.0), 256, 100)
    assert len(corpus.train) == 10 and "ambient/._real.wav" in {s.source for s in corpus.train}
    assert dict(corpus.skipped) == {"._pipe.wav": "not a regular file (a device, FIFO or socket)"}
    err = capsys.readouterr().err
    assert "ignored 2 macOS metadata files (._NAME beside a file copied from a Mac" in err
    assert "skipped 1 of 11 audio files" in err


def _unlistable(monkeypatch, folder):
    """``folder`` unlistable as under ``chmod 000`` for a user (root reads any folder)."""
    scandir = os.scandir

    def denying(path="."):
        if os.fspath(path) == os.fspath(folder):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", denying)


def test_a_folder_that_cannot_be_read_is_named_and_counted(folder, tmp_path, capsys, monkeypatch):
    """``os.walk`` passes over a folder it cannot list: a genre of recordings under
    ``chmod 000`` was left out without a word, and an unreadable data folder "held no audio
    files"."""
    _unlistable(monkeypatch, folder / "guitar")
    config = data_config(tmp_path, labels="folders", validation_fraction=0.0)
    corpus = prepare_corpus(folder, config, 256, 100)
    assert {s.label for s in corpus.train} == {"piano", "ambient"}
    reason = "folder cannot be read (Permission denied): its files left out"
    assert dict(corpus.skipped)["guitar/"] == reason
    assert f"skipped guitar/: {reason}" in capsys.readouterr().err
    _unlistable(monkeypatch, folder)
    with pytest.raises(UserError, match=r"cannot read the data folder .*music \(Permission denied"):
        prepare_corpus(folder, config, 256, 100)


def test_a_skipped_file_whose_name_holds_a_line_break_is_named_on_one_line(tmp_path, capsys):
    music = tmp_path / "music"
    music.mkdir()
    write_tone(music / "good.wav", 1.0, 220)
    (music / "bad\nskipped 0 of 2 audio files.wav").write_bytes(b"RIFF not audio")
    config = DataConfig(cache_dir=str(tmp_path / "cache"))
    prepare_corpus(music, config, 256, min_samples=100, quiet=False)
    skipped = [line for line in capsys.readouterr().err.splitlines() if "skipped" in line]
    assert len(skipped) == 2, skipped
    assert skipped[0].startswith("skipped bad\\nskipped 0 of 2 audio files.wav: ")
    assert skipped[1] == "skipped 1 of 2 audio files"
