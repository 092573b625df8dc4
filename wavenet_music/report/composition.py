"""The listening report's composition section: composed pieces per label, plain WaveNet
clips of the same length beside them, and how far each sits from real music on the
long-range structure statistics (``structure.py``).

``composition_section`` writes the audio into the report folder and returns the section
as data and as an HTML fragment with relative links; the report page embeds it.
"""

from __future__ import annotations

import html
import math
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..audio.finish import for_listening
from ..audio.io import write_wav
from ..audio.structure import (
    DIAGNOSTICS,
    STATISTICS,
    distance_by_label,
    structure_distance,
    structure_statistics,
    summarise,
)
from ..composer.compose import compose, shortest_words
from ..composer.config import PieceConfig
from ..config import GenerateConfig
from ..wavenet.checkpoint import load_model
from ..wavenet.discovery import distinct_file_names
from ..wavenet.noise_guard import Redraw
from ..wavenet.to_audio import generate_audio
from .clips import real_excerpts, run_labels


def composition_section(
    run_dir: Path,
    out_dir: Path,
    seconds: float = 30.0,
    seed: int = 0,
    data_root: Path | None = None,
    plain_run: Path | None = None,
    real_per_label: int = 2,
    write_audio: bool = True,
    temperature: float | None = None,
    top_k: int | None = None,
    hold_penalty: float | None = None,
) -> dict:
    """Compose one ``seconds`` piece per label of ``run_dir`` (one batch) into
    ``out_dir/composed-LABEL.wav``; beside it ``plain-LABEL.wav``, plain WaveNet without
    features, from ``plain_run`` (a WaveNet without local conditioning, same labels) or,
    when the run was trained with ``train.local_dropout``, from the run's own WaveNet
    unsteered (else no plain clips); with ``data_root`` (the run's
    data) ``real_per_label`` real excerpts of the same length per label as the reference
    of the structure statistics. ``temperature``, ``hold_penalty`` (None: the calibrated
    ones) and ``top_k``: the composer's sampling.

    Returns ``{"title", "temperature", "hold_penalty", "wavenet_floor",
    "wavenet_note_temperature_scale", "wavenet_excitation_gain", "wavenet_treble_tilt",
    "wavenet_heard_harmonics", "wavenet_heard_rolloff",
    "rows": [{"label", "composed", "plain"}], "clips": {kind: {label: (T,)}},
    "windows": {kind: [statistics of one window]},
    "clip_windows": {kind: [[statistics of each window of one clip]]},
    "clip_labels": {kind: [label of each clip]},
    "statistics": {kind: {stat: (mean, std)}}, "distance": {kind: {stat: z, "mean": z}},
    "label_distance": {label: {kind: {stat: z, "mean": z}}},
    "redraws": {kind: {label: {"falls", "left_as_noise"}}}, "html"}`` where kind is
    "real", "composed" or "plain" and distances are to "real" (of the same label in
    ``label_distance``).
    ``write_audio=False`` writes no files (the listening report shows the clips in its
    label sections) and the HTML is the statistics alone."""
    out_dir = Path(out_dir)
    _, config = load_model(run_dir)
    which = "all" if config.model.global_labels else None
    options = PieceConfig(
        seconds=seconds,
        label=which,
        temperature=temperature,
        top_k=top_k,
        hold_penalty=hold_penalty,
        seed=seed,
    )
    piece = compose(run_dir, options)
    floor = options.wavenet_floor if piece.notes is not None else 0.0
    scale = options.wavenet_note_temperature_scale if piece.notes is not None else 1.0
    gain = options.wavenet_excitation_gain if piece.notes is not None else 1.0
    tilt = options.wavenet_treble_tilt if piece.notes is not None else 0.0
    harmonics = options.wavenet_heard_harmonics if piece.notes is not None else 0
    rolloff = options.wavenet_heard_rolloff if piece.notes is not None else 1.0
    labels = run_labels(run_dir, data_root, config)
    clips = {"composed": dict(zip(labels, piece.audio, strict=True))}
    if plain_run is None and config.train.local_dropout > 0:
        plain_run = run_dir
    plain_redraws: list[Redraw] = []
    if plain_run is not None:
        model, plain_config = load_model(plain_run)
        options = GenerateConfig(seconds=seconds, seed=seed, label=which)
        plain = generate_audio(
            model, plain_config, options, progress=False, on_redraw=plain_redraws.append
        )
        clips["plain"] = dict(zip(labels, plain, strict=True))
    rows = _write(clips, out_dir, config.data.sample_rate) if write_audio else []
    rate = config.data.sample_rate
    clip_windows = {
        kind: [structure_statistics([a], rate) for a in c.values()] for kind, c in clips.items()
    }
    clip_labels = {kind: list(c) for kind, c in clips.items()}
    if data_root is not None:
        length = round(seconds * config.data.sample_rate)
        real = [
            (label, row.audio)
            for label in labels
            for row in real_excerpts(
                run_dir, Path(data_root), label, real_per_label, length, config, seed
            )
        ]
        clip_windows["real"] = [structure_statistics([a], rate) for _, a in real]
        clip_labels["real"] = [label for label, _ in real]
    windows = {kind: [w for clip in c for w in clip] for kind, c in clip_windows.items()}
    section = {
        "title": f"Composed pieces ({seconds:g} s)",
        "notes": None if piece.notes is None else dict(zip(labels, piece.notes, strict=True)),
        "temperature": piece.temperature,
        "hold_penalty": piece.hold_penalty,
        "wavenet_floor": floor,
        "wavenet_note_temperature_scale": scale,
        "wavenet_excitation_gain": gain,
        "wavenet_treble_tilt": tilt,
        "wavenet_heard_harmonics": harmonics,
        "wavenet_heard_rolloff": rolloff,
        "shortest_notes": None  # {label: seconds}: no key lifted sooner (event_rules)
        if piece.shortest_notes is None
        else dict(zip(labels, piece.shortest_notes, strict=True)),
        "unsteered_rests": None  # the labels whose rests the WaveNet played unsteered
        if piece.unsteered_rests is None
        else [label for label, u in zip(labels, piece.unsteered_rests, strict=True) if u],
        "rows": rows,
        "clips": clips,
        "windows": windows,
        "clip_windows": clip_windows,
        "clip_labels": clip_labels,
        "statistics": {kind: summarise(w) for kind, w in windows.items() if w},
        "distance": {
            kind: structure_distance(w, windows["real"])
            for kind, w in windows.items()
            if kind != "real" and w and windows.get("real")
        },
        "label_distance": distance_by_label(clip_windows, clip_labels),
        "redraws": {
            "composed": redraws_by_label(piece.redraws, labels),
            "plain": redraws_by_label(plain_redraws, labels),
        },
    }
    section["html"] = section_html(section)
    return section


