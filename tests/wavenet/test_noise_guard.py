"""Falls into noise are drawn again (``wavenet/noise_guard.py``): the guard judges real
noise and real music as a listener would, never changes a stream it leaves alone (drawing
in spans is drawing in one pass, number for number), draws again only the streams that
fell, from the span before, and gives up on a model that plays noise throughout after a
bounded number of tries, saying so."""

from __future__ import annotations

import dataclasses
from dataclasses import field
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from wavenet_music.audio.io import mu_law_decode
from wavenet_music.audio.spectral import spectral_flatness
from wavenet_music.config import GenerateConfig, load_preset
from wavenet_music.notes.excitation import CHANNELS as HEARD
from wavenet_music.wavenet.generate import generate
from wavenet_music.wavenet.model import WaveNet
from wavenet_music.wavenet.noise_guard import (
    NOISE_FLATNESS,
    NOISE_LEVEL_DB,
    REDRAW_REACHES,
    REDRAW_TRIES,
    NoiseGuard,
    Redraw,
    loud_flatness,
    noise_like,
    windows,
)
from wavenet_music.wavenet.to_audio import redraw_lines

from .test_generate import CONFIGS, _model

RATE = 16000
FIXTURES = Path(__file__).parents[1] / "fixtures"
LABELS = ("a", "b", "c")


@dataclasses.dataclass(frozen=True)
class Scripted(NoiseGuard):
    """A guard whose verdicts are given: each call to ``noisy`` takes the next of
    ``verdicts`` (a bool per stream judged, or one for all), then judges everything
    music; ``calls`` records how many streams each call judged."""

    verdicts: list = field(default_factory=list)
    calls: list = field(default_factory=list)
    widths: list = field(default_factory=list)

    def noisy(self, audio: np.ndarray) -> np.ndarray:
        self.calls.append(len(audio))
        self.widths.append(audio.shape[1])
        verdict = self.verdicts.pop(0) if self.verdicts else False
        return np.broadcast_to(np.array(verdict, dtype=bool), (len(audio),)).copy()


def _scripted(span: int, verdicts: list | None = None, tries: int = REDRAW_TRIES) -> Scripted:
    return Scripted(span, RATE, 256, tries=tries, verdicts=list(verdicts or []))


