"""The listening report of a tiny run trained on real music, checked in a real browser."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wavenet_music.audio.io import load_audio
from wavenet_music.config import UserError
from wavenet_music.report import build, page
from wavenet_music.report.build import (
    add_spectrograms,
    held_out_bits,
    real_excerpts,
    report_main,
    run_label,
    write_report,
)
from wavenet_music.report.clips import Speed
from wavenet_music.runs import read_metrics
from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.train import train

from ..conftest import HANG_GUARD_S, small_config

CHROMIUM = Path("/usr/bin/chromium")
PHONE_PX = 390  # a phone's viewport width
SCREENSHOT_COPY = Path(__file__).resolve().parents[2] / ".pytest_cache" / "report-screenshot.png"
CLIPS, SECONDS = 2, 0.25
GENRES = ("ambient", "classical", "guitar", "piano")  # the folders of the test corpus
CARDS = len(GENRES) * (2 * CLIPS + 2)  # per genre: real and generated clips, untrained, noise


def quick_run(data: Path, folder: Path, **overrides) -> Path:
    """A run trained for a few seconds."""
    steps = {"train.steps": 30, "train.validate_every": 15, "train.log_every": 5}
    config = small_config(str(folder / "cache"), **steps, **overrides)
    train(data, folder / "run", config, quiet=True)
    return folder / "run"


@pytest.fixture(scope="module")
def run(music_root, tmp_path_factory) -> Path:
    """One model conditioned on the four genre folders."""
    return quick_run(music_root, tmp_path_factory.mktemp("run"), **{"data.labels": "folders"})


@pytest.fixture(scope="module")
def report(run, music_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    return report_main(
        run, music_root, out, clips=CLIPS, seconds=SECONDS, seed=0, evaluate_seconds=1.0
    )


class Links(HTMLParser):
    """Every src/href of a page, and its <audio> and <img> tags."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [value for name, value in attrs if name in ("src", "href") and value]


def parse(page: Path) -> Links:
    links = Links()
    links.feed(page.read_text())
    return links


# --- the page ------------------------------------------------------------------------------


def test_report_links_only_files_in_its_own_folder(report):
    links = parse(report)
    assert report.name == "index.html"
    assert "http" not in report.read_text().lower()
    assert "<script" not in report.read_text()
    assert links.links, "the page links nothing"
    anchors = {link for link in links.links if link.startswith("#")}
    assert {f"#{genre}" for genre in GENRES} <= anchors  # the overview links the sections
    for anchor in anchors:
        assert f'id="{anchor[1:]}"' in report.read_text(), anchor
    files = set(links.links) - anchors
    for link in files:
        assert "/" not in link and ":" not in link, link  # relative, next to index.html
        assert (report.parent / link).is_file(), link
    assert {p.name for p in report.parent.iterdir()} - {"index.html"} == files  # all shown
    assert links.tags.count("audio") == CARDS
    assert links.tags.count("img") == CARDS + 1  # spectrograms + learning curves


def test_report_shows_the_numbers_of_the_run(report, run):
    model, config = load_model(run)
    text = report.read_text()
    rf = config.model.receptive_field
    assert f"{rf:,} samples = {rf / config.data.sample_rate:.3f} s" in text
    assert f"{sum(p.numel() for p in model.parameters()):,}" in text
    assert "samples/s" in text and "real time" in text
    # held-out NLL on the data, evaluate_seconds=1 of each genre
    assert f"{len(GENRES) * 16000:,} validation samples of" in text
    assert "by label: ambient " in text
    assert text.count("<tr class=") == CARDS  # one statistics row per clip
    for genre in GENRES:  # a section per label, each with its own real music
        assert f'<section class="label" id="{genre}"><h2>{genre}</h2>' in text
        assert f"distance to real {genre} (dB)" in text
        assert f"{genre}/" in text  # the source of its real excerpts
    assert text.count("With levels matched it is ") == len(GENRES)  # the check's figure
    assert text.count(" dB from it (white noise: ") == len(GENRES)


def test_an_unconditioned_run_is_one_label_named_after_its_folder(music_root, tmp_path):
    plain = quick_run(music_root / "piano", tmp_path)
    page = report_main(plain, music_root / "piano", tmp_path / "out", clips=1, seconds=0.1)
    text = page.read_text()
    assert text.count('<section class="label"') == 1
    assert "<h2>piano</h2>" in text and "bach_bwv846.flac at " in text
    assert parse(page).tags.count("audio") == 4  # real, generated, untrained, noise