def _write(clips: dict[str, dict[str, np.ndarray]], out_dir: Path, rate: int) -> list[dict]:
    """``KIND-LABEL.wav`` per label and kind of clip (labels told apart on a disk that
    ignores case: ``distinct_file_names``); a row per label naming its files."""
    labels = list(clips["composed"])
    names = dict(zip(labels, distinct_file_names(labels), strict=True))
    rows = []
    for label in labels:
        row = {"label": label}
        for kind, per_label in clips.items():
            name = f"{kind}-{names[label]}.wav"
            write_wav(out_dir / name, for_listening(per_label[label], rate), rate)
            row[kind] = name
        rows.append(row)
    return rows


STRUCTURE_NOTE = (
    "Long-range structure over 20-s windows (mean ± SD over windows): chroma repetition "
    "(the best chroma self-similarity at lags beyond 1 s), onset-rate variation (CV of "
    "onsets per 2 s) and loudness autocorrelation (lags 1-5 s). The last column is how "
    "many real-music standard deviations each kind of clip sits from real music, averaged "
    "over the three: lower is closer. Harmonic repetition, a diagnostic outside the "
    "distance, is the chroma repetition of unit-length chroma frames: a recurring mix of "
    "pitch classes, loudness divided out."
)


def section_html(section: dict) -> str:
    """The section as an HTML fragment: a player table, then the statistics table."""
    kinds = [k for k in ("composed", "plain") if section["rows"] and k in section["rows"][0]]
    head = "".join(f"<th>{k}</th>" for k in kinds)
    players = "".join(
        f"<tr><td>{html.escape(r['label'])}</td>"
        + "".join(f'<td><audio controls src="{_url(r[k])}"></audio></td>' for k in kinds)
        + "</tr>"
        for r in section["rows"]
    )
    stats = "".join(
        f"<tr><td>{kind}</td>"
        + "".join(f"<td>{m:.3f} ± {s:.3f}</td>" for m, s in (values[n] for n in STATISTICS))
        + f"<td>{_distance(section['distance'].get(kind, {}).get('mean'))}</td>"
        + "".join(f"<td>{m:.3f} ± {s:.3f}</td>" for m, s in (values[n] for n in DIAGNOSTICS))
        + "</tr>"
        for kind, values in section["statistics"].items()
    )
    names = "".join(f"<th>{n.replace('_', ' ')}</th>" for n in STATISTICS)
    return (
        f'<section class="composition"><h2>{html.escape(section["title"])}</h2>'
        + (f"<table><tr><th>label</th>{head}</tr>{players}</table>" if kinds else "")
        + f"<p class=note>Composer temperature {section['temperature']:g}, hold penalty "
        f"{section['hold_penalty']:g}.{_shortest(section)}{_rests(section)}"
        f"{_note_sampling(section)} "
        f"{STRUCTURE_NOTE}</p>"
        f'<table class="stats"><tr><th>clips</th>{names}'
        "<th>distance to real (SDs)</th>"
        + "".join(f"<th>{n.replace('_', ' ')} (diagnostic)</th>" for n in DIAGNOSTICS)
        + f"</tr>{stats}</table>"
        + label_distance_html(section["label_distance"])
        + "</section>"
    )


