"""From a trained run to audio files: which clips one ``generate`` command makes (labels,
tags, paths), what steers them (seed audio, local-conditioning features), and how they
reach WAV files (rewritten while generating, kept on Ctrl-C). The sampling itself is
``generate.generate``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from ..audio.features import SILENCE_DB
from ..audio.finish import for_listening
from ..audio.io import (
    check_damage,
    load_audio_with_damage,
    mu_law_decode,
    mu_law_encode,
    write_wav,
)
from ..config import Config, GenerateConfig, UserError
from ..notes.excitation import CHANNELS as EXCITATION_CHANNELS
from ..notes.excitation import excitation as notes_excitation
from ..notes.excitation import sounding
from ..notes.features import NoteStore
from ..notes.midi import Note
from ..notes.playable import named_notes, read_playable
from ..notes.transcribe import SAMPLE_RATE as TRANSCRIPTION_RATE
from ..notes.transcribe import require_notes, transcribe
from ..runs import check_apart, check_target
from ..runtime.console import warn
from ..runtime.device import free_memory, model_device
from ..runtime.stop import Interrupted, StopRequest
from ..runtime.threads import for_generation as threads_for  # (compose's name for it)
from .compiled import engine_choice
from .discovery import distinct_file_names, label_positions
from .generate import generate
from .memory import require_room_for_clips
from .model import WaveNet
from .noise_guard import NoiseGuard, Redraw, RedrawFn
from .windows import feature_store

SILENT_SPAN = 1e-3  # a clip whose samples all lie within this of each other makes no sound
FULL_SCALE = 0.999  # a sample this far from zero is clipped (mu-law's outermost classes)
REWRITE_GROWTH = 0.25  # a long partial WAV is rewritten once it would hold this much more


def prime_classes(path: Path, config: Config, num: int) -> Tensor:
    """The last receptive field of ``path`` as mu-law classes, repeated: (num, ≤ RF). As
    in training, non-finite samples are silence, said in a warning, and a file without one
    finite sample is refused (it was continued as silence, without a word)."""
    audio, damage = load_audio_with_damage(path, config.data.sample_rate)
    check_damage(path, damage, "the seed audio", "nothing to continue; pass another --seed-audio")
    if audio.size == 0:
        raise UserError(f"{path}: the seed audio is empty; pass a longer --seed-audio")
    classes = mu_law_encode(
        audio[-config.model.receptive_field :], config.model.quantization_channels
    )
    return torch.from_numpy(classes)[None].repeat(num, 1)


def local_features(config: Config, options: GenerateConfig) -> np.ndarray | None:
    """The (K, F) features that steer a locally conditioned model, from ``features_from``
    (an audio file, computed as in training) or ``features`` (a ``.npy`` file); with
    neither, absent frames (NaN) for ``options.seconds`` where the run was trained to
    generate unsteered (``train.local_dropout``)."""
    given = [o for o in (options.features_from, options.features) if o is not None]
    channels = config.model.local_channels
    if channels is None:
        if given or options.notes is not None:
            raise UserError(
                "this run was trained without local conditioning; drop "
                "--features-from/--features/--notes"
            )
        return None
    if options.notes is not None:
        raise UserError(f"this run is steered by {config.data.features}, not notes; drop --notes")
    if not given and config.train.local_dropout > 0:
        frames = -(-round(options.seconds * config.data.sample_rate) // config.model.hop_length)
        return np.full((frames, channels), np.nan, dtype=np.float32)
    if len(given) != 1:
        raise UserError(
            "this run is steered by local-conditioning features: pass exactly one "
            "of --features-from AUDIO or --features FILE.npy (a run trained with "
            "--local-dropout also generates without)"
        )
    if options.features_from is not None:
        return features_of_audio(Path(options.features_from), config)
    return load_features(Path(options.features), channels)


def steering_notes(config: Config, options: GenerateConfig) -> tuple[list[Note] | None, float]:
    """The notes a run trained on notes plays, and the seconds they cover (inf where they
    set no end): those of ``options.notes`` (a MIDI file, played for ``--seconds``) or the
    transcription of ``options.features_from`` (audio: its length); None for an unsteered
    run of ``train.local_dropout`` given neither, or for a run not trained on notes."""
    if config.data.features != "notes" or config.model.local_channels is None:
        return None, math.inf
    if options.features is not None:
        raise UserError(
            "this run plays notes: pass --notes FILE.mid or --features-from AUDIO "
            "(transcribed), not --features"
        )
    if options.notes is not None and options.features_from is not None:
        raise UserError("pass one of --notes FILE.mid and --features-from AUDIO")
    if options.notes is not None:
        notes = read_playable(Path(options.notes))
        say_unplayed(notes, options.notes, options.seconds)
        return notes, math.inf
    if options.features_from is not None:
        path = Path(options.features_from)
        audio, damage = load_audio_with_damage(path, TRANSCRIPTION_RATE)
        check_damage(
            path, damage, "the steering audio", "no notes to play; pass another --features-from"
        )
        return require_notes(transcribe(audio), path), len(audio) / TRANSCRIPTION_RATE
    if config.train.local_dropout > 0:
        return None, math.inf
    raise UserError(
        "this run plays notes: pass --notes FILE.mid or --features-from AUDIO "
        "(a run trained with --local-dropout also generates without)"
    )


def say_unplayed(notes: list[Note], source: str, seconds: float) -> None:
    """A warning naming the notes of ``source`` that start at or after ``seconds`` (the
    clip's end), which the clip leaves out, and the ``--seconds`` that plays them all (a
    file whose first note starts a minute in rendered silence without a word)."""
    late = [n for n in notes if n.onset >= seconds]
    if late:
        what = f"starting after the clip ends ({seconds:g} s)"
        whole = math.ceil(notes_seconds(notes))
        warn(
            f"{source}: {named_notes(late, what)}: not played "
            f"(pass --seconds {whole} to play them all)"
        )


def notes_seconds(notes: list[Note], tail: float = 1.0) -> float:
    """How long a render of ``notes`` lasts: to the last offset, plus ``tail`` for the
    sound to die away."""
    return max(n.offset for n in notes) + tail


def features_of_audio(path: Path, config: Config) -> np.ndarray:
    """Local-conditioning features (K, F) of an audio file, as training computes them;
    non-finite samples are silence, said in a warning (a file without one finite sample
    is refused, ``check_damage``)."""
    audio, damage = load_audio_with_damage(path, config.data.sample_rate)
    check_damage(path, damage, "the steering audio", "no features to take from it")
    features = feature_store(config).of_classes(
        mu_law_encode(audio, config.model.quantization_channels)
    )
    if len(features) == 0:
        raise UserError(f"{path}: too short for one frame of features ({len(audio)} samples)")
    return features


def notes_steering(
    notes: list[Note] | None,
    config: Config,
    length: int,
    clips: int,
    gain: float = 1.0,
    tilt: float = 0.0,
    unsteered_rests: bool = False,
    harmonics: int = 0,
    rolloff: float = 1.0,
) -> tuple[Tensor, Tensor | None]:
    """(features (clips, 176, K), excitation (clips, E, length) or None) that play
    ``notes`` over ``length`` samples, heard ``gain`` times as loud as in training
    (``NOTE_EXCITATION_GAIN``), the treble ``tilt`` dB an octave louder
    (``NOTE_TREBLE_TILT``), each note with its ``harmonics`` (``NOTE_HEARD_HARMONICS``;
    0: as many as in training) at ``1 / h ** rolloff`` (``NOTE_HEARD_ROLLOFF``; 1: as in
    training), with ``unsteered_rests`` the frames where no key is down absent
    (``rests_absent``); ``notes`` None: absent features, no sound heard."""
    store = feature_store(config)
    assert isinstance(store, NoteStore)
    rate = config.data.sample_rate
    if notes is None:
        frames = -(-length // config.model.hop_length)
        roll = np.full((frames, store.channels), np.nan, dtype=np.float32)
        heard = np.zeros((EXCITATION_CHANNELS, length), dtype=np.float32)
    else:
        roll = store.roll(notes, length)  # (K, 176)
        if unsteered_rests:
            roll = rests_absent(roll)
        mix, harmonics = store.mix, harmonics or store.harmonics
        heard = notes_excitation(
            notes, 0, length, rate, mix=mix, tilt=tilt, harmonics=harmonics, rolloff=rolloff
        )
        heard *= np.float32(gain)
    features = _per_clip(roll, clips)
    if not config.model.excitation:
        return features, None
    return features, torch.from_numpy(heard)[None].repeat(clips, 1, 1)


def rests_absent(roll: np.ndarray) -> np.ndarray:
    """``roll`` (K, 176) with its frames where no key is down absent (NaN), as training
    withholds the notes of a share of its windows: there the WaveNet plays as it does
    unsteered, where a rest (the roll of no notes) tells it to fall silent. For music that
    plays on between its notes (a transcription's pads: ``composer.note_tokens.rest_levels``)."""
    rest = ~np.any(roll != NoteStore.silence, axis=1)  # (K,)
    return np.where(rest[:, None], np.float32(np.nan), roll).astype(np.float32)


def pieces_steering(
    pieces: list[list[Note] | None],
    config: Config,
    length: int,
    gain: float | Sequence[float] = 1.0,
    tilt: float = 0.0,
    unsteered_rests: Sequence[bool] | None = None,
    harmonics: int = 0,
    rolloff: float = 1.0,
) -> tuple[Tensor, Tensor | None]:
    """``notes_steering`` of each piece, as one batch: (features (B, 176, K), excitation
    (B, E, length) or None); a piece of None is unsteered; ``gain``: one for all, or each
    piece's; ``tilt``: the treble tilt; ``unsteered_rests``: each piece's (None: none);
    ``harmonics``: each note's, heard (0: as in training), at ``1 / h ** rolloff``.
    Each clip's own copy is freed on return (12 bytes a sample): the batch's alone is
    kept."""
    gains = [gain] * len(pieces) if isinstance(gain, int | float) else list(gain)
    rests = [False] * len(pieces) if unsteered_rests is None else list(unsteered_rests)
    steering = [
        notes_steering(notes, config, length, 1, g, tilt, r, harmonics, rolloff)
        for notes, g, r in zip(pieces, gains, rests, strict=True)
    ]
    features = torch.cat([f for f, _ in steering])  # (B, 176, K)
    heard = torch.cat([e for _, e in steering]) if config.model.excitation else None
    return features, heard


def notes_inputs(
    notes: list[Note], config: Config, options: GenerateConfig, length: int, clips: int
) -> dict:
    """``generate``'s keyword arguments that play ``notes`` in each of ``clips`` clips as
    ``options`` say (``generate``, ``render``, training's TensorBoard previews): the roll
    and the excitation (``notes_steering``: the gain, the treble tilt, the harmonics and
    their rolloff), the roll's silence, and the floors and temperatures while the notes
    sound."""
    gain, tilt, harmonics = options.excitation_gain, options.treble_tilt, options.heard_harmonics
    features, heard = notes_steering(
        notes, config, length, clips, gain, tilt, False, harmonics, options.heard_rolloff
    )
    pieces, rate = [notes] * clips, config.data.sample_rate
    return {
        "features": features,  # (clips, 176, K)
        "excitation": heard,  # (clips, E, length) or None
        "silence": NoteStore.silence,
        "floors": note_floors(pieces, length, rate, options.floor),
        "temperatures": note_temperatures(
            pieces, length, rate, options.temperature, options.note_temperature_scale
        ),
    }


def note_floors(
    pieces: list[list[Note] | None], length: int, sample_rate: int, floor: float
) -> Tensor | None:
    """``generate``'s floors (len(pieces), length): ``floor`` wherever a piece's notes
    sound, 0 elsewhere (rests, unsteered pieces: None), so that a note's hiss is cut and
    the sound between notes is drawn from the whole distribution. None for floor 0."""
    if floor == 0:
        return None
    heard = sounding_rows(pieces, length, sample_rate)  # (B, length)
    return heard.float() * floor  # 4 bytes a sample


def note_temperatures(
    pieces: list[list[Note] | None], length: int, sample_rate: int, temperature: float, scale: float
) -> Tensor | None:
    """``generate``'s temperatures (len(pieces), length): ``temperature · scale`` wherever a
    piece's notes sound, ``temperature`` elsewhere (rests, unsteered pieces). None where
    that is ``temperature`` everywhere (scale 1, temperature 0, no steered piece)."""
    if scale == 1 or temperature == 0 or all(notes is None for notes in pieces):
        return None
    heard = sounding_rows(pieces, length, sample_rate)  # (B, length)
    return torch.where(heard, temperature * scale, temperature).float()  # 4 bytes a sample


def sounding_rows(pieces: list[list[Note] | None], length: int, sample_rate: int) -> Tensor:
    """(len(pieces), length) bool: where each piece's notes sound (``sounding``); an
    unsteered piece (None) nowhere."""
    rows = [
        np.zeros(length, dtype=bool) if notes is None else sounding(notes, length, sample_rate)
        for notes in pieces
    ]
    return torch.from_numpy(np.stack(rows))


def load_features(path: Path, channels: int) -> np.ndarray:
    """The (K, F) float32 features of the ``.npy`` file ``path``; bad input is one line.
    The file is mapped, not read, until it is checked: a header counting more values than
    the file holds (437 TiB for a file of 5 KB) is refused as damaged, where numpy tried
    to allocate them and the command blamed its own --num and --seconds."""
    try:
        features = np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError, EOFError, OverflowError) as exc:
        why = str(exc) or "empty"
        if "greater than file size" in why:
            why = "its header counts more values than the file holds: cut short or damaged"
        elif "pickled" in why:  # no .npy header: numpy took it for a pickle it may not load
            why = "no NumPy header: save features with numpy.save or `wavenet-music features`"
        raise UserError(f"--features {path}: not a readable .npy file ({why})") from None
    if features.dtype.kind not in "fiu":  # strings, complex, booleans, records
        raise UserError(
            f"--features {path}: holds {features.dtype} values; expected real numbers "
            "(float32, as `wavenet-music features` writes)"
        )
    if features.ndim != 2 or features.shape[1] != channels or len(features) == 0:
        raise UserError(
            f"--features {path}: expected shape (frames, {channels}), got {features.shape}"
        )
    with np.errstate(over="ignore", invalid="ignore"):  # said below, in one line
        read = np.array(features, dtype=np.float32)  # read, off the map
    if not np.isfinite(read).all():
        if not np.isfinite(features).all():
            raise UserError(f"--features {path}: holds NaN or inf values")
        raise UserError(  # finite as float64, beyond float32's ±3.4e38
            f"--features {path}: holds values beyond float32's range (±3.4e38), up to "
            f"{np.abs(features).max():.3g}; expected features as `wavenet-music features` "
            "writes them"
        )
    return read