def test_a_locally_conditioned_run_re_synthesises_held_out_excerpts(music_root, tmp_path):
    local = {"data.labels": "folders", "model.local_channels": 8, "model.hop_length": 64}
    run = quick_run(music_root, tmp_path, **local)
    page = report_main(run, music_root, tmp_path / "out", clips=1, seconds=0.1)
    with pytest.raises(UserError, match="pass --data DIR"):
        report_main(run, None, tmp_path / "none", clips=1, seconds=0.1)
    text = page.read_text()
    assert text.count('<section class="label"') == len(GENRES)
    assert text.count("Held-out original and its re-synthesis from features") == len(GENRES)
    assert text.count(">held out<") == len(GENRES)  # the originals come from the validation split
    assert text.count("dB from its original, frame by frame") == len(GENRES)
    assert parse(page).tags.count("audio") == 4 * len(GENRES)  # original, re-synthesis, baselines
    split = json.loads((run / "data.json").read_text())["validation"]
    assert all(f"{source} at " in text for source, *_ in split if source.startswith("piano"))
    (run / "data.json").rename(tmp_path / "data.json")  # the split lost: no way round it
    with pytest.raises(UserError) as exc:
        report_main(run, music_root, tmp_path / "none", clips=1, seconds=0.1)
    assert "restore the file" in str(exc.value) and "leave out --data" not in str(exc.value)


def test_clips_are_passed_per_label(run, music_root, tmp_path):
    rate = 16000
    clips = {
        "piano": np.random.default_rng(0).uniform(-0.1, 0.1, (2, 4000)),
        "guitar": np.random.default_rng(1).uniform(-0.1, 0.1, (1, 4000)),
    }
    page = write_report(run, music_root, tmp_path / "out", clips, seed=1)
    text = page.read_text()
    assert 'id="piano"><h2>piano</h2>' in text
    assert 'id="guitar"><h2>guitar</h2>' in text
    for name in ("piano-real-2.wav", "piano-generated-2.wav", "guitar-real-1.wav"):
        assert (page.parent / name).is_file(), name
    assert not (page.parent / "guitar-real-2.wav").exists()
    assert load_audio(page.parent / "piano-real-1.wav", rate).size == 4000


def test_without_the_data_the_page_says_so(run, tmp_path):
    clips = {"all": np.random.default_rng(0).uniform(-0.1, 0.1, (1, 4000))}
    text = write_report(run, None, tmp_path / "out", clips).read_text()
    assert "no real excerpt" in text and "No real excerpts" in text
    assert text.count("<audio") == 2  # the generated clip and white noise


