"""The demo corpus builder, run for real on a tiny corpus (needs the apt packages)."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wavenet_music import demo_corpus
from wavenet_music.audio.io import load_audio
from wavenet_music.demo_corpus import GENRES, CorpusSummary, build_demo_corpus
from wavenet_music.demo_corpus.scores import excerpt_notes, render_piece
from wavenet_music.demo_corpus.sources import GM_PROGRAM, SCORES, Piece
from wavenet_music.notes.midi import Note, read_midi
from wavenet_music.wavenet.discovery import find_audio_files

MINUTES = 0.3
RATE = 16000
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_demo_corpus.py"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CorpusSummary]:
    out = tmp_path_factory.mktemp("demo") / "corpus"
    return out, build_demo_corpus(out, MINUTES, RATE)


def flac_files(out: Path) -> list[Path]:
    return sorted(out.rglob("*.flac"))


def manifest_rows(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def spectral_centroid(audio: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio))
    freqs = np.fft.rfftfreq(audio.size, 1 / sample_rate)
    return float((spectrum * freqs).sum() / spectrum.sum())


def digest(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def test_every_genre_has_files(corpus: tuple[Path, CorpusSummary]) -> None:
    out, summary = corpus
    assert not summary.cached
    assert [g.genre for g in summary.genres] == list(GENRES)
    for genre in GENRES:
        assert len(list((out / genre).glob("*.flac"))) >= 1, genre


def test_files_are_mono_16k_audible_and_not_clipped(corpus: tuple[Path, CorpusSummary]) -> None:
    out, _ = corpus
    for path in flac_files(out):
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
        assert rate == RATE and audio.shape[1] == 1, path
        assert sf.info(path).subtype == "PCM_16", path
        audio = audio[:, 0]
        rms = math.sqrt(float(np.mean(audio**2)))
        assert rms > 0.02, f"{path} is nearly silent (RMS {rms:.4f})"
        peak = float(np.abs(audio).max())
        assert 0.85 < peak < 0.95, f"{path} peak {peak:.3f}, expected about -1 dBFS"
        assert np.mean(np.abs(audio) > 0.99) < 1e-4, f"{path} clips"


def test_each_genre_holds_about_the_requested_minutes(corpus: tuple[Path, CorpusSummary]) -> None:
    out, summary = corpus
    for genre in GENRES:
        seconds = sum(sf.info(p).duration for p in (out / genre).glob("*.flac"))
        assert abs(seconds - 60 * MINUTES) < 1.5, f"{genre}: {seconds:.2f} s"
    assert all(abs(g.seconds - 60 * MINUTES) < 1.5 for g in summary.genres)


def test_manifest_matches_the_files_on_disk(corpus: tuple[Path, CorpusSummary]) -> None:
    out, summary = corpus
    rows = manifest_rows(out)
    assert list(rows[0]) == ["genre", "file", "source", "licence", "seconds"]
    assert sorted(r["file"] for r in rows) == [str(p.relative_to(out)) for p in flac_files(out)]
    for row in rows:
        assert row["file"].startswith(f"{row['genre']}/")
        assert row["source"] and row["licence"]
        assert float(row["seconds"]) == pytest.approx(sf.info(out / row["file"]).duration, abs=1e-3)
    for g in summary.genres:
        assert g.files == sum(r["genre"] == g.genre for r in rows)


def test_attribution_credits_every_file_and_the_cc_by_sa_author(
    corpus: tuple[Path, CorpusSummary],
) -> None:
    out, _ = corpus
    text = (out / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert "LupusMechanicus" in text and "CC BY-SA 3.0" in text and "GPL-2.0-or-later" in text
    for row in manifest_rows(out):
        assert f"`{row['file']}`" in text


def test_every_rendered_clip_has_its_notes_within_it(corpus: tuple[Path, CorpusSummary]) -> None:
    out, _ = corpus
    attribution = (out / "ATTRIBUTION.md").read_text(encoding="utf-8")
    for genre in GENRES:
        flacs, mids = sorted((out / genre).glob("*.flac")), sorted((out / genre).glob("*.mid"))
        assert find_audio_files(out / genre) == flacs  # training never reads the .mid files
        if genre not in SCORES:
            assert mids == [], genre
            continue
        assert [p.with_suffix(".mid") for p in flacs] == mids, genre
        for flac, mid in zip(flacs, mids, strict=True):
            notes, seconds = read_midi(mid), sf.info(flac).duration
            assert all(n.onset < seconds and n.offset <= seconds + 1e-3 for n in notes), mid
            assert {n.program for n in notes} == {GM_PROGRAM[genre]}, mid
            assert f"`{mid.relative_to(out)}`" in attribution


def test_notes_line_up_with_the_audio(corpus: tuple[Path, CorpusSummary]) -> None:
    """A transcription of a piano clip finds its notes where its .mid puts them, and not
    where they would be a quarter of a second later: aligned, not only the right pitches."""
    from wavenet_music.notes.transcribe import SAMPLE_RATE, transcribe

    out, _ = corpus
    flac = sorted((out / "piano").glob("*.flac"))[0]
    found = transcribe(load_audio(flac, SAMPLE_RATE))
    written = read_midi(flac.with_suffix(".mid"))
    aligned, late = note_f1(written, found), note_f1(written, found, shift=0.25)
    assert aligned >= 0.5, f"note F1 {aligned:.2f} against the written notes"
    assert late < aligned / 2, f"note F1 {late:.2f} shifted by 0.25 s, {aligned:.2f} aligned"


def note_f1(reference: list[Note], estimate: list[Note], shift: float = 0.0) -> float:
    """mir_eval's note F1 (onsets within 50 ms, offsets ignored), ``reference`` moved
    ``shift`` seconds later."""
    import mir_eval

    def intervals_and_hz(notes: list[Note], shift: float) -> tuple[np.ndarray, np.ndarray]:
        intervals = np.array([[n.onset + shift, n.offset + shift] for n in notes])
        return intervals, 440.0 * 2.0 ** ((np.array([n.pitch for n in notes]) - 69) / 12)

    ref, est = intervals_and_hz(reference, shift), intervals_and_hz(estimate, 0.0)
    scores = mir_eval.transcription.precision_recall_f1_overlap(
        *ref, *est, onset_tolerance=0.05, offset_ratio=None
    )
    return scores[2]


def test_render_moves_the_notes_by_the_silence_it_trims(monkeypatch: pytest.MonkeyPatch) -> None:
    """A score that starts with 1.3 s of rest: its notes move with the trimmed audio."""
    from wavenet_music.demo_corpus import scores
    from wavenet_music.notes.midi import write_midi

    written = [Note(1.3, 1.8, 60), Note(2.3, 2.8, 67)]
    monkeypatch.setattr(scores, "_write_midi", lambda *args: write_midi(args[-1], written))
    render = render_piece(Piece("rest/first", "nobody", "a rest"), 0, 6.0, RATE)
    assert render is not None
    first, second = render.notes
    assert 0.0 <= first.onset < 2048 / 44100  # trimmed to the frame holding the onset
    assert second.onset - first.onset == pytest.approx(1.0, abs=1e-3)
    sounding = np.flatnonzero(np.abs(render.audio) > 0.01 * np.abs(render.audio).max())
    assert sounding[0] / RATE == pytest.approx(first.onset, abs=0.01)


def test_excerpt_notes_moves_drops_and_shortens() -> None:
    notes = [Note(0.5, 1.5, 60), Note(1.0, 4.0, 62), Note(2.0, 2.5, 64), Note(3.5, 4.0, 65)]
    assert excerpt_notes(notes, 1.0, 3.5) == [
        Note(0.0, 0.5, 60),  # sounding at the start: begins at 0
        Note(0.0, 2.5, 62),  # running past the end: shortened
        Note(1.0, 1.5, 64),
    ]  # the note starting at the end is dropped
    assert excerpt_notes(notes, 0.0, 10.0) == notes


def test_second_build_with_same_parameters_is_a_no_op(
    corpus: tuple[Path, CorpusSummary], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, first = corpus
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}

    def rebuild(*args: object) -> None:
        raise AssertionError("the corpus was built again")

    monkeypatch.setattr(demo_corpus, "_build", rebuild)  # renders nothing, on any machine
    again = build_demo_corpus(out, MINUTES, RATE)
    assert again.cached and again.genres == first.genres
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_same_arguments_give_the_same_bytes(
    corpus: tuple[Path, CorpusSummary], tmp_path: Path
) -> None:
    out, _ = corpus
    build_demo_corpus(tmp_path / "again", MINUTES, RATE)
    assert digest(tmp_path / "again") == digest(out)


def test_piano_and_guitar_differ_in_timbre() -> None:
    # The same chorale through both programs: only the instrument differs.
    piece = Piece("bach/bwv66.6", "J. S. Bach", "Chorale BWV 66.6")
    piano = render_piece(piece, GM_PROGRAM["piano"], 6.0, RATE)
    guitar = render_piece(piece, GM_PROGRAM["guitar"], 6.0, RATE)
    assert piano is not None and guitar is not None
    a, b = spectral_centroid(piano.audio, RATE), spectral_centroid(guitar.audio, RATE)
    assert abs(a - b) / max(a, b) > 0.05, f"centroids {a:.0f} Hz and {b:.0f} Hz"


def test_different_parameters_rebuild_and_replace(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    build_demo_corpus(out, 0.1, RATE, genres=("classical",))
    summary = build_demo_corpus(out, 0.2, 8000, genres=("classical",))
    assert not summary.cached
    assert json.loads((out / ".complete.json").read_text())["sample_rate"] == 8000
    assert all(sf.info(p).samplerate == 8000 for p in flac_files(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]  # no staging left


def test_failed_build_leaves_no_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(demo_corpus, "write_attribution", fail)
    with pytest.raises(OSError, match="disk full"):
        build_demo_corpus(tmp_path / "corpus", 0.1, RATE, genres=("ambient",))
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_replace_a_folder_that_is_not_a_corpus(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(ValueError, match="earlier demo corpus"):
        build_demo_corpus(tmp_path, 0.1, RATE, genres=("classical",))
    assert (tmp_path / "mine.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"minutes": 0.0}, "minutes > 0"),
        ({"minutes": math.nan}, "minutes > 0"),
        ({"sample_rate": 0}, "sample_rate"),
        ({"genres": ("jazz",)}, "genres"),
        ({"genres": ()}, "genres"),
    ],
)
def test_bad_arguments_are_value_errors(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = {"out": tmp_path / "corpus", "minutes": 0.1, "sample_rate": RATE, **kwargs}
    with pytest.raises(ValueError, match=message):
        build_demo_corpus(**args)


def test_missing_tools_name_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo_corpus, "SOUNDFONT", tmp_path / "missing.sf2")
    monkeypatch.setattr(demo_corpus, "AFTERMATH", tmp_path / "missing")
    monkeypatch.setenv("PATH", str(tmp_path))  # no fluidsynth on it
    with pytest.raises(RuntimeError) as info:
        build_demo_corpus(tmp_path / "corpus", 0.1, RATE)
    message = str(info.value)
    assert "\n" not in message
    assert "apt-get install -y fluidsynth fluid-soundfont-gm warzone2100-music" in message


def test_script_prints_one_line_errors_and_exits_2(
    corpus: tuple[Path, CorpusSummary], capsys: pytest.CaptureFixture[str]
) -> None:
    spec = importlib.util.spec_from_file_location("build_demo_corpus", SCRIPT)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out, _ = corpus
    assert script.main(["--out", str(out), "--minutes", str(MINUTES)]) == 0
    assert "corpus up to date" in capsys.readouterr().out
    assert script.main(["--out", str(out), "--minutes", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: expected minutes > 0") and err.count("\n") == 1
