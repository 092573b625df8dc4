"""The HTML page: one section per label, the overview, curves, model and speed tables."""

from __future__ import annotations

import html
import io
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..audio.figures import curves_figure, piano_roll_figure, spectrogram_figure
from ..audio.finish import for_listening
from ..audio.io import write_wav
from ..audio.spectral import (
    aligned_log_mel_distance,
    clip_statistics,
    mean_log_mel_distance,
    shape_and_level,
)
from ..composer.checkpoint import stored_composer_config
from ..config import Config, UserError, load_yaml
from ..notes.midi import Note, write_midi
from ..runs import read_metrics, write_atomically
from ..wavenet import checkpoint as ckpt
from ..wavenet.discovery import distinct_file_names
from ..wavenet.model import macs_per_sample, parameters_of
from .check import check_summary, composer_figures, kind_figures, report_summary, write_summary
from .clips import HeldOut, Row, Speed, power, real_excerpts, white_noise
from .notes import (
    genre_note_figures,
    heard_by_label,
    heard_html,
    notes_figures,
    notes_html,
    originality,
)
from .template import GLOSSARY, PAGE, number

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
    originals: Mapping[str, Sequence[Row]] | None = None,
    plain: Mapping[str, np.ndarray] | None = None,
    extra_sections: Sequence[str] = (),
    notes: Mapping[str, Sequence[Sequence[Note]]] | None = None,
    redraws: Mapping[str, Mapping[str, Mapping[str, int]]] | None = None,
) -> Path:
    """Write ``out_dir/index.html`` with its WAV and PNG files beside it; return its path.

    Args:
        clips: label → generated audio (num, T) of that label; an unconditioned run has one
            label (``run_label``). Real excerpts of each label come from the run's training
            segments under ``data_root`` (None: no real excerpts, no distances to them).
        untrained: label → (T,) a clip of an untrained model of the same config.
        speed, held_out: shown as given (``report_main`` measures them).
        originals: label → the real excerpts the clips re-synthesise (a locally conditioned
            run), shown next to them in order instead of random training excerpts.
        plain: label → (num, T) plain WaveNet clips (no features) beside composed ``clips``.
        extra_sections: HTML sections placed after the label sections.
        notes: label → the notes each composed clip plays (a run of notes): shown as a
            piano roll above its spectrogram, with its MIDI file, and their figures
            beside the genre's (``notes.py``), which the check reads, and how much of
            them the clip's audio plays (its transcription: ``notes.heard_figures``).
        redraws: kind → label → {"falls", "left_as_noise"}: the falls into noise that
            generation drew again (``wavenet.noise_guard``), said under the verdict.
    """
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = ckpt.stored_config(run_dir)  # the checkpoint's, as the clips were generated with
    if config is None:
        raise UserError(f"{run_dir} holds no readable checkpoint; train first")
    rate = config.data.sample_rate
    rows = {
        label: label_rows(
            run_dir,
            data_root,
            label,
            audio,
            (untrained or {}).get(label),
            config,
            seed,
            (originals or {}).get(label),
            (plain or {}).get(label),
            (notes or {}).get(label),
        )
        for label, audio in clips.items()
    }
    slugs = label_slugs(rows)
    sections = [label_section(label, r, out_dir, rate, slugs[label]) for label, r in rows.items()]
    played = None
    if notes:
        seconds = next(iter(clips.values())).shape[-1] / rate
        genre = genre_note_figures(run_dir, data_root, config)
        played = notes_figures(notes, seconds, genre, originality(run_dir, data_root, config))
        for label, heard in heard_by_label(notes, clips, rate).items():
            played[label]["heard"] = heard
    summary = run_summary(run_dir, config, rows, held_out, played)
    summary["redraws"] = None if redraws is None else dict(redraws)
    write_summary(out_dir, summary)
    metrics = read_metrics(run_dir)
    curves = _save_png(
        curves_figure(metrics, config.model.quantization_channels), out_dir, "curves"
    )
    body = [
        _header(run_dir, config, speed, held_out),
        _verdict(summary),
        _redraws_said(redraws),
        _overview(rows, held_out, rate) if len(rows) > 1 else "",
        *sections,
        *extra_sections,
        notes_html(played) if played else "",
        heard_html(played) if played else "",
        _curves_section(curves, held_out),
        _model_section(config, speed),
        GLOSSARY,
    ]
    path = out_dir / "index.html"
    title = html.escape(f"WaveNet report: {run_dir.name}")
    page = PAGE.format(title=title, body="\n".join(body))
    # a file name that is not UTF-8 shows as \udcXX, as on the terminal, instead of failing
    write_atomically(path, page.encode(errors="backslashreplace"))
    return path