def test_real_excerpts_come_from_the_training_part_of_their_genre(run, music_root):
    _, config = load_model(run)
    rate = config.data.sample_rate
    split = json.loads((run / "data.json").read_text())
    train_parts = {source: (start, end) for source, start, end in split["train"]}
    length = 3000
    for label, count in (("guitar", 3), ("ambient", 3), ("piano", 10_000)):
        excerpts = real_excerpts(run, music_root, label, count, length, config, seed=0)
        assert len(excerpts) == 3 or 3 < len(excerpts) < count  # as many as the music holds
        found_at: dict[str, list[int]] = {}
        for excerpt in excerpts:
            source, _, at = excerpt.source.partition(" at ")
            minutes, seconds = at.split(":")
            start = round((int(minutes) * 60 + float(seconds)) * rate)
            assert source.startswith(f"{label}/")
            audio = load_audio(music_root / source, rate)
            found = locate(excerpt.audio, audio, near=start, slack=rate // 10)  # ±0.05 s shown
            lo, hi = train_parts[source]
            assert lo <= found and found + length <= hi  # never validation audio
            assert all(abs(found - other) >= length for other in found_at.get(source, []))
            found_at.setdefault(source, []).append(found)  # no two overlap: music, not a copy
        assert len(found_at) == min(len(excerpts), len(train_parts_of(train_parts, label)))


def test_music_changed_since_training_is_said_and_left_out(run, music_root, tmp_path, capsys):
    """The data folder after training: the piano recording cut to a second, the guitar
    one replaced by other audio of the same length. The report took "real excerpts" of 0 s
    from the first (named "piano/... at 0:02.6" on the page) and excerpts of other music
    from the second, and scored the held-out likelihood on them; now each is said once
    and left out, and the unchanged genres give their excerpts as before."""
    from wavenet_music.report.build import _validation_segments

    data = tmp_path / "data"
    shutil.copytree(music_root, data)
    _, config = load_model(run)
    piano = next((data / "piano").glob("*.flac"))
    audio, rate = sf.read(piano, dtype="float32")
    sf.write(piano, audio[:rate], rate)
    guitar = next((data / "guitar").glob("*.flac"))
    audio, rate = sf.read(guitar, dtype="float32")
    noise = np.random.default_rng(0).uniform(-0.3, 0.3, audio.shape).astype(np.float32)
    sf.write(guitar, noise, rate)
    for _ in range(2):  # a second report of the same files says nothing again
        assert real_excerpts(run, data, "piano", 2, 3000, config, seed=0) == []
        assert real_excerpts(run, data, "guitar", 2, 3000, config, seed=0) == []
    kept = real_excerpts(run, data, "classical", 2, 3000, config, seed=0)
    assert len(kept) == 2 and all(row.audio.size == 3000 for row in kept)
    held_out = {segment.source for segment in _validation_segments(run, data, config, 60.0)}
    assert held_out and not held_out & {"piano/" + piano.name, "guitar/" + guitar.name}
    err = capsys.readouterr().err
    for changed in (f"piano/{piano.name}", f"guitar/{guitar.name}"):
        said = f"warning: report: {changed} changed since {run} was trained on it; its real "
        assert err.count(said) == 1, err
    assert "classical/" not in err and "ambient/" not in err


def train_parts_of(parts: dict[str, tuple[int, int]], label: str) -> list[str]:
    return [source for source in parts if source.startswith(f"{label}/")]


def locate(excerpt: np.ndarray, audio: np.ndarray, near: int, slack: int) -> int:
    """Where ``excerpt`` sits exactly in ``audio``, searching ``near ± slack``."""
    for start in range(max(0, near - slack), near + slack + 1):
        if np.array_equal(audio[start : start + excerpt.size], excerpt):
            return start
    raise AssertionError(f"excerpt not found near sample {near}")


def test_run_label_is_the_training_folder_or_all(tmp_path):
    def label(sources: list[str], root: Path) -> str:
        (tmp_path / "data.json").write_text(json.dumps({"train": [[s, 0, 9] for s in sources]}))
        return run_label(tmp_path, root)

    assert label(["a.flac", "b.flac"], Path("/music/piano")) == "piano"  # trained on one folder
    assert label(["guitar/a.flac", "guitar/b.flac"], Path("/music")) == "guitar"
    assert label(["guitar/a.flac", "piano/b.flac"], Path("/music")) == "all"
    assert label(["a.flac"], None) == "all"


def test_held_out_without_data_is_the_last_logged_validation(run):
    model, config = load_model(run)
    logged = [m["validation_bits"] for m in read_metrics(run) if "validation_bits" in m]
    assert held_out_bits(model, config, run, None).bits_per_sample == logged[-1]


def test_spectrograms_go_to_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path))
    tone = np.sin(2 * np.pi * 440 * np.arange(8000) / 16000)
    add_spectrograms(writer, {"tone": tone, "silence": np.zeros(8000)}, 16000, step=7)
    writer.close()
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert sorted(events.Tags()["images"]) == ["spectrogram/silence", "spectrogram/tone"]
    (image,) = events.Images("spectrogram/tone")
    assert image.step == 7 and image.width > 300 and image.height > 100


# --- in a real browser ----------------------------------------------------------------------

# Called with the hang guard in ms: a browser on a busy machine may only be slow.
LOADED_DURATIONS = """(guardMs) => Promise.all(Array.from(document.querySelectorAll('audio'), a =>
  a.error ? Promise.reject(new Error('cannot load ' + a.src))
  : a.readyState >= 1 ? a.duration
  : new Promise((resolve, reject) => {
    a.addEventListener('loadedmetadata', () => resolve(a.duration));
    a.addEventListener('error', () => reject(new Error('cannot load ' + a.src)));
    setTimeout(() => reject(new Error('no metadata, a hang: ' + a.src)), guardMs);
  })))"""
# how many lines each clip's tag ("training data", "composed") takes: an inline element
# broken over lines has a box per line
TAG_LINES = "Array.from(document.querySelectorAll('.tag'), t => t.getClientRects().length)"