def steered_length(length: int, covered: int, config: Config, options: GenerateConfig) -> int:
    """``length`` samples, or fewer where the steering (features, or the audio whose notes
    play) ends first at ``covered`` samples: it sets the clip's length, with a warning naming
    both lengths when it is shorter than asked (never a silently shorter clip)."""
    if covered >= length:
        return length
    flag, path = (
        ("--features-from", options.features_from)
        if options.features_from is not None
        else ("--features", options.features)
    )
    seconds = round(covered / config.data.sample_rate, 2)
    warn(
        f"{flag} {path} covers {seconds:g} s, shorter than --seconds "
        f"{options.seconds:g}; the clip is {seconds:g} s (pass a longer file to get more)"
    )
    return covered


def _per_clip(features: np.ndarray | None, clips: int) -> Tensor | None:
    """(K, F) → (clips, F, K)."""
    if features is None:
        return None
    return torch.from_numpy(np.ascontiguousarray(features.T))[None].repeat(clips, 1, 1)


def clip_plan(config: Config, options: GenerateConfig) -> tuple[Tensor | None, list[str]]:
    """Which clips one batch generates: label indices (or None) and a tag per clip.

    ``options.label`` names one label, several (``piano,guitar``) or ``all``; each label
    gets ``options.num`` clips. Tags name the files: ``""`` (one clip), ``"2"``,
    ``"piano"``, ``"piano-2"``.
    """
    known = config.model.global_labels
    if not known:
        if options.label is not None:
            raise UserError("this run was trained without labels; drop --label")
        return None, [""] if options.num == 1 else [str(i + 1) for i in range(options.num)]
    if options.label is None:
        raise UserError(
            f"this run is conditioned on labels ({', '.join(known)}); "
            "pass --label NAME, several as --label a,b, or --label all "
            '(from Python: label="NAME" in GenerateConfig or PieceConfig)'
        )
    chosen = list(known) if options.label == "all" else options.label.split(",")
    if "" in chosen:  # "piano,," or ",piano": said as a name twice, with no name
        raise UserError(
            f"--label {options.label!r}: an empty label name; name labels as --label a,b "
            f"(this run knows: {', '.join(known)})"
        )
    twice = sorted({name for name in chosen if chosen.count(name) > 1})
    if twice:  # their clips would share a file name
        raise UserError(
            f"--label {options.label}: names {', '.join(twice)} more than once; "
            f"for several clips of a label pass --num (e.g. --label {twice[0]} --num 2)"
        )
    indices = [i for i in label_positions(known, chosen) for _ in range(options.num)]
    tags = [
        name if options.num == 1 else f"{name}-{i + 1}"
        for name in chosen
        for i in range(options.num)
    ]
    return torch.tensor(indices), tags