def _url(name: str) -> str:
    """A file name of the report's folder as a link to it: a label's ``#`` (``C# minor``)
    began the fragment and ``?`` the query, and the player found no file."""
    return html.escape(urllib.parse.quote(name))


def _distance(mean: float | None) -> str:
    """A distance cell: "—" where there is none (the real music's own row)."""
    return "—" if mean is None or not math.isfinite(mean) else f"{mean:.2f}"


def _shortest(section: dict) -> str:
    """How long the composer held each key at least before lifting it (``event_rules``),
    in words; "" for a composer that stored no shortest notes."""
    if not section.get("shortest_notes"):
        return ""
    by_label = section["shortest_notes"]  # {label: seconds}
    held = shortest_words(list(by_label), list(by_label.values()))
    return f" It lifts no key sooner than the label's shortest training notes: {held}."


def _rests(section: dict) -> str:
    """Which labels' rests the WaveNet played unsteered (``compose.unsteered_rests``), in
    words; "" for none."""
    unsteered = section.get("unsteered_rests")
    if not unsteered:
        return ""
    return (
        f" Where no key is down the WaveNet plays unsteered for {', '.join(unsteered)} (that "
        "music plays on between its notes, a score's rests are silent)."
    )


def _note_sampling(section: dict) -> str:
    """How the WaveNet draws while a note sounds (``to_audio.note_floors``,
    ``note_temperatures``) and how it hears the notes (``NOTE_EXCITATION_GAIN``,
    ``NOTE_TREBLE_TILT``, ``NOTE_HEARD_HARMONICS``, ``NOTE_HEARD_ROLLOFF``), in words; ""
    where it draws as everywhere else and hears them as in training."""
    floor = section.get("wavenet_floor", 0.0)
    scale = section.get("wavenet_note_temperature_scale", 1.0)
    parts = [f"never draws a sample value less likely than {floor:g}"] if floor else []
    if scale != 1:
        parts.append(f"draws at {scale:g} times its temperature")
    gain = section.get("wavenet_excitation_gain", 1.0)
    tilt = section.get("wavenet_treble_tilt", 0.0)
    said = [f"the notes {gain:g} times as loud as in training"] if gain != 1 else []
    if tilt:
        said.append(f"the treble {tilt:g} dB louder each octave above G4")
    harmonics = section.get("wavenet_heard_harmonics", 0)
    rolloff = section.get("wavenet_heard_rolloff", 1.0)
    if harmonics:
        said.append(f"each note with its harmonics 1-{harmonics}")
    if rolloff != 1:
        said.append(
            f"harmonic h at 1/h^{rolloff:g} where training heard 1/h (brighter, at the same power)"
        )
    heard = f" It hears {' and '.join(said)}." if said else ""
    if not parts:
        return heard
    return f" While a note sounds, the WaveNet {' and '.join(parts)} (less hiss).{heard}"


def label_distance_html(by_label: dict[str, dict[str, dict[str, float]]]) -> str:
    """The distance to real music label by label (only with more than one label): the
    pooled distance can hide a kind that errs one way in one label and the other way in
    another."""
    if len(by_label) < 2:
        return ""
    kinds = list(dict.fromkeys(k for per in by_label.values() for k in per))
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td>"
        + "".join(f"<td>{per.get(k, {}).get('mean', float('nan')):.2f}</td>" for k in kinds)
        + "</tr>"
        for label, per in by_label.items()
    )
    return (
        "<p class=note>Distance to real music (SDs), label by label: each label's clips "
        "against that label's real excerpts (few windows each, so noisy).</p>"
        '<table class="stats by-label"><tr><th>label</th>'
        + "".join(f"<th>{k}</th>" for k in kinds)
        + f"</tr>{rows}</table>"
    )


def redraws_by_label(redraws: Sequence[Redraw], labels: Sequence[str]) -> dict[str, dict]:
    """label → {"falls": falls into noise drawn again, "left_as_noise": of them, those no
    try resolved} of a batch with one stream per label (``wavenet.noise_guard``)."""
    counts = {label: {"falls": 0, "left_as_noise": 0} for label in labels}
    for redraw in redraws:
        counts[labels[redraw.stream]]["falls"] += 1
        counts[labels[redraw.stream]]["left_as_noise"] += not redraw.resolved
    return counts