def open_in_browser(
    page_path: Path, screenshot: Path
) -> tuple[list, list, list[str], int, list[int]]:
    """Open a report in headless Debian Chromium: (audio durations, image natural widths,
    every URL requested, the page's width in a phone's 390-px view, the lines each clip's
    tag takes at both widths); skips where
    playwright or the browser is missing."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    if not CHROMIUM.exists():
        pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        guard_ms = HANG_GUARD_S * 1000  # playwright's default of 30 s is not a hang guard
        browser = playwright.chromium.launch(
            timeout=guard_ms,
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(guard_ms)  # navigation and screenshots
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_path.as_uri(), wait_until="load")
            durations = page.evaluate(LOADED_DURATIONS, guard_ms)
            widths = page.evaluate("Array.from(document.images, i => i.naturalWidth)")
            page.screenshot(path=str(screenshot), full_page=True)
            lines = page.evaluate(TAG_LINES)
            page.set_viewport_size({"width": PHONE_PX, "height": 844})
            phone = page.evaluate("document.documentElement.scrollWidth")
            lines += page.evaluate(TAG_LINES)
        finally:
            browser.close()
    return durations, widths, requests, phone, lines


def test_the_page_plays_in_a_headless_browser(report, tmp_path):
    screenshot = tmp_path / "report.png"
    durations, widths, requests, phone, lines = open_in_browser(report, screenshot)
    assert phone <= PHONE_PX  # no sideways scrolling on a phone: wide tables scroll alone
    assert lines and set(lines) == {1}, lines  # "training data" broke over two lines
    assert len(durations) == CARDS
    assert all(d == pytest.approx(SECONDS, abs=0.01) for d in durations), durations
    assert len(widths) == CARDS + 1 and all(w > 0 for w in widths), widths
    assert all(url.startswith("file://") for url in requests), requests  # offline
    SCREENSHOT_COPY.parent.mkdir(exist_ok=True)
    shutil.copyfile(screenshot, SCREENSHOT_COPY)


def test_a_report_replaces_the_last_one_whole_and_an_interrupted_one_changes_nothing(
    run, music_root, tmp_path, monkeypatch, capsys
):
    """Written beside its folder and put in place once whole: fewer clips leave no stale
    ones, and a Ctrl-C leaves the earlier report byte for byte (it mixed new clips under
    the old page and summary). Each part says on stderr when it starts."""
    out, quick = tmp_path / "report", {"seconds": 0.1, "evaluate_seconds": 0.5}
    report_main(run, music_root, out, clips=2, **quick)
    said = re.findall(r"^report: (.+) \[\d+ s\]$", capsys.readouterr().err, re.M)
    assert said == [
        "generating 2 clips of 0.1 s a label",
        "the held-out likelihood",
        "figures and the page",
        "done",
    ]
    assert (out / "piano-generated-2.wav").is_file()
    report_main(run, music_root, out, clips=1, **quick)
    assert not (out / "piano-generated-2.wav").exists() and (out / "index.html").is_file()
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupted(run_dir, data_root, out_dir, *args, **kwargs):
        (Path(out_dir) / "piano-generated-1.wav").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "write_report", interrupted)
    with pytest.raises(KeyboardInterrupt):
        report_main(run, music_root, out, clips=1, seed=9, **quick)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no partial folder left


def test_a_report_never_replaces_a_folder_that_is_not_a_report(run, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="holds files that are not a report"):
        report_main(run, None, mine, clips=1, seconds=0.1)
    (mine / "index.html").write_text("a web site's page, not a report")  # and no summary
    with pytest.raises(UserError, match="holds files that are not a report"):
        report_main(run, None, mine, clips=1, seconds=0.1)
    (tmp_path / "file").write_text("keep me too")
    with pytest.raises(UserError, match="a file; name a folder"):
        report_main(run, None, tmp_path / "file", clips=1, seconds=0.1)
    assert (mine / "notes.txt").read_text() == "keep me" and len(list(tmp_path.iterdir())) == 2
    assert (mine / "index.html").read_text() == "a web site's page, not a report"


def test_a_report_never_deletes_what_was_added_to_the_earlier_one(tmp_path):
    """A musician's notes or a clip kept in RUN/report were deleted without a word when the
    report was written again (the folder is replaced whole); now that is one line naming
    them, before the run is read, and nothing changes. The earlier report's own files
    (each linked from its page, quoted or not) and a file browser's are replaced."""
    out = tmp_path / "report"
    out.mkdir()
    own = ["piano-generated-1.wav", "piano-generated-1.png", "composed-C# minor.wav"]
    links = '<audio src="piano-generated-1.wav"></audio><img src="piano-generated-1.png">'
    links += '<audio src="composed-C%23%20minor.wav"></audio><a href="summary.json">s</a>'
    (out / "index.html").write_text(f"<html><body>{links}</body></html>")
    for name in [*own, "summary.json", ".DS_Store", "._piano-generated-1.wav"]:
        (out / name).write_bytes(b"the report's")
    (out / "my take.wav").write_bytes(b"mine")
    (out / "kept").mkdir()
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(UserError) as caught:
        report_main(tmp_path / "never-read", None, out, clips=1, seconds=0.1)
    assert str(caught.value) == (
        f"--out {out}: holds 2 files the earlier report did not write (kept, my take.wav); "
        "move them out, or name another folder: a report replaces the folder it is written to"
    )
    assert sorted(p.name for p in out.iterdir()) == before
    assert (out / "my take.wav").read_bytes() == b"mine"
    (out / "my take.wav").unlink()
    (out / "kept").rmdir()
    build.check_replaceable(out)  # the report's own files and a browser's: replaced