NOTE_SETTINGS = (
    "floor",
    "note_temperature_scale",
    "excitation_gain",
    "treble_tilt",
    "heard_harmonics",
    "heard_rolloff",
)


def refuse_note_settings(
    config: Config, options: Any, prefix: str = "", composing: tuple[str, ...] = ()
) -> None:
    """A one-line error where a run not steered by notes is given, other than at its
    default, a setting that only notes are played with (``NOTE_SETTINGS``, named with
    ``prefix`` in ``options``) or composed with (``composing``, named as they are):
    ignored, it would leave a musician wondering why the clip did not change."""
    if config.data.features == "notes" and config.model.local_channels is not None:
        return
    defaults = {f.name: f.default for f in dataclasses.fields(options)}
    names = [prefix + name for name in NOTE_SETTINGS] + list(composing)
    changed = [name for name in names if getattr(options, name) != defaults[name]]
    if changed:
        flags = ", ".join("--" + name.replace("_", "-") for name in changed)
        steered = config.data.features if config.model.local_channels else "nothing"
        them = "it" if len(changed) == 1 else "them"
        raise UserError(
            f"{flags}: only a run trained on notes plays with {them}; this run is steered "
            f"by {steered}: drop {flags}"
        )


def check_out(out: Path, suffix: str = ".wav", flag: str = "--out") -> Path:
    """``out`` as typed (before any tag is added), else a one-line error naming ``flag``:
    an empty name, a folder (``dir/``), a device, or a name not ending in ``suffix`` (a
    bare ``take`` was written as a WAV file named ``take``). Cheap: call it before any work."""
    text = str(out)
    out = Path(out)
    if not text or text.endswith(os.sep) or out.name in ("", ".", ".."):
        raise UserError(f"{flag} {text!r}: expected a file name ({suffix}), not a folder")
    check_target(out)  # as typed: /dev/null, or an existing folder
    if out.suffix.lower() != suffix:
        kind = suffix[1:].upper()
        raise UserError(f"{flag} {out}: expected a {kind} path (a name ending in {suffix})")
    return out


