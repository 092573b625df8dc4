"""A listening report for a trained run: one folder, ``index.html`` and its files beside it.

For every label (genre folder) the page pairs each generated clip with a real excerpt of
the same length from the training data, both as an ``<audio>`` player and a log-mel
spectrogram, and compares them, an untrained model's clip and white noise in a table of
``audio_stats``. Then the learning curves, the held-out likelihood, the generation speed
and the config. Plain HTML and CSS with relative links: it opens from disk, offline.
"""

from __future__ import annotations

import html
import json
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import checkpoint as ckpt
from .audio import load_audio, trim_silence, write_wav
from .audio_stats import clip_statistics, hz_to_mel, log_mel_spectrogram, mean_log_mel_distance
from .config import Config, GenerateConfig, load_yaml
from .data import Segment, cached_classes, label_of, make_labeler
from .evaluate import segment_nats
from .generate import generate_audio
from .model import WaveNet, macs_per_sample, parameter_count
from .train import LN2, read_metrics, resolve_device, window_source

DB_RANGE = (-90.0, -10.0)  # colour scale of every spectrogram, dB re a full-scale sine
N_MELS = 80


@dataclass(frozen=True)
class Speed:
    """Wall time of generating ``streams`` clips of ``samples`` samples together."""

    streams: int
    samples: int  # per stream
    wall_seconds: float
    sample_rate: int
    device: str

    @property
    def samples_per_second(self) -> float:
        """All streams together."""
        return self.streams * self.samples / self.wall_seconds

    @property
    def real_time_factor(self) -> float:
        """Wall seconds per second of audio (each stream): below 1 is faster than real time."""
        return self.wall_seconds / (self.samples / self.sample_rate)


@dataclass(frozen=True)
class HeldOut:
    bits_per_sample: float
    source: str  # how it was measured, for the page
    per_label: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    """One clip of the page."""

    name: str
    kind: str  # "real", "generated", "untrained" or "noise"
    audio: np.ndarray  # (T,)
    source: str = ""  # where a real excerpt comes from: "piano/x.flac at 0:12.3"


# --- labels and real excerpts -------------------------------------------------------------


def segment_label(source: str, data_root: Path | None) -> str:
    """First folder of ``source``; for files at the top, the data folder's name, else "all"."""
    if label_of(source):
        return label_of(source)
    if data_root is None:
        return "all"
    folder = data_root.parent if data_root.is_file() else data_root
    return folder.name or "all"


def run_label(run_dir: Path, data_root: Path | None) -> str:
    """The one label of an unconditioned run: its training files' folder, or "all"."""
    train = _split(run_dir)["train"]
    labels = {segment_label(source, data_root) for source, _, _ in train}
    return labels.pop() if len(labels) == 1 else "all"


def run_labels(run_dir: Path, data_root: Path | None, config: Config) -> list[str]:
    """A conditioned run's labels, in the model's order; else ``[run_label(...)]``."""
    return list(config.model.global_labels) or [run_label(run_dir, data_root)]


def labeler(config: Config, data_root: Path | None) -> Callable[[str], str]:
    """``source -> label`` as the run labelled its files: ``data.labels`` (folders or a CSV
    manifest) for a conditioned run, else ``segment_label``."""
    if config.data.labels is None:
        return lambda source: segment_label(source, data_root)
    return make_labeler(data_root or Path(), config.data.labels)


def real_excerpts(
    run_dir: Path, data_root: Path, label: str, count: int, length: int, config: Config, seed: int
) -> list[Row]:
    """``count`` excerpts of ``length`` samples from the run's training segments of
    ``label`` ("all": any), each the loudest of a few random positions (no silent intros)."""
    label_of_source = labeler(config, data_root)
    segments = [
        (source, start, end)
        for source, start, end in _split(run_dir)["train"]
        if label in ("all", label_of_source(source))
        and _source_path(data_root, source).is_file()
        and end - start >= length
    ]
    if not segments:
        return []
    rng = np.random.default_rng(seed)
    weights = np.array([end - start for _, start, end in segments], dtype=np.float64)
    decoded: dict[str, np.ndarray] = {}
    excerpts = []
    for i in range(count):
        source, start, end = segments[rng.choice(len(segments), p=weights / weights.sum())]
        if source not in decoded:
            decoded[source] = _decode(_source_path(data_root, source), config)
        audio = decoded[source]
        starts = rng.integers(start, end - length + 1, size=6)
        at = int(max(starts, key=lambda s: _power(audio[s : s + length])))
        where = f"{source} at {_minutes(at / config.data.sample_rate)}"
        excerpts.append(Row(f"real {i + 1}", "real", audio[at : at + length], where))
    return excerpts