def run_summary(
    run_dir: Path,
    config: Config,
    rows: Mapping[str, Sequence[Row]],
    held_out: HeldOut | None,
    notes: Mapping[str, Mapping] | None = None,
) -> dict:
    """The page's figures as data (``check.report_summary``) with the check's misses;
    ``notes``: the composed notes' figures (``notes.notes_figures``)."""
    rate = config.data.sample_rate
    summary = report_summary(
        {label: kind_figures(r, rate) for label, r in rows.items()},
        None if held_out is None else held_out.bits_per_sample,
        _trained_steps(run_dir),
        _planned_steps(run_dir, config),
        composer_figures(read_metrics(run_dir / "composer"), _keeps_best(run_dir)),
        notes,
    )
    summary["misses"] = [str(miss) for miss in check_summary(summary)]
    return summary


def _planned_steps(run_dir: Path, config: Config) -> int | None:
    """The budget of steps last asked for: ``config.yaml``'s, which a resumed session
    writes before its first step (cut short by a time cap, it may save no newer
    checkpoint), else that of ``config`` (the checkpoint's)."""
    try:
        return load_yaml(run_dir / "config.yaml", Config()).train.steps
    except UserError:
        return config.train.steps


def _keeps_best(run_dir: Path) -> bool:
    """Whether the run's composer composes with its best held-out weights (the default)
    or its last (``composer.keep_best``)."""
    config = stored_composer_config(run_dir)
    return config is None or config.keep_best


NOTES_PASSED = ", the composed notes not far more crowded than the genre's"


def _verdict(summary: Mapping) -> str:
    """The quality check as the page's headline: what misses, or that nothing does."""
    misses = summary["misses"]
    figures = '(the figures: <a href="summary.json">summary.json</a>)'
    notes_checked = any("real" in kinds for kinds in (summary.get("notes") or {}).values())
    if not misses:
        return (
            '<p class="verdict pass">Quality check passed: held-out likelihood, every '
            "label's clips far from noise"
            f"{', the composer below its bigram' if summary['composer'] else ''}"
            f"{NOTES_PASSED if notes_checked else ''} {figures}.</p>"
        )
    items = "".join(f"<li>{html.escape(m)}</li>" for m in misses)
    return (
        f'<div class="verdict miss"><b>Quality check: not usable yet</b> {figures}'
        f"<ul>{items}</ul></div>"
    )


def _redraws_said(redraws: Mapping[str, Mapping[str, Mapping[str, int]]] | None) -> str:
    """A line under the verdict: how often generation fell into noise and drew it again
    (the clips as heard are those; ``wavenet.noise_guard``)."""
    if redraws is None:
        return ""
    falls = [
        f"{label} {kind} {counts['falls']}"
        + (f" ({counts['left_as_noise']} left as noise)" if counts["left_as_noise"] else "")
        for kind, by_label in redraws.items()
        for label, counts in by_label.items()
        if counts["falls"]
    ]
    said = "; ".join(falls) if falls else "none"
    return (
        '<p class="redraws">Falls into noise drawn again while generating (half a second '
        "whose loud frames read as noise, drawn again from the half second before, or 1.5 s "
        f"before): {html.escape(said)}.</p>"
    )