def clip_paths(out: Path, tags: list[str], suffix: str = ".wav", flag: str = "--out") -> list[Path]:
    """``out`` for a lone untagged clip, else ``out-TAG`` + its suffix per clip (a label's
    path separators become ``_``, and labels that differ only in case take a suffix,
    ``distinct_file_names``: runs trained before labels were checked may hold either).
    ``out`` itself is checked as typed, before any tag (``check_out``)."""
    out = check_out(out, suffix, flag)
    if tags == [""]:
        return [out]
    tags = distinct_file_names([re.sub(r"[/\\\x00]", "_", tag) for tag in tags])
    return [out.with_name(f"{out.stem}-{tag}{out.suffix}") for tag in tags]


def generate_audio(
    model: WaveNet,
    config: Config,
    options: GenerateConfig,
    out: Path | None = None,
    progress: bool = True,
    on_redraw: RedrawFn | None = None,
) -> np.ndarray:
    """Sample the clips of ``clip_plan`` as one batch and return float audio (clips, T).

    With ``out``, the clips are written as 16-bit WAV (see ``clip_paths``), every
    ``options.save_every`` seconds while generating and at the end; a path that cannot be
    written is refused before generating. Ctrl-C keeps the audio generated so far: it is
    written, then ``runtime.stop.Interrupted`` names the files (none before the first sample).
    ``on_redraw`` hears every fall into noise drawn again (``noise_guard``).
    """
    rate, q = config.data.sample_rate, config.model.quantization_channels
    hop = config.model.hop_length if config.model.local_channels is not None else None
    length = round(options.seconds * rate)
    labels, tags = clip_plan(config, options)
    refuse_note_settings(config, options)
    paths = None if out is None else clip_paths(out, tags)
    for path in paths or []:
        check_target(path)  # a folder or a device fails now, not after the generation
    read = {"--seed-audio": options.seed_audio, "--notes": options.notes}
    read.update({"--features-from": options.features_from, "--features": options.features})
    check_apart(paths or [], read)  # before any of them is read (and warned of)
    by_notes = config.data.features == "notes" and config.model.local_channels is not None
    if by_notes:
        notes, seconds = steering_notes(config, options)
        if math.isfinite(seconds):
            length = steered_length(length, round(seconds * rate), config, options)
    else:
        features = local_features(config, options)  # (K, F) or None
        if features is not None:
            covered = len(features) * config.model.hop_length
            length = steered_length(length, covered, config, options)
    free = free_memory(torch.device("cpu"))
    require_room_for_clips(config, len(tags), length, free, labels=len(tags) // options.num)
    if by_notes:
        steered = notes_inputs(notes, config, options, length, len(tags))
    else:
        steered = {"features": _per_clip(features, len(tags)), "silence": SILENCE_DB}
    generator = torch.Generator(device=model_device(model))
    if options.seed is None:
        generator.seed()
    else:
        generator.manual_seed(options.seed)
    prime = None
    if options.seed_audio is not None:
        prime = prime_classes(Path(options.seed_audio), config, len(tags))
    every = None if options.save_every is None else int(options.save_every * rate)
    bar = tqdm(
        total=length, unit="sample", unit_scale=True, disable=not progress, desc="generating"
    )
    latest: list[Tensor] = [torch.empty(len(tags), 0, dtype=torch.long)]
    written = [0]  # samples in the partial WAVs
    stop = StopRequest()

    def on_step(classes: Tensor) -> None:  # after a sample or a run of them
        if stop.requested:  # raised here, between samples, never inside a library call
            raise KeyboardInterrupt
        before = latest[0].shape[1]
        latest[0] = classes
        bar.update(classes.shape[1] - before)
        if paths is not None and every and rewrite_due(classes.shape[1], written[0], every):
            write_clips(paths, mu_law_decode(classes.cpu().numpy(), q), rate)
            written[0] = classes.shape[1]

    try:
        with stop, threads_for(len(tags), model_device(model)) as threads:
            if progress:  # the choices, where the progress bar is
                engine = engine_choice(model, options.engine, options.precision)
                where = threads or model_device(model).type
                bar.write(f"generating with the {engine}; {where}", file=sys.stderr)
            classes = generate(
                model,
                length,
                len(tags),
                temperature=options.temperature,
                generator=generator,
                prime=prime,
                labels=labels,
                **steered,  # features, excitation, silence, floors, temperatures
                max_jump=options.max_jump,
                on_step=on_step,
                guard=NoiseGuard.of(options.redraw_noise, rate, q, hop),
                on_redraw=on_redraw,
                engine=options.engine,
                precision=options.precision,
            )
    except KeyboardInterrupt:
        written = paths is not None and latest[0].shape[1] > 0
        if written:
            write_clips(paths, mu_law_decode(latest[0].cpu().numpy(), q), rate)
        raise Interrupted(paths if written else []) from None
    finally:
        bar.close()
    audio = mu_law_decode(classes.cpu().numpy(), q)  # (clips, T)
    if paths is not None:
        write_clips(paths, audio, rate)
    return audio


def rewrite_due(samples: int, written: int, every: int) -> bool:
    """Whether a partial WAV holding ``written`` samples is rewritten now that ``samples``
    are made: after ``every`` more, and once it is long only after ``REWRITE_GROWTH`` of
    it more, so that a long piece writes a few times its size in all, never its length
    squared (a 4-minute piece rewritten every 2 s wrote 465 MB for a 7.7-MB file)."""
    return samples - written >= max(every, REWRITE_GROWTH * written)


def sound_warnings(
    paths: list[Path],
    audio: np.ndarray,
    max_jump: float = 0.0,
    flags: tuple[str, str] = ("--temperature", "--max-jump"),
) -> list[str]:
    """A line for each clip of ``audio`` (clips, T) a listener cannot use: one value
    throughout (no sound: the likeliest sample drawn again and again, as at temperature
    0, or every step kept under a ``max_jump`` too small to be heard), or samples at full
    scale (clipping: draws from a distribution made too flat). ``flags``: the command's
    names of the temperature and the jump limit (compose: ``--wavenet-...``)."""
    temperature, jump = flags
    silent = f"raise {temperature}"
    if 0 < max_jump < SILENT_SPAN:  # no one step may move the clip as far as is heard
        silent = (
            f"raise {jump} (at {max_jump:g} a sample moves at most that far from the one "
            f"before; {SILENT_SPAN:g} is heard) or {temperature}"
        )
    lines = []
    for path, clip in zip(paths, np.atleast_2d(audio), strict=True):
        if clip.size and np.ptp(clip) < SILENT_SPAN:
            lines.append(f"{path}: no sound (one value throughout); {silent}")
        elif (full := int(np.count_nonzero(np.abs(clip) >= FULL_SCALE))) > 0:
            lines.append(
                f"{path}: {full} sample{'s' * (full > 1)} at full scale (clipping); "
                f"lower {temperature}"
            )
    return lines


def redraw_lines(paths: list[Path], redraws: list[Redraw], sample_rate: int) -> list[str]:
    """A line for each clip the noise guard drew again (``noise_guard``): where it fell
    into noise and, where no try read as music, a warning that it is left as noise."""
    lines = []
    for index, path in enumerate(paths):
        mine = [r for r in redraws if r.stream == index]
        if not mine:
            continue
        at = ", ".join(f"{r.start / sample_rate:.1f} s" for r in mine)
        lines.append(f"{path}: fell into noise {len(mine)}x, drawn again from {at}")
        for r in mine:
            if not r.resolved:
                lines.append(
                    f"warning: {path}: still noise from {r.start / sample_rate:.1f} s after "
                    f"{r.draws} draws: the model is under-trained (train longer) or "
                    "the temperature too high"
                )
    return lines


def write_clips(paths: list[Path], audio: np.ndarray, sample_rate: int) -> None:
    """Each clip of ``audio`` (clips, T) as a WAV file, finished to be heard (no
    infrasound, no click at either end: ``audio.finish.for_listening``)."""
    for path, clip in zip(paths, audio, strict=True):
        write_wav(path, for_listening(clip, sample_rate), sample_rate)