def test_the_pace_of_generation_says_how_many_clips_were_drawn_at_once():
    """The headline read "3.5x slower than real time" for each of 24 clips drawn together."""
    together = Speed(streams=24, samples=16000, wall_seconds=3.5, sample_rate=16000, device="cpu")
    alone = Speed(streams=1, samples=16000, wall_seconds=0.5, sample_rate=16000, device="cpu")
    assert page._pace(together) == "3.5× slower than real time (each of 24 clips at once)"
    assert page._pace(alone) == "2.0× faster than real time"


def test_the_page_reads_the_checkpoint_s_settings_not_an_edited_config_yaml(run, tmp_path):
    """The clips are generated with the checkpoint's config; an edited (or missing)
    config.yaml labelled them at its sample rate: half speed, an octave low."""
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    record = (copy / "config.yaml").read_text()
    (copy / "config.yaml").write_text(record.replace("sample_rate: 16000", "sample_rate: 8000"))
    clips = {"all": np.random.default_rng(0).uniform(-0.1, 0.1, (1, 4000))}
    page = write_report(copy, None, tmp_path / "out", clips)
    assert sf.info(str(page.parent / "all-generated-1.wav")).samplerate == 16000
    (copy / "config.yaml").unlink()
    assert write_report(copy, None, tmp_path / "again", clips).is_file()


def test_the_page_says_how_loud_the_wavenet_heard_its_notes():
    """The composed section's sentence names the gain and the treble tilt the WaveNet
    heard, each only when it differs from training's (1, 0); a report saved before the
    tilt (no key) reads as untilted."""
    from wavenet_music.report.composition import _note_sampling

    both = _note_sampling({"wavenet_excitation_gain": 3.0, "wavenet_treble_tilt": 4.0})
    assert "the notes 3 times as loud as in training" in both
    assert "the treble 4 dB louder each octave above G4" in both
    older = _note_sampling({"wavenet_excitation_gain": 3.0})
    assert "3 times" in older and "treble" not in older
    tilt_only = _note_sampling({"wavenet_excitation_gain": 1.0, "wavenet_treble_tilt": 8.0})
    assert "treble 8 dB" in tilt_only and "times as loud" not in tilt_only
    assert _note_sampling({"wavenet_excitation_gain": 1.0, "wavenet_treble_tilt": 0.0}) == ""
    harmonics = _note_sampling({"wavenet_excitation_gain": 1.0, "wavenet_heard_harmonics": 12})
    assert "each note with its harmonics 1-12" in harmonics and "treble" not in harmonics
    assert "1/h^" not in harmonics  # reports saved before the rolloff: as in training
    bright = _note_sampling({"wavenet_excitation_gain": 1.0, "wavenet_heard_rolloff": 0.5})
    assert "harmonic h at 1/h^0.5 where training heard 1/h" in bright
    assert _note_sampling({"wavenet_excitation_gain": 1.0, "wavenet_heard_rolloff": 1.0}) == ""


def test_the_composed_players_link_files_whose_labels_hold_url_characters():
    """Labels name files (``composed-C# minor.wav``): the ``#`` began the link's fragment,
    ``?`` its query, and the player looked for ``composed-C``."""
    from html import unescape
    from urllib.parse import unquote

    from wavenet_music.report.composition import section_html

    labels = ["C# minor", "what?", "100% <calm>"]
    rows = [
        {"label": x, "composed": f"composed-{x}.wav", "plain": f"plain-{x}.wav"} for x in labels
    ]
    section = {"rows": rows, "statistics": {}, "distance": {}, "label_distance": {}}
    text = section_html({**section, "title": "t", "temperature": 1.0, "hold_penalty": 0.0})
    links = re.findall(r'<audio controls src="([^"]*)"', text)
    assert len(links) == 6 and not any(c in link for link in links for c in "#? <>")
    assert [unquote(unescape(link)) for link in links[::2]] == [r["composed"] for r in rows]