def label_rows(
    run_dir: Path,
    data_root: Path | None,
    label: str,
    generated: np.ndarray,
    untrained: np.ndarray | None,
    config: Config,
    seed: int,
    originals: Sequence[Row] | None = None,
    plain: np.ndarray | None = None,
    notes: Sequence[Sequence[Note]] | None = None,
) -> list[Row]:
    """Real excerpts, generated clips, the untrained clip and white noise at the real RMS.
    With ``originals`` (the excerpts the clips re-synthesise) those are the real rows, and
    each clip says how far it is from its original, frame by frame. With ``plain`` (num, T)
    the generated clips are composed pieces and these plain WaveNet clips go beside them;
    ``notes`` are the notes each composed piece plays. Every clip is finished as it is
    written and heard (``audio.finish.for_listening``) before it is measured."""
    generated = np.atleast_2d(generated)  # (num, T)
    num, length = generated.shape
    rows = list(originals or [])
    if data_root is not None and originals is None:
        rows = real_excerpts(run_dir, Path(data_root), label, num, length, config, seed)
    rate = config.data.sample_rate
    for i, audio in enumerate(generated):
        if plain is not None:
            played = None if notes is None else tuple(notes[i])
            rows.append(Row(f"composed {i + 1}", "generated", audio, tag="composed", notes=played))
            rows.append(Row(f"plain {i + 1}", "plain", np.atleast_2d(plain)[i]))
            continue
        if originals is None:
            rows.append(Row(f"generated {i + 1}", "generated", audio))
            continue
        far = aligned_log_mel_distance(audio, originals[i].audio, rate)
        about = f"{far:.1f} dB from its original, frame by frame"
        rows.append(Row(f"re-synthesis {i + 1}", "generated", audio, about, "re-synthesis"))
    if untrained is not None:
        rows.append(Row("untrained model", "untrained", np.asarray(untrained)))
    rows = [replace(row, audio=for_listening(row.audio, rate)) for row in rows]  # as heard
    real = [r.audio for r in rows if r.kind == "real"]
    rms = float(np.sqrt(power(np.concatenate(real or [r.audio for r in rows]))))
    noise = for_listening(white_noise(length, rms, seed), rate)
    return [*rows, Row("white noise", "noise", noise)]


def label_section(
    label: str, rows: Sequence[Row], out_dir: Path, sample_rate: int, slug: str | None = None
) -> str:
    """Players, spectrograms and the statistics table of one label; ``slug`` begins the
    names of its files and is its anchor (``label_slugs``; ``_slug(label)`` by default)."""
    slug = _slug(label) if slug is None else slug
    stem = {row.name: f"{slug}-{_slug(row.name)}" for row in rows}
    for row in rows:
        write_wav(out_dir / f"{stem[row.name]}.wav", row.audio, sample_rate)
        _save_png(spectrogram_figure(row.audio, sample_rate), out_dir, stem[row.name])
        if row.notes is not None:
            seconds = len(row.audio) / sample_rate
            write_midi(out_dir / f"{stem[row.name]}.mid", row.notes, seconds)
            _save_png(roll_figure(row.notes, seconds), out_dir, f"{stem[row.name]}-notes")
    real = [r for r in rows if r.kind == "real"]
    generated = [r for r in rows if r.kind == "generated"]
    plain = [r for r in rows if r.kind == "plain"]
    heading = HEADINGS[generated[0].tag if generated else ""]
    row_class = "pair three" if plain else "pair"  # real, composed and plain side by side
    pairs = [
        f'<div class="{row_class}">{_figure(real[i], stem) if i < len(real) else MISSING_REAL}'
        f"{_figure(g, stem)}{_figure(plain[i], stem) if i < len(plain) else ''}</div>"
        for i, g in enumerate(generated)
    ]
    baselines = "".join(_figure(r, stem) for r in rows if r.kind in ("untrained", "noise"))
    title = html.escape("all genres" if label == "all" else label)
    summary = _distance_summary(label, rows, sample_rate)
    return (
        f'<section class="label" id="{slug}"><h2>{title}</h2>{summary}'
        f"<h3>{heading}</h3>{''.join(pairs)}"
        f'<h3>Baselines</h3><div class="pair">{baselines}</div>'
        f"<h3>Statistics</h3>{_stats_table(label, rows, sample_rate)}</section>"
    )