def _steered_model() -> tuple[WaveNet, dict]:
    """A model with labels, local frames (hop 7), notes heard, and every sampling rule."""
    config = dataclasses.replace(
        CONFIGS["small"], global_labels=LABELS, excitation=True, local_channels=4, hop_length=7
    )
    model, g, length = _model(config, 4), torch.Generator().manual_seed(2), 300
    temperatures = torch.full((3, length), 1.5)
    temperatures[0, 70:] = 0.6
    floors = torch.zeros(3, length, dtype=torch.float64)
    floors[:, 90:] = 0.002
    steering = {
        "labels": torch.tensor([2, 0, 1]),
        "features": torch.randn(3, 4, length // 7 + 2, generator=g),
        "excitation": torch.randn(3, HEARD, length, generator=g),
        "silence": 0.0,
        "max_jump": 0.3,
        "temperatures": temperatures,
        "floors": floors,
    }
    return model, steering


def _run(model: WaveNet, steering: dict, **kwargs) -> torch.Tensor:
    return generate(model, 300, 3, generator=torch.Generator().manual_seed(9), **steering, **kwargs)


# --- the judge ---------------------------------------------------------------------------------


def _tone(seconds: float, level: float) -> np.ndarray:
    """A harmonic tone (220 Hz and five overtones, decaying), peak ``level``."""
    t = np.arange(round(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in range(1, 7)) * np.exp(-t)
    return (level * tone / np.abs(tone).max()).astype(np.float32)


def test_noise_reads_as_noise_and_music_as_music():
    rng = np.random.default_rng(0)
    loud_noise = 0.1 * rng.standard_normal(RATE // 2)  # -20 dBFS
    quiet_noise = 0.0056 * rng.standard_normal(RATE // 2)  # -45 dBFS: a rest's hiss
    wander = 0.5 * np.sin(2 * np.pi * 3 * np.arange(RATE // 2) / RATE)  # infrasound, -9 dBFS
    clips = np.stack([loud_noise, _tone(0.5, 0.5), quiet_noise, loud_noise + wander])
    verdict = noise_like(clips, RATE, NOISE_FLATNESS, NOISE_LEVEL_DB)
    assert verdict.tolist() == [True, False, False, True]  # the wander does not hide noise
    assert noise_like(loud_noise[None], RATE, 0.6, NOISE_LEVEL_DB).tolist() == [False]  # bound
    assert noise_like(quiet_noise[None], RATE, NOISE_FLATNESS, -50.0).tolist() == [True]  # gate


def test_a_wavenets_coloured_noise_reads_as_noise():
    """One second of the noise a clean clone's demo WaveNet fell into, unsteered, again and
    again (tests/fixtures/coloured_noise.wav, from its report's plain ambient clip; 55% of
    that clip's half seconds, flatness 0.30-0.41 at -22 dBFS): every window of it is drawn
    again by the default guard, where the bound before it (0.4) drew none."""
    audio, rate = sf.read(FIXTURES / "coloured_noise.wav", dtype="float32")
    assert rate == RATE and len(audio) == RATE
    guard = NoiseGuard.of(NOISE_FLATNESS, RATE, 256, None)
    halves = audio.reshape(2, RATE // 2)
    assert noise_like(halves, RATE, NOISE_FLATNESS, NOISE_LEVEL_DB).tolist() == [True, True]
    assert guard.noisy(audio[None]).tolist() == [True]
    assert noise_like(halves, RATE, 0.4, NOISE_LEVEL_DB).tolist() == [False, False]


def test_a_rests_hiss_between_notes_is_not_a_fall():
    """Half a second of a composed piano piece across a rest between two phrases
    (tests/fixtures/rest_hiss.wav: the demo report's piano-composed-2.wav from 20.75 s,
    0.4 s of hiss at -45 dBFS, then the next phrase's notes). Judged whole, it reads as
    flat as the coloured noise above, and as loud as music for the notes: every demo
    report drew it again 8 times in vain and left it "as noise", warning "under-trained".
    Its loud frames, the notes, read as music, and so does the half second."""
    audio, rate = sf.read(FIXTURES / "rest_hiss.wav", dtype="float32")
    assert rate == RATE and len(audio) == RATE // 2
    level = 10 * np.log10(np.mean(np.square(audio, dtype=np.float64)))
    assert level > NOISE_LEVEL_DB and spectral_flatness(audio) > NOISE_FLATNESS  # whole
    assert loud_flatness(audio, NOISE_LEVEL_DB) < NOISE_FLATNESS / 2
    assert noise_like(audio[None], RATE, NOISE_FLATNESS, NOISE_LEVEL_DB).tolist() == [False]


def test_only_the_loud_frames_of_a_half_second_say_whether_it_is_noise():
    """A rest's quiet hiss between loud notes is music; a loud noise after quiet music is
    a fall, however tonal the quiet music: whichever is loud decides, each way round."""
    rng = np.random.default_rng(3)
    hiss = 0.0056 * rng.standard_normal(RATE * 3 // 10)  # -45 dBFS, 0.3 s
    rest = np.concatenate([_tone(0.1, 0.5), hiss, _tone(0.1, 0.5)])
    fall = np.concatenate([_tone(0.3, 0.01), 0.1 * rng.standard_normal(RATE // 5)])
    halves = np.stack([rest, fall])  # (2, 8000)
    whole = [spectral_flatness(h) for h in halves]
    assert whole[0] > NOISE_FLATNESS > whole[1]  # judged whole, the other way round
    assert noise_like(halves, RATE, NOISE_FLATNESS, NOISE_LEVEL_DB).tolist() == [False, True]
    assert loud_flatness(hiss, NOISE_LEVEL_DB) == 0.0  # no loud frame: nothing loud is noise


def test_no_half_second_of_the_real_corpus_reads_as_noise(music_root: Path):
    """The guard never draws real music again: every half second of the test corpus (four
    genres of recordings, decoded by soundfile), a quarter second apart, reads as music."""
    guard = NoiseGuard.of(NOISE_FLATNESS, RATE, 256, None)
    judged = 0
    for path in sorted(music_root.rglob("*")):
        if path.suffix.lower() not in (".wav", ".flac", ".ogg"):
            continue
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
        assert rate == RATE
        audio = audio.mean(axis=1)
        assert not guard.noisy(audio[None]).any(), path
        judged += len(windows(len(audio), guard.span, guard.hop))
    assert judged >= 4 * 100  # half a minute a genre


def test_the_windows_judged_overlap_by_half_and_reach_the_end():
    assert windows(100, 100, 50) == [(0, 100)]
    assert windows(150, 100, 50) == [(0, 100), (50, 150)]
    assert windows(230, 100, 50) == [(0, 100), (50, 150), (100, 200), (130, 230)]
    assert windows(60, 100, 50) == [(0, 60)]  # a clip's last span, shorter
    assert windows(24, 100, 50) == []  # under a quarter of a span: not judged


def test_a_burst_of_noise_across_two_spans_is_judged_in_the_window_between_them():
    """Noise from the middle of one span to the middle of the next (as the demo's ambient
    WaveNet played, for about a second) reads as music in each span alone, where the
    music around it hides it, and as noise in the window across them."""
    guard = NoiseGuard.of(NOISE_FLATNESS, RATE, 256, None)
    span, hop = guard.span, guard.hop
    clip = np.concatenate([_tone(0.5, 0.3), _tone(0.5, 0.3)])  # two spans of music
    clip[hop : hop + span] = 0.1 * np.random.default_rng(2).standard_normal(span)  # -20 dBFS
    halves = clip.reshape(2, span)
    assert noise_like(halves, RATE, NOISE_FLATNESS, NOISE_LEVEL_DB).tolist() == [False, False]
    assert guard.noisy(clip[None]).tolist() == [True]
    assert guard.noisy(halves).tolist() == [False, False]  # each span alone, as before


def test_the_guard_of_a_setting():
    assert NoiseGuard.of(0, RATE, 256, 256) is None  # 0: never
    assert NoiseGuard.of(0.4, RATE, 256, 256).span == 31 * 256  # whole frames, about 0.5 s
    assert NoiseGuard.of(0.4, RATE, 256, None).span == RATE // 2
    assert GenerateConfig().redraw_noise == NOISE_FLATNESS
    short = NoiseGuard.of(0.4, RATE, 256, None)
    noise = np.random.default_rng(1).standard_normal((1, short.span // 8))
    assert not short.noisy(0.1 * noise).any()  # a clip's short last span is not judged


# --- drawing in spans, and again --------------------------------------------------------------


@pytest.mark.parametrize("engine", ["eager", "compiled"])
@pytest.mark.parametrize("primed", [False, True])
def test_spans_that_never_fall_draw_what_one_pass_draws(engine, primed):
    """Drawn 35 samples at a time (whole frames), each span's state rebuilt from the
    receptive field before it with its labels, local frames and notes heard, the clips are
    the classes one pass draws from the same seed, with every sampling rule; the progress
    callback hears every sample."""
    model, steering = _steered_model()
    if primed:
        steering["prime"] = torch.randint(
            0, 256, (3, 50), generator=torch.Generator().manual_seed(3)
        )
    heard = []
    whole = _run(model, steering, engine=engine)
    spans = _run(
        model,
        steering,
        engine=engine,
        guard=_scripted(35),
        on_step=lambda c: heard.append(c.shape[1]),
    )
    assert torch.equal(whole, spans)
    assert len(torch.unique(whole)) > 50
    assert heard[-1] == 300 and heard == sorted(heard)


def test_only_the_fallen_stream_is_drawn_again_from_the_span_before():
    """Stream 1's second span is judged noise: it is drawn again from sample 0 (the span
    before), from its own random stream; streams 0 and 2 play exactly what they would
    unguarded; the redraw is reported."""
    model, steering = _steered_model()
    whole = _run(model, steering)
    redraws: list[Redraw] = []
    guard = _scripted(70, [[False] * 3, [False, True, False]])
    guarded = _run(model, steering, guard=guard, on_redraw=redraws.append)
    assert redraws == [Redraw(stream=1, start=0, resolved=True, draws=1)]
    assert torch.equal(guarded[[0, 2]], whole[[0, 2]])
    assert not torch.equal(guarded[1, :140], whole[1, :140])  # drawn again, both spans
    # the redraw's two spans were judged, for stream 1 alone, then every later span
    assert guard.calls == [3, 3, 1, 1, 3, 3, 3]
    # each span with the half span before (35): a burst across two is judged whole
    assert guard.widths == [70, 105, 70, 105, 105, 105, 55]  # the last: 35 + 20


def test_a_fall_its_tries_cannot_clear_is_drawn_again_from_further_back():
    """Stream 1 falls in its fifth span (samples 140-175) and stays noise through both
    tries from the span before (105); it is drawn again from three spans before (35),
    where it clears: reported once, from 35; its first 35 samples and the other streams
    are as unguarded."""
    model, steering = _steered_model()
    whole = _run(model, steering)
    redraws: list[Redraw] = []
    verdicts = [[False] * 3] * 4 + [[False, True, False]]  # spans 0-3 music, span 4 falls
    verdicts += [True, True] * 2  # two tries from 105, both spans noise each time
    guard = _scripted(35, verdicts, tries=2)
    guarded = _run(model, steering, guard=guard, on_redraw=redraws.append)
    assert redraws == [Redraw(stream=1, start=35, resolved=True, draws=2 + 1)]
    assert guard.calls[:13] == [3] * 5 + [1] * 4 + [1] * 4  # then 4 spans from 35, music
    assert torch.equal(guarded[[0, 2]], whole[[0, 2]])
    assert torch.equal(guarded[1, :35], whole[1, :35])
    assert not torch.equal(guarded[1, 35:105], whole[1, 35:105])
    assert REDRAW_REACHES == (1, 3)


def test_a_stream_that_stays_noise_is_left_after_its_tries_while_it_stays_noise():
    model, steering = _steered_model()
    redraws: list[Redraw] = []
    guard = _scripted(35, [[True, False, False]] + [True] * 30, tries=3)
    guarded = _run(model, steering, guard=guard, on_redraw=redraws.append)
    # three tries of stream 0; then every stream reads noise: 1 and 2 are drawn again from
    # the span before (each still noise after three tries), 0 is no longer judged, and
    # after that nothing is drawn again
    assert redraws == [Redraw(0, 0, False, 3), Redraw(1, 0, False, 3), Redraw(2, 0, False, 3)]
    assert guard.calls[:6] == [3, 1, 1, 1, 3, 2] and len(guard.calls) == 1 + 3 + 1 + 6 + 7
    assert guarded.shape == (3, 300)


def test_a_stream_left_as_noise_is_guarded_again_once_it_plays_music():
    """Stream 0 stays noise through its tries at the first span, is left alone while it
    stays noise, then plays music, and its next fall is drawn again."""
    model, steering = _steered_model()
    redraws: list[Redraw] = []
    verdicts = [[True, False, False], True, True, True]  # the first span, its 3 tries
    verdicts += [[True, False, False], [False] * 3, [True, False, False]]  # left, music, fall
    guard = _scripted(35, verdicts, tries=3)
    _run(model, steering, guard=guard, on_redraw=redraws.append)
    assert redraws == [Redraw(0, 0, False, 3), Redraw(0, 70, True, 1)]  # from the span before


def test_nothing_is_drawn_again_at_temperature_zero():
    model, steering = _steered_model()
    del steering["temperatures"]  # the likeliest class every step
    redraws: list[Redraw] = []
    guard = _scripted(35, [True] * 20)
    zero = {"temperature": 0.0, **steering}
    assert torch.equal(_run(model, zero, guard=guard, on_redraw=redraws.append), _run(model, zero))
    assert redraws == []


def test_an_untrained_model_is_judged_noise_and_left_as_it_is_after_its_tries():
    """A WaveNet that plays noise throughout (untrained: flat logits, flatness 0.49) costs
    one event of ``tries`` redraws per stream, not one per span, and sounds as it is."""
    torch.manual_seed(0)
    model = WaveNet(load_preset("tiny").model).eval()
    guard = NoiseGuard.of(NOISE_FLATNESS, RATE, 256, None)
    redraws: list[Redraw] = []
    out = generate(
        model, 2 * RATE, 2, generator=torch.Generator().manual_seed(0), max_jump=0.5,
        guard=guard, on_redraw=redraws.append,
    )  # fmt: skip
    assert redraws == [Redraw(0, 0, False, REDRAW_TRIES), Redraw(1, 0, False, REDRAW_TRIES)]
    assert guard.noisy(mu_law_decode(out[:, -guard.span :].numpy(), 256)).all()


def test_each_clip_drawn_again_is_named_with_where_and_a_noise_left_is_a_warning():
    paths = [Path("take-1.wav"), Path("take-2.wav")]
    redraws = [Redraw(1, 16000, True, 1), Redraw(1, 56000, False, 8)]
    lines = redraw_lines(paths, redraws, RATE)
    assert lines == [
        "take-2.wav: fell into noise 2x, drawn again from 1.0 s, 3.5 s",
        "warning: take-2.wav: still noise from 3.5 s after 8 draws: the model "
        "is under-trained (train longer) or the temperature too high",
    ]
    assert redraw_lines(paths, [], RATE) == []