def _source_path(data_root: Path, source: str) -> Path:
    return data_root / source if data_root.is_dir() else data_root


def _power(audio: np.ndarray) -> float:
    return float(np.mean(np.square(audio, dtype=np.float64)))


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def _decode(path: Path, config: Config) -> np.ndarray:
    """The audio as training saw it (resampled, trimmed if the run trimmed)."""
    audio = load_audio(path, config.data.sample_rate)
    threshold = config.data.silence_threshold
    return audio if threshold is None else trim_silence(audio, threshold)


def _split(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "data.json").read_text())


def white_noise(length: int, rms: float, seed: int) -> np.ndarray:
    """Gaussian white noise (length,) of the given RMS, clipped to [-1, 1]."""
    noise = np.random.default_rng(seed).standard_normal(length) * rms
    return np.clip(noise, -1.0, 1.0).astype(np.float32)


# --- figures -------------------------------------------------------------------------------


def spectrogram_figure(audio: np.ndarray, sample_rate: int, title: str | None = None) -> Figure:
    """Log-mel spectrogram of ``audio`` (T,) on the report's fixed colour scale."""
    db = log_mel_spectrogram(audio, sample_rate, n_mels=N_MELS)  # (F, M)
    figure = Figure(figsize=(6.4, 2.4), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    seconds = len(audio) / sample_rate
    extent = (0.0, seconds, 0.0, float(N_MELS))
    axes.imshow(
        db.T,
        origin="lower",
        aspect="auto",
        extent=extent,
        cmap="magma",
        vmin=DB_RANGE[0],
        vmax=DB_RANGE[1],
    )
    step = hz_to_mel(sample_rate / 2) / (N_MELS + 1)  # mel between band centres
    ticks = [f for f in (200, 500, 1000, 2000, 4000, 8000, 16000) if f < sample_rate / 2]
    axes.set_yticks([float(hz_to_mel(f) / step - 0.5) for f in ticks])
    axes.set_yticklabels([f"{f // 1000}k" if f >= 1000 else str(f) for f in ticks])
    axes.set_ylabel("Hz")
    axes.set_xlabel("seconds")
    if title is not None:
        axes.set_title(title, fontsize=10, loc="left")
    return figure


def figure_rgb(figure: Figure) -> np.ndarray:
    """Render with Agg: (H, W, 3) uint8."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:, :, :3].copy()


def curves_figure(metrics: Sequence[dict], quantization_channels: int) -> Figure:
    """Training and validation bits per sample against step."""
    figure = Figure(figsize=(8.0, 3.4), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    for key, style, name in (
        ("train_bits", "-", "training"),
        ("validation_bits", "o-", "validation"),
    ):
        points = [(m["step"], m[key]) for m in metrics if key in m]
        if points:
            axes.plot(*zip(*points, strict=True), style, label=name, markersize=4)
    uniform = float(np.log2(quantization_channels))
    axes.axhline(uniform, color="grey", linestyle="--", linewidth=1, label="guessing (uniform)")
    axes.set_xlabel("training step")
    axes.set_ylabel("bits per sample")
    axes.grid(alpha=0.3)
    axes.legend()
    return figure


def add_spectrograms(
    writer, clips: Mapping[str, np.ndarray], sample_rate: int, step: int, tag: str = "spectrogram"
) -> None:
    """Add each clip's log-mel spectrogram to a TensorBoard ``SummaryWriter`` as an image
    ``tag/name``: what the training loop calls next to its audio snippets."""
    for name, audio in clips.items():
        image = figure_rgb(spectrogram_figure(np.asarray(audio), sample_rate, name))  # (H, W, 3)
        writer.add_image(f"{tag}/{name}", image, step, dataformats="HWC")


# --- the page ------------------------------------------------------------------------------


def write_report(
    run_dir: Path,
    data_root: Path | None,
    out_dir: Path,
    clips: Mapping[str, np.ndarray],
    untrained: Mapping[str, np.ndarray] | None = None,
    speed: Speed | None = None,
    held_out: HeldOut | None = None,
    seed: int = 0,
) -> Path:
    """Write ``out_dir/index.html`` with its WAV and PNG files beside it; return its path.

    Args:
        clips: label → generated audio (num, T) of that label; an unconditioned run has one
            label (``run_label``). Real excerpts of each label come from the run's training
            segments under ``data_root`` (None: no real excerpts, no distances to them).
        untrained: label → (T,) a clip of an untrained model of the same config.
        speed, held_out: shown as given (``report_main`` measures them).
    """
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = load_yaml(run_dir / "config.yaml", Config())
    rate = config.data.sample_rate
    rows = {
        label: label_rows(
            run_dir, data_root, label, audio, (untrained or {}).get(label), config, seed
        )
        for label, audio in clips.items()
    }
    sections = [label_section(label, r, out_dir, rate) for label, r in rows.items()]
    metrics = read_metrics(run_dir)
    curves = _save_png(
        curves_figure(metrics, config.model.quantization_channels), out_dir, "curves"
    )
    body = [
        _header(run_dir, config, speed, held_out),
        _overview(rows, held_out, rate) if len(rows) > 1 else "",
        *sections,
        _curves_section(curves, held_out),
        _model_section(config, speed),
        GLOSSARY,
    ]
    path = out_dir / "index.html"
    path.write_text(
        PAGE.format(title=html.escape(f"WaveNet report: {run_dir.name}"), body="\n".join(body))
    )
    return path


def label_rows(
    run_dir: Path,
    data_root: Path | None,
    label: str,
    generated: np.ndarray,
    untrained: np.ndarray | None,
    config: Config,
    seed: int,
) -> list[Row]:
    """Real excerpts, generated clips, the untrained clip and white noise at the real RMS."""
    generated = np.atleast_2d(generated)  # (num, T)
    num, length = generated.shape
    rows = []
    if data_root is not None:
        rows = real_excerpts(run_dir, Path(data_root), label, num, length, config, seed)
    real = [r.audio for r in rows]
    rows += [Row(f"generated {i + 1}", "generated", a) for i, a in enumerate(generated)]
    if untrained is not None:
        rows.append(Row("untrained model", "untrained", np.asarray(untrained)))
    rms = float(np.sqrt(_power(np.concatenate(real or list(generated)))))
    rows.append(Row("white noise", "noise", white_noise(length, rms, seed)))
    return rows


def label_section(label: str, rows: Sequence[Row], out_dir: Path, sample_rate: int) -> str:
    """Players, spectrograms and the statistics table of one label."""
    stem = {row.name: f"{_slug(label)}-{_slug(row.name)}" for row in rows}
    for row in rows:
        write_wav(out_dir / f"{stem[row.name]}.wav", row.audio, sample_rate)
        _save_png(spectrogram_figure(row.audio, sample_rate), out_dir, stem[row.name])
    real = [r for r in rows if r.kind == "real"]
    generated = [r for r in rows if r.kind == "generated"]
    pairs = [
        f'<div class="pair">{_figure(real[i], stem) if i < len(real) else MISSING_REAL}'
        f"{_figure(g, stem)}</div>"
        for i, g in enumerate(generated)
    ]
    baselines = "".join(_figure(r, stem) for r in rows if r.kind in ("untrained", "noise"))
    title = html.escape("all genres" if label == "all" else label)
    summary = _distance_summary(label, rows, sample_rate)
    return (
        f'<section class="label" id="{_slug(label)}"><h2>{title}</h2>{summary}'
        f"<h3>Real excerpt and generated clip</h3>{''.join(pairs)}"
        f'<h3>Baselines</h3><div class="pair">{baselines}</div>'
        f"<h3>Statistics</h3>{_stats_table(label, rows, sample_rate)}</section>"
    )


KIND_TAGS = {
    "real": "training data",
    "generated": "model",
    "untrained": "baseline",
    "noise": "baseline",
}
MISSING_REAL = (
    '<figure class="clip missing"><figcaption>no real excerpt</figcaption>'
    "<p>Pass the training data folder (<code>--data</code>) to compare with the music "
    "the model learned from.</p></figure>"
)


def _figure(row: Row, stem: Mapping[str, str]) -> str:
    name, file = html.escape(row.name), html.escape(stem[row.name])
    return (
        f'<figure class="clip {row.kind}"><figcaption>{name.capitalize()}'
        f'<span class="tag">{KIND_TAGS[row.kind]}</span>'
        f'<span class="source">{html.escape(row.source)}</span></figcaption>'
        f'<img src="{file}.png" alt="log-mel spectrogram of {name}">'
        f'<audio controls preload="metadata" src="{file}.wav"></audio></figure>'
    )


SET_NAMES = {
    "generated": "the generated clips",
    "untrained": "an untrained model",
    "noise": "white noise",
}


def set_distances(rows: Sequence[Row], sample_rate: int) -> dict[str, float]:
    """Kind → ``mean_log_mel_distance`` of all its clips to all real excerpts (dB)."""
    real = [r.audio for r in rows if r.kind == "real"]
    kinds = [k for k in SET_NAMES if real and any(r.kind == k for r in rows)]
    return {
        k: mean_log_mel_distance([r.audio for r in rows if r.kind == k], real, sample_rate)
        for k in kinds
    }


def _distance_summary(label: str, rows: Sequence[Row], sample_rate: int) -> str:
    distances = set_distances(rows, sample_rate)
    if not distances:
        return "<p class=note>No real excerpts, so no distances to the real music.</p>"
    (first, d), *rest = distances.items()
    others = ", ".join(f"{SET_NAMES[kind]}: {value:.1f} dB" for kind, value in rest)
    return (
        f'<p class="summary">The average spectrum of {SET_NAMES[first]} is <b>{d:.1f} dB</b> '
        f"from that of {html.escape(_real_music(label))} ({others}; lower is closer).</p>"
    )


def _overview(rows: Mapping[str, Sequence[Row]], held_out: HeldOut | None, sample_rate: int) -> str:
    """One line per label, linking to its section: held-out bits and set distances."""
    per_label = {} if held_out is None else held_out.per_label
    head = "".join(f"<th>{k}: distance (dB)</th>" for k in ("generated", "untrained", "noise"))
    lines = [f"<tr><th>label</th><th>held-out bits per sample</th>{head}</tr>"]
    for label, clip_rows in rows.items():
        distances = set_distances(clip_rows, sample_rate)
        cells = "".join(f"<td>{_number('{:.1f}', distances.get(k))}</td>" for k in SET_NAMES)
        name = html.escape(label)
        lines.append(
            f'<tr><td><a href="#{_slug(label)}">{name}</a></td>'
            f"<td>{_number('{:.2f}', per_label.get(label))}</td>{cells}</tr>"
        )
    return (
        "<section><h2>Overview</h2><p class=note>Lower is better: bits per sample of held-out "
        "music, and the distance of the average spectrum of each kind of clip to that of the "
        f'real music of the label.</p><table class="stats">'
        f"{''.join(lines)}</table></section>"
    )


STAT_COLUMNS = (
    ("rms_db", "RMS (dBFS)", "{:.1f}"),
    ("peak_db", "peak (dBFS)", "{:.1f}"),
    ("centroid_hz", "centroid (Hz)", "{:,.0f}"),
    ("flatness", "flatness", "{:.3f}"),
    ("loudness_spread_db", "loudness spread (dB)", "{:.1f}"),
)


def _stats_table(label: str, rows: Sequence[Row], sample_rate: int) -> str:
    head = "".join(f"<th>{title}</th>" for _, title, _ in STAT_COLUMNS)
    to = html.escape(_real_music(label))
    lines = [f"<tr><th>clip</th>{head}<th>distance to {to} (dB)</th></tr>"]
    for row in rows:
        stats = clip_statistics(row.audio, sample_rate)
        cells = "".join(f"<td>{_number(fmt, stats[key])}</td>" for key, _, fmt in STAT_COLUMNS)
        reference = [r.audio for r in rows if r.kind == "real" and r is not row]
        distance = mean_log_mel_distance([row.audio], reference, sample_rate) if reference else None
        lines.append(
            f'<tr class="{row.kind}"><td>{html.escape(row.name)}</td>{cells}'
            f"<td>{_number('{:.1f}', distance)}</td></tr>"
        )
    return f'<table class="stats">{"".join(lines)}</table>'


def _real_music(label: str) -> str:
    return "the training music" if label == "all" else f"real {label}"


def _number(fmt: str, value: float | None) -> str:
    return "–" if value is None or not np.isfinite(value) else fmt.format(value)


def _header(run_dir: Path, config: Config, speed: Speed | None, held_out: HeldOut | None) -> str:
    rf, rate = config.model.receptive_field, config.data.sample_rate
    cards = [
        (
            "held-out likelihood",
            "–" if held_out is None else f"{held_out.bits_per_sample:.2f} bits/sample",
        ),
        ("trained", f"{_trained_steps(run_dir):,} steps"),
        ("receptive field", f"{rf / rate * 1000:,.0f} ms"),
        ("generation", "–" if speed is None else _pace(speed.real_time_factor)),
    ]
    html_cards = "".join(
        f'<div class="card"><div class="value">{v}</div><div class="key">{k}</div></div>'
        for k, v in cards
    )
    when = time.strftime("%Y-%m-%d %H:%M")
    return (
        f"<header><h1>WaveNet report <span>{html.escape(run_dir.name)}</span></h1>"
        f'<p class="note">{html.escape(str(run_dir.resolve()))} · written {when}</p>'
        f'<div class="cards">{html_cards}</div></header>'
    )


def _pace(real_time_factor: float) -> str:
    if real_time_factor >= 1:
        return f"{real_time_factor:,.1f}× slower than real time"
    return f"{1 / real_time_factor:,.1f}× faster than real time"


def _trained_steps(run_dir: Path) -> int:
    folders = ckpt.checkpoint_dirs(run_dir)
    return int(folders[-1].name.removeprefix("step_")) if folders else 0


def _curves_section(curves: str, held_out: HeldOut | None) -> str:
    measured = ""
    if held_out is not None:
        labels = " · ".join(f"{k} {v:.3f}" for k, v in held_out.per_label.items())
        measured = (
            f"<p>Held-out: <b>{held_out.bits_per_sample:.3f} bits per sample</b> "
            f"({html.escape(held_out.source)}{'; by label: ' if labels else ''}"
            f"{html.escape(labels)}).</p>"
        )
    return (
        f'<section><h2>Learning curves</h2><img class="wide" src="{curves}" '
        f'alt="training and validation bits per sample">{measured}</section>'
    )


def _model_section(config: Config, speed: Speed | None) -> str:
    m, rate = config.model, config.data.sample_rate
    macs = macs_per_sample(m)
    facts = [
        ("receptive field", f"{m.receptive_field:,} samples = {m.receptive_field / rate:.3f} s"),
        ("layers", f"{m.layers}"),
        ("parameters", f"{parameter_count(WaveNet(m)):,}"),
        ("MACs per sample", f"{macs:,} ({macs * rate / 1e9:.2f} GMAC per second of audio)"),
    ]
    if speed is not None:
        facts += [
            (
                "generation speed",
                f"{speed.samples_per_second:,.0f} samples/s "
                f"({speed.streams} clips at once on {speed.device})",
            ),
            ("real-time factor", f"{speed.real_time_factor:,.2f} s of compute per s of audio"),
        ]
    full = [
        (f"{section}.{key}", json.dumps(value))
        for section, values in config.to_dict().items()
        for key, value in values.items()
    ]
    return (
        f"<section><h2>Model</h2>{_table(facts)}"
        f"<details><summary>Full config</summary>{_table(full)}</details></section>"
    )


def _table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="facts">{body}</table>'


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or "all"


def _save_png(figure: Figure, out_dir: Path, stem: str) -> str:
    FigureCanvasAgg(figure).print_png(str(out_dir / f"{stem}.png"))
    return f"{stem}.png"


# --- from a run to a report ----------------------------------------------------------------


def report_main(
    run_dir: Path,
    data_root: Path | None,
    out_dir: Path,
    clips: int = 4,
    seconds: float = 4.0,
    seed: int = 0,
    evaluate_seconds: float = 60.0,
) -> Path:
    """Load the run, generate ``clips`` clips of ``seconds`` (timed) and one from an untrained
    model of the same config, measure the held-out likelihood on up to ``evaluate_seconds``
    of validation audio, write the page; return the path of ``index.html``."""
    run_dir = Path(run_dir)
    data_root = None if data_root is None else Path(data_root)
    model, config = ckpt.load_model(run_dir, resolve_device("auto"))
    which = "all" if config.model.global_labels else None  # every label, ``clips`` each
    options = GenerateConfig(seconds=seconds, num=clips, seed=seed, label=which)
    generated, speed = timed_generation(model, config, options)  # (labels · clips, T)
    with torch.random.fork_rng(devices=[]):  # seeded weights, the caller's RNG untouched
        torch.manual_seed(seed)
        fresh = WaveNet(config.model).to(next(model.parameters()).device).eval()
    baseline = generate_audio(
        fresh, config, GenerateConfig(seconds=seconds, seed=seed, label=which), progress=False
    )  # (labels, T)
    labels = run_labels(run_dir, data_root, config)
    return write_report(
        run_dir,
        data_root,
        out_dir,
        {name: generated[i * clips : (i + 1) * clips] for i, name in enumerate(labels)},
        untrained={name: baseline[i] for i, name in enumerate(labels)},
        speed=speed,
        held_out=held_out_bits(model, config, run_dir, data_root, evaluate_seconds),
        seed=seed,
    )


def timed_generation(
    model: WaveNet, config: Config, options: GenerateConfig
) -> tuple[np.ndarray, Speed]:
    """``generate_audio`` (num, T) and how fast it ran."""
    start = time.perf_counter()
    audio = generate_audio(model, config, options, progress=False)  # (num, T)
    wall = time.perf_counter() - start
    device = str(next(model.parameters()).device)
    return audio, Speed(audio.shape[0], audio.shape[1], wall, config.data.sample_rate, device)


def held_out_bits(
    model: WaveNet,
    config: Config,
    run_dir: Path,
    data_root: Path | None,
    max_seconds: float = 60.0,
) -> HeldOut | None:
    """NLL over the run's validation segments (the first ``max_seconds`` of each label),
    exactly the held-out samples; without the data, the last validation in metrics.jsonl."""
    segments = _validation_segments(run_dir, data_root, config, max_seconds)
    if segments:
        source = window_source(config, segments)
        nats: dict[str, float] = defaultdict(float)
        samples: dict[str, int] = defaultdict(int)
        with torch.no_grad():
            for segment in segments:
                nats[segment.label] += segment_nats(model, source, segment, batch_size=4)
                samples[segment.label] += segment.length
        bits = sum(nats.values()) / sum(samples.values()) / LN2
        per_label = {label: nats[label] / samples[label] / LN2 for label in sorted(nats)}
        files = len({s.source for s in segments})
        how = f"{sum(samples.values()):,} validation samples of {files} file(s)"
        return HeldOut(bits, how, per_label)
    logged = [m for m in read_metrics(run_dir) if "validation_bits" in m]
    if not logged:
        return None
    last = logged[-1]
    return HeldOut(last["validation_bits"], f"validation windows at step {last['step']:,}")


def _validation_segments(
    run_dir: Path, data_root: Path | None, config: Config, max_seconds: float
) -> list[Segment]:
    if data_root is None:
        return []
    budget: dict[str, int] = defaultdict(lambda: int(max_seconds * config.data.sample_rate))
    label_of_source = labeler(config, data_root)
    segments = []
    for source, start, end in _split(run_dir)["validation"]:
        path, label = _source_path(data_root, source), label_of_source(source)
        if budget[label] <= 0 or not path.is_file():
            continue
        cache = cached_classes(path, config.data, config.model.quantization_channels)
        end = min(end, start + budget[label])
        segments.append(Segment(source, label, cache, start, end))
        budget[label] -= end - start
    return segments


# --- template ------------------------------------------------------------------------------

GLOSSARY = """<section class="glossary"><h2>How to read this page</h2><dl>
<dt>Spectrogram</dt><dd>Time runs left to right, pitch bottom to top (mel scale: spaced roughly
as we hear pitch), brightness is loudness: black −90 dB to white −10 dB re full scale, the same
scale in every picture. Notes show as horizontal lines with their overtones above them.</dd>
<dt>Bits per sample</dt><dd>How surprised the model is, on average, by each sample of real
music it did not train on. 8 bits is guessing among the 256 levels; lower is better.</dd>
<dt>RMS, peak</dt><dd>Average and highest level in dB below digital full scale (0 dBFS).</dd>
<dt>Centroid</dt><dd>The spectrum's centre of mass in Hz: the brightness of the sound.</dd>
<dt>Flatness</dt><dd>Tone against noise: near 0 for clear pitches, about 0.56 for white
noise.</dd>
<dt>Loudness spread</dt><dd>How much the level moves, in 50 ms steps (standard deviation in
dB): phrases, attacks and rests give several dB; steady noise stays near 0.</dd>
<dt>Distance to real</dt><dd>Root-mean-square difference, in dB over 80 mel bands, between the
average spectrum of a clip and that of the real excerpts. For a real excerpt it is measured
against the other real excerpts: the natural spread between two pieces of the same music.</dd>
<dt>Real-time factor</dt><dd>Seconds of computing per second of audio, all clips generated
together; below 1 is faster than real time.</dd></dl></section>"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
:root {{ --ink: #1f2328; --muted: #687078; --line: #e3e5e8; --bg: #f6f5f1;
  --real: #2b6cb0; --generated: #c05621; --baseline: #8a8f98; }}
body {{ margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; }}
main {{ max-width: 1320px; margin: 0 auto; padding: 28px 32px 64px; }}
h1 {{ font-size: 28px; margin: 0; }} h1 span {{ color: var(--muted); font-weight: 400; }}
h2 {{ font-size: 22px; margin: 18px 0 6px; }} .label h2 {{ text-transform: capitalize; }}
h3 {{ font-size: 13px; margin: 20px 0 8px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .06em; }}
.note {{ color: var(--muted); font-size: 13px; margin: 4px 0; }}
.cards {{ display: flex; flex-wrap: wrap; gap: 14px; margin: 18px 0 4px; }}
.card {{ background: #fff; border: 1px solid var(--line); border-radius: 12px;
  padding: 12px 20px; min-width: 190px; }}
.card .value {{ font-size: 22px; font-weight: 650; }}
.card .key {{ color: var(--muted); font-size: 12px; text-transform: uppercase;
  letter-spacing: .05em; }}
section {{ background: #fff; border: 1px solid var(--line); border-radius: 16px;
  padding: 6px 26px 22px; margin: 22px 0; }}
.summary {{ font-size: 16px; }} a {{ color: var(--real); }}
.pair {{ display: grid; grid-template-columns: 1fr 1fr; gap: 16px; margin-bottom: 16px; }}
figure.clip {{ margin: 0; padding: 10px 12px 8px; background: #fff;
  border: 1px solid var(--line); border-left: 5px solid var(--baseline); border-radius: 10px; }}
figure.real {{ border-left-color: var(--real); }}
figure.generated {{ border-left-color: var(--generated); }}
figure.missing p {{ color: var(--muted); }}
figcaption {{ font-weight: 600; margin-bottom: 6px; }}
.source {{ margin-left: 10px; font-size: 12px; font-weight: 400; color: var(--muted); }}
.tag {{ margin-left: 10px; padding: 1px 8px; border-radius: 9px; font-size: 11px;
  font-weight: 500; color: #fff; background: var(--baseline); vertical-align: 2px; }}
.real .tag {{ background: var(--real); }} .generated .tag {{ background: var(--generated); }}
figure img {{ display: block; width: 100%; height: auto; border-radius: 4px; }}
figure audio {{ display: block; width: 100%; margin-top: 8px; height: 36px; }}
img.wide {{ display: block; max-width: 100%; height: auto; margin: 8px 0; }}
table {{ border-collapse: collapse; font-variant-numeric: tabular-nums; }}
table.stats {{ width: 100%; }}
table th, table td {{ padding: 6px 12px; border-bottom: 1px solid var(--line); }}
table.stats th {{ font-size: 13px; color: var(--muted); font-weight: 600; text-align: right; }}
table.stats td {{ text-align: right; }}
table.stats td:first-child, table.stats th:first-child {{ text-align: left; }}
tr.real td:first-child {{ color: var(--real); font-weight: 600; }}
tr.generated td:first-child {{ color: var(--generated); font-weight: 600; }}
table.facts th {{ text-align: left; font-weight: 500; color: var(--muted); }}
details summary {{ cursor: pointer; margin: 14px 0 6px; color: var(--muted); }}
dt {{ font-weight: 600; margin-top: 10px; }} dd {{ margin: 2px 0 0; color: #3d444d; }}
@media (max-width: 900px) {{ .pair {{ grid-template-columns: 1fr; }} main {{ padding: 16px; }} }}
</style></head>
<body><main>
{body}
</main></body></html>
"""