HEADINGS = {
    "": "Real excerpt and generated clip",
    "re-synthesis": "Held-out original and its re-synthesis from features",
    "composed": "Real excerpt, a piece the models composed (the composer writes what steers "
    "the WaveNet: notes or features) and plain WaveNet (nothing steering it) of the same length",
}
KIND_TAGS = {
    "real": "training data",
    "generated": "model",
    "plain": "plain WaveNet",
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
    roll = link = ""
    if row.notes is not None:
        roll = f'<img class="roll" src="{file}-notes.png" alt="piano roll of {name}">'
        link = f'<a class="midi" href="{file}.mid">its notes: MIDI file, {_count(row.notes)}</a>'
    return (
        f'<figure class="clip {row.kind}"><figcaption>{name.capitalize()}'
        f'<span class="tag">{row.tag or KIND_TAGS[row.kind]}</span>'
        f'<span class="source">{html.escape(row.source)}</span></figcaption>'
        f'{roll}<img src="{file}.png" alt="log-mel spectrogram of {name}">'
        f'<audio controls preload="metadata" src="{file}.wav"></audio>{link}</figure>'
    )


def _count(notes: Sequence[Note]) -> str:
    """ "1 note", "401 notes"."""
    return f"{len(notes):,} note{'' if len(notes) == 1 else 's'}"


def roll_figure(notes: Sequence[Note], seconds: float) -> Figure:
    """``audio.figures.piano_roll_figure`` of ``notes``."""
    columns = np.array([(n.onset, n.offset, n.pitch, n.velocity) for n in notes], float)
    columns = columns.reshape(len(notes), 4).T  # (4, N)
    return piano_roll_figure(*columns, seconds)


KIND_COLUMNS = {"plain": "plain WaveNet"}
SET_NAMES = {
    "generated": "the generated clips",
    "plain": "plain WaveNet (nothing steering it)",
    "untrained": "an untrained model",
    "noise": "white noise",
}


# Generated clips are named by what they are where their tag says (composed, re-synthesis).
GENERATED_NAMES = {"composed": "the composed pieces", "re-synthesis": "the re-syntheses"}


def _generated_tag(rows: Iterable[Row]) -> str:
    """The tag every generated clip of ``rows`` shares ("composed", ...), or ""."""
    tags = {r.tag for r in rows if r.kind == "generated"}
    return tags.pop() if len(tags) == 1 else ""


def _set_name(kind: str, rows: Sequence[Row]) -> str:
    if kind == "generated":
        return GENERATED_NAMES.get(_generated_tag(rows), SET_NAMES[kind])
    return SET_NAMES[kind]


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
    others = ", ".join(f"{_set_name(kind, rows)}: {value:.1f} dB" for kind, value in rest)
    return (
        f'<p class="summary">The average spectrum of {_set_name(first, rows)} is <b>{d:.1f} dB</b> '
        f"from that of {html.escape(_real_music(label))} ({others}; lower is closer)."
        f"{_levels_matched(first, rows, sample_rate)}</p>"
    )


def _levels_matched(kind: str, rows: Sequence[Row], sample_rate: int) -> str:
    """The check's figure in words: ``kind``'s distance with levels matched, beside white
    noise's, and how much louder or quieter it plays (``audio.spectral.shape_and_level``)."""
    real = [r.audio for r in rows if r.kind == "real"]
    shape, level = shape_and_level([r.audio for r in rows if r.kind == kind], real, sample_rate)
    noise = [r.audio for r in rows if r.kind == "noise"]
    beside = f" (white noise: {shape_and_level(noise, real, sample_rate)[0]:.1f} dB)"
    louder = "louder" if level > 0 else "quieter"
    return (
        f" With levels matched it is {shape:.1f} dB from it{beside if noise else ''}, "
        f"playing {abs(level):.1f} dB {louder}."
    )


def _overview(rows: Mapping[str, Sequence[Row]], held_out: HeldOut | None, sample_rate: int) -> str:
    """One line per label, linking to its section: held-out bits and set distances."""
    per_label = {} if held_out is None else held_out.per_label
    kinds = [k for k in SET_NAMES if any(r.kind == k for group in rows.values() for r in group)]
    every = [r for group in rows.values() for r in group]
    columns = {**KIND_COLUMNS, "generated": _generated_tag(every) or "generated"}
    head = "".join(f"<th>{columns.get(k, k)}: distance (dB)</th>" for k in kinds)
    lines = [f"<tr><th>label</th><th>held-out bits per sample</th>{head}</tr>"]
    slugs = label_slugs(rows)
    for label, clip_rows in rows.items():
        distances = set_distances(clip_rows, sample_rate)
        cells = "".join(f"<td>{number('{:.1f}', distances.get(k))}</td>" for k in kinds)
        name = html.escape(label)
        lines.append(
            f'<tr><td><a href="#{slugs[label]}">{name}</a></td>'
            f"<td>{number('{:.2f}', per_label.get(label))}</td>{cells}</tr>"
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
    ("clicks_per_s", "clicks per s", "{:,.1f}"),
)


def _stats_table(label: str, rows: Sequence[Row], sample_rate: int) -> str:
    head = "".join(f"<th>{title}</th>" for _, title, _ in STAT_COLUMNS)
    to = html.escape(_real_music(label))
    lines = [f"<tr><th>clip</th>{head}<th>distance to {to} (dB)</th></tr>"]
    for row in rows:
        stats = clip_statistics(row.audio, sample_rate)
        cells = "".join(f"<td>{number(fmt, stats[key])}</td>" for key, _, fmt in STAT_COLUMNS)
        reference = [r.audio for r in rows if r.kind == "real" and r is not row]
        distance = mean_log_mel_distance([row.audio], reference, sample_rate) if reference else None
        lines.append(
            f'<tr class="{row.kind}"><td>{html.escape(row.name)}</td>{cells}'
            f"<td>{number('{:.1f}', distance)}</td></tr>"
        )
    return f'<table class="stats">{"".join(lines)}</table>'


def _real_music(label: str) -> str:
    return "the training music" if label == "all" else f"real {label}"


def _header(run_dir: Path, config: Config, speed: Speed | None, held_out: HeldOut | None) -> str:
    rf, rate = config.model.receptive_field, config.data.sample_rate
    cards = [
        (
            "held-out likelihood",
            "–" if held_out is None else f"{held_out.bits_per_sample:.2f} bits/sample",
        ),
        ("trained", f"{_trained_steps(run_dir):,} steps"),
        ("receptive field", f"{rf / rate * 1000:,.0f} ms"),
        ("generation", "–" if speed is None else _pace(speed)),
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


def _pace(speed: Speed) -> str:
    """How fast the report's clips were drawn: each clip's pace against real time, and
    how many were drawn together (a lone clip draws faster than each of 24 at once)."""
    factor = speed.real_time_factor
    pace = f"{factor:,.1f}× slower" if factor >= 1 else f"{1 / factor:,.1f}× faster"
    together = f" (each of {speed.streams} clips at once)" if speed.streams > 1 else ""
    return f"{pace} than real time{together}"


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
        ("parameters", f"{parameters_of(m):,}"),
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


def label_slugs(labels: Iterable[str]) -> dict[str, str]:
    """``label -> slug`` naming its section's files and anchor: ``_slug`` (lower case),
    told apart where two labels' slugs are one (``Piano`` and ``piano``, from a run
    trained before such labels were refused) by ``distinct_file_names``."""
    labels = list(labels)
    return dict(zip(labels, distinct_file_names([_slug(x) for x in labels]), strict=True))


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or "all"


def _save_png(figure: Figure, out_dir: Path, stem: str) -> str:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    write_atomically(out_dir / f"{stem}.png", buffer.getvalue())
    return f"{stem}.png"
