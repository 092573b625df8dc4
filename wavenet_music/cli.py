"""``wavenet-music``: a thin command line over the library.

Every setting flag is generated from the config dataclasses (``--residual-channels``,
``--sample-size``, ``--layers`` of the composer, ...); for ``train`` (sections model, data,
train) and ``train-composer`` (section composer) ``--preset``, ``--config FILE.yaml`` and
``--set section.key=v`` layer in the order preset → file → flags → ``--set`` (``--resume``
and ``train --init-from RUN`` start from the run's config instead of a preset, unless
``--preset`` is given). User errors print one line and exit 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import functools
import itertools
import json
import re
import secrets
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from .composer.config import ComposerConfig, PieceConfig
from .config import (
    MAX_SECONDS,
    MAX_SEED,
    Config,
    DataConfig,
    EvaluateConfig,
    GenerateConfig,
    ReportConfig,
    UserError,
    apply_overrides,
    coerce,
    load_preset,
    load_yaml,
    parse_assignment,
    preset_names,
    sections_of,
    yaml_value,
)
from .config.checks import field_specs
from .runtime.console import rank_zero_speaks, say, warn
from .runtime.device import in_binary_units

if TYPE_CHECKING:
    from .runs import CacheSurvey

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it
EXIT_OUT_OF_MEMORY = 1
DEFAULT_PRESET = "reference"
SET_EXAMPLES = {"model": "model.residual_channels=32", "composer": "composer.layers=2"}


# --- flags generated from the dataclasses ----------------------------------------------------


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_dataclass_flags(parser: argparse.ArgumentParser, owner: type, prefix: str) -> None:
    """One flag per field of ``owner``, its declared type and range in the help; values
    are YAML (``--dilations [1,2,4]``)."""
    group = parser.add_argument_group(f"{owner.__name__} settings")
    specs = field_specs(owner)
    for f in dataclasses.fields(owner):
        group.add_argument(
            _flag(f.name),
            dest=f"{prefix}{f.name}",
            default=None,
            metavar="V",
            help=f"{f.metadata['help']} [{specs[f.name].summary()}, default {f.default}]",
        )


def _flag_values(args: argparse.Namespace, owner: type, prefix: str) -> dict[str, Any]:
    """The flags the user gave, converted to their fields' types (ranges are checked when
    the config is made). A text setting takes the text as typed (``--label 1990``)."""
    values = {}
    for key, spec in field_specs(owner).items():
        raw = getattr(args, f"{prefix}{key}")
        if raw is None:
            continue
        text = spec.kind is str and not (spec.optional and raw == "null")
        values[key] = coerce(owner, key, raw if text else yaml_value(raw))
    return values


def add_config_flags(parser: argparse.ArgumentParser, kind: type = Config) -> None:
    """``--preset``, ``--config``, ``--set`` and a flag per field of each section of ``kind``
    (``Config``: model, data, train; ``ComposerConfig``: composer)."""
    sections = sections_of(kind())
    parser.add_argument(
        "--preset",
        default=None,
        help=f"named settings: {', '.join(preset_names())} (default {DEFAULT_PRESET}; "
        "with --resume or train --init-from: the run's own)",
    )
    parser.add_argument(
        "--config",
        type=user_path,
        help=f"YAML file of {{{', '.join(sections)}}} settings (other sections skipped)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help=f"override one setting, e.g. --set {SET_EXAMPLES[next(iter(sections))]}",
    )
    for section, part in sections.items():
        add_dataclass_flags(parser, type(part), f"{section}__")


def config_from_args(
    args: argparse.Namespace, base: Any = None, kind: type = Config
) -> tuple[Any, dict[str, Any]]:
    """A ``kind`` (``Config`` or ``ComposerConfig``): preset (or ``base`` when no
    ``--preset`` is given) → YAML file → generated flags → ``--set``; also returns what the
    user set."""
    if base is None or args.preset is not None:
        base = load_preset(args.preset or DEFAULT_PRESET, kind())
    config = base
    if args.config is not None:
        config = load_yaml(args.config, config)
    overrides: dict[str, Any] = {}
    for section, part in sections_of(config).items():
        for key, value in _flag_values(args, type(part), f"{section}__").items():
            overrides[f"{section}.{key}"] = value
    overrides.update(parse_assignment(text) for text in args.set)
    return apply_overrides(config, overrides), overrides


# --- commands ------------------------------------------------------------------------------------


def cmd_info(args: argparse.Namespace) -> None:
    from .wavenet.memory import SCRATCH_ALLOWANCE, step_memory
    from .wavenet.model import macs_per_sample, parameters_of
    from .wavenet.run_dir import check_fits_together

    config, _ = config_from_args(args)
    check_fits_together(config)
    m, d = config.model, config.data
    step = step_memory(config, config.train.batch_size)
    rows = [
        ("preset", args.preset or DEFAULT_PRESET),
        ("layers", f"{m.layers} (dilations {_dilation_summary(m.dilations)})"),
        ("filter width", m.filter_width),
        (
            "channels",
            f"residual {m.residual_channels}, dilation {m.dilation_channels}, "
            f"skip {m.skip_channels}, quantization {m.quantization_channels}",
        ),
        (
            "receptive field",
            f"{m.receptive_field:,} samples = {m.receptive_field / d.sample_rate:.3f} s"
            f" at {d.sample_rate:,} Hz",
        ),
        ("parameters", _parameters(config)),
        (
            "training state",
            f"{in_binary_units(step.state)} (weights, gradients and Adam's moments)",
        ),
        (
            "training step",
            f"about {in_binary_units(step.total)} at batch {step.windows}: the state and each "
            f"window's activations, {in_binary_units(step.per_window)} (a CPU's scratch "
            f"space adds up to {SCRATCH_ALLOWANCE - 1:.0%} more)",
        ),
        ("MACs per generated sample", f"{macs_per_sample(m):,}"),
        (
            "training window",
            f"{m.receptive_field + d.sample_size:,} samples "
            f"({d.sample_size:,} targets) x batch {config.train.batch_size}",
        ),
        ("silence trimming", "off" if d.silence_threshold is None else d.silence_threshold),
    ]
    if args.json:
        print(
            json.dumps(
                {
                    "config": config.to_dict(),
                    "receptive_field": m.receptive_field,
                    "parameters": parameters_of(m),
                    "training_state_bytes": step.state,
                    "training_step_bytes": step.total,
                    "window_activation_bytes": step.per_window,
                    "macs_per_sample": macs_per_sample(m),
                }
            )
        )
        return
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


def _parameters(config: Config) -> str:
    """The parameter count; where the labels come from the data (unknown until training
    reads it: the demo's genre folders), what each label adds."""
    from .wavenet.model import parameters_of

    m = config.model
    count = parameters_of(m)
    if config.data.labels is None or m.global_labels:
        return f"{count:,}"
    one = parameters_of(dataclasses.replace(m, global_labels=("one",)))
    return f"{count:,} + {one - count:,} a label (data.labels={config.data.labels})"


def _dilation_summary(dilations: Sequence[int]) -> str:
    stacks = [i for i, d in enumerate(dilations) if d == 1]
    if len(stacks) > 1 and dilations == tuple(dilations[: stacks[1]]) * len(stacks):
        return f"1..{max(dilations)} x {len(stacks)}"
    return ",".join(map(str, dilations))


def cmd_train(args: argparse.Namespace) -> None:
    from .wavenet.train import train

    stored = _stored_config(args)
    config, _ = config_from_args(args, _source_config(args) or stored)
    if stored is None or _absolute(stored.data) == stored.data:
        config = dataclasses.replace(config, data=_absolute(config.data))
    result = train(
        args.data,
        args.run,
        config,
        resume=args.resume,
        quiet=args.quiet,
        init_from=args.init_from,
        **({"warmup_advice": args.warmup_advice} if args.warmup_advice else {}),
    )
    last_step, last = result.validation_bits[-1] if result.validation_bits else (None, None)
    summary = {
        "run": str(result.run_dir),
        "step": result.step,
        "validation_bits": last,
        "validation_step": last_step,  # a run stopped early was last scored before its step
        "samples_per_second": round(result.samples_per_second, 1),
        "interrupted": result.interrupted,
    }
    print(json.dumps(summary))  # under torchrun, rank 0's alone (runtime/console.py)


def _absolute(data: DataConfig) -> DataConfig:
    """``data.labels`` (a CSV file) and ``data.cache_dir`` as absolute paths, so that the
    run resumes and is scored from any folder (a run stored with relative ones, before
    2026-12-04, keeps them: a resume compares the stored settings with those asked for)."""
    labels, cache = data.labels, data.cache_dir
    if labels is not None and labels != "folders":
        labels = str(Path(labels).expanduser().absolute())
    if cache is not None:
        cache = str(Path(cache).expanduser().absolute())
    return dataclasses.replace(data, labels=labels, cache_dir=cache)


def _stored_config(args: argparse.Namespace) -> Config | None:
    """With ``--resume``: the run's stored config without its budget (the budget is this
    session's ``--steps`` / ``--minutes``), the base the flags override; ``train`` refuses
    any change but the budget, an explicit ``--preset`` included."""
    if not args.resume:
        return None
    from .wavenet.checkpoint import stored_config

    stored = stored_config(args.run)
    if stored is None:
        return None  # train says why the run cannot be resumed
    return dataclasses.replace(
        stored, train=dataclasses.replace(stored.train, steps=None, minutes=None)
    )


def _source_config(args: argparse.Namespace) -> Config | None:
    """With ``--init-from``: the source run's config without its training budget, the
    base that ``--config``, the flags and ``--set`` override (an explicit ``--preset``
    replaces it); the new run's budget is its own ``--steps`` or ``--minutes``."""
    if args.init_from is None:
        return None
    from .wavenet.finetune import check_not_resuming, inherited_config, source_config

    check_not_resuming(args.resume)
    return inherited_config(source_config(args.init_from))


def cmd_generate(args: argparse.Namespace) -> None:
    from .runtime.device import generation_device
    from .wavenet.checkpoint import load_model
    from .wavenet.to_audio import check_out, clip_paths, clip_plan, generate_audio

    check_out(args.out)  # as typed, before the model loads
    options = _drawn_seed(GenerateConfig(**_flag_values(args, GenerateConfig, "gen__")))
    model, config = load_model(args.run, generation_device(options.device))
    for flag, value in (
        ("--seed-audio", options.seed_audio),
        ("--features-from", options.features_from),
        ("--features", options.features),
    ):
        if value is not None and not Path(value).is_file():
            raise UserError(f"{flag} {value} is not a file")
    redraws: list = []
    audio = generate_audio(
        model, config, options, out=args.out, progress=not args.quiet, on_redraw=redraws.append
    )
    paths = clip_paths(args.out, clip_plan(config, options)[1])
    _say_sound(paths, audio, redraws, config.data.sample_rate, options.max_jump)
    for path in paths:
        print(path)


def _say_sound(
    paths: list[Path],
    audio: Any,
    redraws: list,
    sample_rate: int,
    max_jump: float,
    flags: tuple[str, str] = ("--temperature", "--max-jump"),
) -> None:
    """A warning for each written clip a listener cannot use (``sound_warnings``, its
    advice in the command's ``flags``), and a line for each fall into noise drawn again
    (``redraw_lines``)."""
    from .wavenet.to_audio import redraw_lines, sound_warnings

    for line in redraw_lines(paths, redraws, sample_rate):
        say(line)
    for line in sound_warnings(paths, audio, max_jump, flags):
        warn(line)


def _drawn_seed(options: Any) -> Any:
    """``options`` with a fresh seed where it has none (``--seed null``), said on stderr:
    the clips a musician likes can be drawn again with it."""
    if options.seed is not None:
        return options
    seed = secrets.randbelow(MAX_SEED + 1)
    print(f"seed {seed} (pass --seed {seed} to draw the same again)", file=sys.stderr)
    return dataclasses.replace(options, seed=seed)


def cmd_render(args: argparse.Namespace) -> None:
    """``generate`` playing the notes of a MIDI file, to their end unless --seconds."""
    from .notes.midi import read_midi
    from .runtime.device import generation_device
    from .wavenet.checkpoint import load_model
    from .wavenet.to_audio import check_out, clip_paths, clip_plan, generate_audio, notes_seconds

    given = _flag_values(args, GenerateConfig, "gen__")
    if given.get("notes") is not None or given.get("features_from") or given.get("features"):
        raise UserError("render plays its MIDI file: drop --notes/--features-from/--features")
    check_out(args.out)  # as typed, before the MIDI file is read and the model loads
    seconds = given.pop("seconds", None)  # 0 is checked as any length is, not "unset"
    if seconds is None:
        seconds = notes_seconds(read_midi(args.midi))
        if seconds > MAX_SECONDS:
            raise UserError(
                f"{args.midi} lasts {seconds:,.0f} s with its tail, longer than a render may "
                f"({MAX_SECONDS:,} s); pass --seconds N to render its first N seconds"
            )
    options = _drawn_seed(GenerateConfig(**given, seconds=seconds, notes=str(args.midi)))
    model, config = load_model(args.run, generation_device(options.device))
    if config.data.features != "notes" or config.model.local_channels is None:
        raise UserError(
            f"{args.run} was not trained on notes (its features: {config.data.features}); "
            "train one with --preset notes"
        )
    redraws: list = []
    audio = generate_audio(
        model, config, options, out=args.out, progress=not args.quiet, on_redraw=redraws.append
    )
    paths = clip_paths(args.out, clip_plan(config, options)[1])
    _say_sound(paths, audio, redraws, config.data.sample_rate, options.max_jump)
    for path in paths:
        print(path)


def cmd_features(args: argparse.Namespace) -> None:
    from .runs import check_apart, npy_bytes, write_atomically
    from .wavenet.checkpoint import load
    from .wavenet.to_audio import check_out, features_of_audio

    config = load(args.run, weights_only=True).config
    if config.model.local_channels is None:
        raise UserError(f"{args.run} was trained without local conditioning: it has no features")
    if config.data.features == "notes":  # generate --features refuses what this would write
        raise UserError(
            f"{args.run} plays notes, not features: write a recording's notes with "
            f"`wavenet-music transcribe {args.audio} --out notes.mid` and steer with --notes"
        )
    if not args.audio.is_file():
        raise UserError(f"{args.audio} is not a file")
    check_out(args.out, ".npy")  # a .npy name (never a checkpoint's), not a folder
    check_apart([args.out], {"AUDIO": args.audio})
    features = features_of_audio(args.audio, config)
    write_atomically(args.out, npy_bytes(features))
    print(f"{args.out}: {features.shape[0]} frames x {features.shape[1]} channels")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from .runtime.device import resolve_device
    from .wavenet.checkpoint import load_model
    from .wavenet.evaluate import evaluate, trained_on

    options = EvaluateConfig(**_flag_values(args, EvaluateConfig, "eval__"))
    model, config = load_model(args.run, resolve_device(options.device))
    if options.follow_seconds is not None:
        from .wavenet.follow import check_plays_notes

        check_plays_notes(config)  # before the likelihood, which takes a while
    result = evaluate(
        model,
        config,
        args.data,
        batch_size=options.batch_size,
        quiet=args.quiet,
        label=options.label,
        say_damage=options.follow_seconds is None,  # following reads the files scored: says it
    )
    trained = trained_on(args.run, args.data, list(result.per_file))
    if trained:  # said even with --json: the figure is not what it seems
        warn(
            f"the run trained on {len(trained)} of the {result.files} files scored "
            f"(first: {trained[0]}): these bits are not held out; score music it never heard"
        )
    scored = [args.data if args.data.is_file() else args.data / n for n in result.per_file]
    following, unfollowed = _follow(model, config, args.data, scored, options)
    if args.json:
        record = result.to_dict()
        if unfollowed is not None:
            record["following_skipped"] = unfollowed
        if following is not None:
            record["following"] = [f.to_dict() for f in following]
            record["following_heard"] = {
                "excitation_gain": options.excitation_gain,
                "treble_tilt": options.treble_tilt,
                "heard_harmonics": options.heard_harmonics,
                "heard_rolloff": options.heard_rolloff,
            }
        print(json.dumps(record))
        return
    print(
        f"{result.bits_per_sample:.4f} bits per sample over {result.samples:,} samples "
        f"in {result.files} files ({len(result.skipped)} skipped)"
    )
    if following is not None:
        print(
            f"renders hear the notes ×{options.excitation_gain:g}, the treble "
            f"+{options.treble_tilt:g} dB an octave above G4, "
            f"{_harmonics_words(options.heard_harmonics, options.heard_rolloff)}"
        )
        print_following(following)


def _harmonics_words(harmonics: int, rolloff: float) -> str:
    """The harmonics generation hears (``NOTE_HEARD_HARMONICS``, ``NOTE_HEARD_ROLLOFF``),
    in words."""
    which = f"harmonics 1-{harmonics}" if harmonics else "the harmonics as in training"
    return which + ("" if rolloff == 1 else f" at 1/h^{rolloff:g}, power kept")


def _follow(
    model, config, data: Path, scored: list[Path], options: EvaluateConfig
) -> tuple[list | None, str | None]:
    """``evaluate --follow-seconds`` on the files the likelihood ``scored`` (not those it
    skipped as undecodable or too short): the followings, or None and why following was
    skipped (said on stderr in one line: the likelihood already computed still stands)."""
    if options.follow_seconds is None:
        return None, None
    from .wavenet.follow import NothingToFollow, follow_notes

    try:
        following = follow_notes(
            model,
            config,
            data,
            options.follow_seconds,
            0,
            options.label,
            excitation_gain=options.excitation_gain,
            treble_tilt=options.treble_tilt,
            heard_harmonics=options.heard_harmonics,
            heard_rolloff=options.heard_rolloff,
            paths=scored,
        )
    except NothingToFollow as exc:
        warn(f"following skipped: {exc}")
        return None, str(exc)
    return following, None


def print_following(following) -> None:
    """How well renders follow their notes, one row per piece: note F1, pitch-class F1 and
    frame pitch-class F1 of the render, its chance floor, the real recording, unsteered."""
    print("note F1 / pitch-class F1 / frame pitch-class F1 (transcribed with basic-pitch)")
    print(f"{'piece':32} {'notes':>5}  {'render':>14}  {'chance':>14}  {'real':>14}  unsteered")
    for f in following:
        cells = [f.steered, f.floor, f.ceiling, f.unsteered]
        text = [
            "-"
            if s is None
            else f"{s.note_f1:.2f}/{s.pitch_class_f1:.2f}/{s.frame_pitch_class_f1:.2f}"
            for s in cells
        ]
        row = "  ".join(f"{t:>14}" for t in text[:3])
        print(f"{f.piece[:32]:32} {f.notes:5d}  {row}  {text[3]}")


def cmd_report(args: argparse.Namespace) -> None:
    from .report.build import report_main

    options = ReportConfig(**_flag_values(args, ReportConfig, "report__"))
    out = args.out or args.run / "report"
    print(report_main(args.run, args.data, out, options.clips, options.seconds, options.seed))


def cmd_train_composer(args: argparse.Namespace) -> None:
    from .composer.train import train_composer

    config, _ = config_from_args(args, _stored_composer_config(args), ComposerConfig)
    result = train_composer(args.run, args.data, config, resume=args.resume, quiet=args.quiet)
    print(json.dumps(result.to_dict()))


def _stored_composer_config(args: argparse.Namespace) -> ComposerConfig | None:
    """With ``--resume``: the stored composer config without its budget, the base the
    flags override (``train_composer`` refuses any change but the budget)."""
    if not args.resume:
        return None
    from .composer.checkpoint import stored_composer_config

    stored = stored_composer_config(args.run)
    return None if stored is None else dataclasses.replace(stored, steps=None, minutes=None)


def cmd_compose(args: argparse.Namespace) -> None:
    from .composer.compose import compose, rests_words, shortest_words
    from .composer.standing import unlearned_warning

    options = _drawn_seed(PieceConfig(**_flag_values(args, PieceConfig, "compose__")))
    piece = compose(args.run, options, out=args.out, features_out=args.features_out)
    if (warning := unlearned_warning(args.run)) is not None:  # after: bad input says only it
        say(warning)
    floor = ""
    if piece.notes is not None:
        harmonics = _harmonics_words(options.wavenet_heard_harmonics, options.wavenet_heard_rolloff)
        floor = (
            f", WaveNet floor {options.wavenet_floor:g} and temperature "
            f"×{options.wavenet_note_temperature_scale:g} while notes sound, the notes heard "
            f"×{options.wavenet_excitation_gain:g}, the treble +{options.wavenet_treble_tilt:g} "
            f"dB an octave above G4, {harmonics}"
        )
        if piece.shortest_notes is not None:
            held = shortest_words(piece.tags, piece.shortest_notes)
            floor += f", no key lifted sooner than {held}"
        if piece.unsteered_rests and any(piece.unsteered_rests):
            floor += f", rests played unsteered ({rests_words(piece.tags, piece.unsteered_rests)})"
    print(
        f"composer temperature {piece.temperature:g}, hold penalty {piece.hold_penalty:g}" + floor,
        file=sys.stderr,
    )
    if piece.paths:
        flags = ("--wavenet-temperature", "--wavenet-max-jump")
        jump = options.wavenet_max_jump
        _say_sound(piece.paths, piece.audio, piece.redraws, piece.sample_rate, jump, flags)
    for path in [*(piece.paths or []), *(piece.midi_paths or []), *piece.features_paths]:
        print(path)


def cmd_transcribe(args: argparse.Namespace) -> None:
    from .notes.midi import write_midi
    from .notes.transcribe import require_notes, transcribe_file
    from .runs import check_target

    if not args.audio.is_file():
        raise UserError(f"{args.audio} is not a file")
    check_target(args.out)
    _file_named(args.out, "MIDI", (".mid", ".midi"))
    notes = require_notes(transcribe_file(args.audio, say_damage=True), args.audio)
    write_midi(args.out, notes)
    end = max(n.offset for n in notes)
    count = f"{len(notes)} note{'s' if len(notes) != 1 else ''}"
    print(f"{args.out}: {count}, {notes[0].onset:.2f}-{end:.2f} s")


def cmd_cache(args: argparse.Namespace) -> None:
    from .runs import remove_entry, survey_cache
    from .wavenet.data import cache_root

    folder = cache_root(DataConfig(cache_dir=args.cache_dir and str(args.cache_dir)))
    survey = survey_cache(folder)
    if args.clear or args.prune:
        gone = {**survey.stale, **(survey.live | survey.unrecorded if args.clear else {})}
        freed = sum(remove_entry(entry) for entry in gone)
        which = "" if args.clear else "stale "
        print(f"{folder}: removed {_entries(len(gone), which)} ({in_binary_units(freed)})")
        return
    print(f"{folder}: {cache_summary(survey)}")


def cache_summary(survey: CacheSurvey) -> str:
    """A ``runs.CacheSurvey`` in one line: what its entries hold, and what frees them."""
    groups = [
        (survey.live, "current", ""),
        (survey.stale, "stale (their recording or score changed or is gone)", "--prune"),
        (survey.unrecorded, "from before entries recorded their source", "--clear"),
    ]
    counts = sum(len(group) for group, _, _ in groups)
    if not counts:
        return "no entries"
    total = sum(sum(group.values()) for group, _, _ in groups)
    said = [
        f"{len(group)} {what}, {in_binary_units(sum(group.values()))}"
        + (f": {flag} removes them" if flag else "")
        for group, what, flag in groups
        if group
    ]
    return f"{_entries(counts)}, {in_binary_units(total)}: {'; '.join(said)}"


def _entries(count: int, what: str = "") -> str:
    return f"{count} {what}entr{'y' if count == 1 else 'ies'}"


def _file_named(out: Path, kind: str, suffixes: tuple[str, ...]) -> None:
    """``--out`` of a command that writes one file of ``kind``: a name ending in one of
    ``suffixes``, else one line naming them, in ``check_out``'s words (which takes one)."""
    if Path(out).suffix.lower() not in suffixes:
        ends = " or ".join(suffixes)
        raise UserError(f"--out {out}: expected a {kind} path (a name ending in {ends})")


# --- the parser ----------------------------------------------------------------------------------


def user_path(text: str) -> Path:
    """A path flag's value, a ``~`` that begins it the home folder, as the shell would: it
    leaves one after ``=`` (``--out=~/take.wav``) or in quotes, and the command made a
    folder named ``~`` in the working folder and wrote there. As typed where no home
    folder is known."""
    try:
        return Path(text).expanduser()
    except RuntimeError:  # "Could not determine home directory"
        return Path(text)


class Parser(argparse.ArgumentParser):
    """argparse's parser (its subcommands' too), whose "expected one argument" names the
    fix where the value given starts with a dash: ``--label -drums`` (a label folder
    ``-drums``) reads as a flag, ``--label=-drums`` as the value."""

    def parse_known_args(self, args=None, namespace=None):  # argparse's signature
        self.given = list(sys.argv[1:] if args is None else args)  # what error() reads
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        super().error(message + dash_value_hint(message, getattr(self, "given", [])))


def dash_value_hint(message: str, given: Sequence[str]) -> str:
    """For argparse's "argument --label: expected one argument" where ``given`` (the
    words typed) has ``--label -drums``: how to pass that value; else ``""``."""
    expected = re.fullmatch(r"argument (--[\w-]+): expected one argument", message)
    if expected is None:
        return ""
    flag = expected.group(1)
    for word, value in itertools.pairwise(given):  # --lab too: argparse takes a prefix
        if len(word) > 2 and flag.startswith(word) and value.startswith("-"):
            return f"; a value that starts with '-' is given with '=': {flag}={value}"
    return ""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="wavenet-music",
        description="Learn music from raw audio with WaveNet and "
        "generate new audio sample by sample.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    info = commands.add_parser("info", help="parameters, receptive field and cost of a config")
    add_config_flags(info)
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=cmd_info)

    train = commands.add_parser("train", help="train on a folder of recordings")
    train.add_argument("data", type=user_path, help="folder of audio files (searched recursively)")
    train.add_argument("--run", type=user_path, required=True, help="run directory to write")
    train.add_argument("--resume", action="store_true", help="continue the run's newest checkpoint")
    train.add_argument(
        "--init-from",
        type=user_path,
        metavar="RUN_OR_CHECKPOINT",
        help="fine-tune: start a new run from this run's newest checkpoint (or this "
        "checkpoint folder) with its config, overridable but the architecture kept; "
        "fresh optimizer, step 0; the source is only read",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_flags(train)
    train.set_defaults(func=cmd_train)

    gen = commands.add_parser("generate", help="sample new audio from a trained run")
    gen.add_argument("run", type=user_path, help="run directory with checkpoints")
    gen.add_argument(
        "--out",
        type=user_path,
        default=Path("generated.wav"),
        help="WAV path; with --num N, NAME-1.wav .. NAME-N.wav; a run with labels adds "
        "the label: NAME-LABEL.wav (NAME-LABEL-1.wav ..)",
    )
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    add_dataclass_flags(gen, GenerateConfig, "gen__")
    gen.set_defaults(func=cmd_generate)

    ren = commands.add_parser(
        "render", help="play a MIDI file with a run trained on notes (--preset notes)"
    )
    ren.add_argument("run", type=user_path, help="run directory with checkpoints")
    ren.add_argument("midi", type=user_path, help="MIDI file (.mid) whose notes are played")
    ren.add_argument(
        "--out", type=user_path, default=Path("rendered.wav"), help="WAV path (as generate's --out)"
    )
    ren.add_argument("--quiet", action="store_true", help="no progress bar")
    add_dataclass_flags(ren, GenerateConfig, "gen__")
    for action in ren._actions:  # render's own default length: the file's
        if "--seconds" in action.option_strings:
            action.help = (
                f"seconds to render [default: to the last note's end + 1 s; at most {MAX_SECONDS}]"
            )
    ren.set_defaults(func=cmd_render)

    ev = commands.add_parser("evaluate", help="held-out NLL in bits per sample")
    ev.add_argument("run", type=user_path, help="run directory with checkpoints")
    ev.add_argument(
        "--data", type=user_path, required=True, help="folder or file of held-out audio"
    )
    ev.add_argument("--json", action="store_true", help="print JSON")
    ev.add_argument("--quiet", action="store_true", help="no progress output")
    add_dataclass_flags(ev, EvaluateConfig, "eval__")
    ev.set_defaults(func=cmd_evaluate)
    feat = commands.add_parser(
        "features", help="save a recording's local-conditioning features as .npy"
    )
    feat.add_argument("run", type=user_path, help="locally conditioned run directory")
    feat.add_argument("audio", type=user_path, help="audio file")
    feat.add_argument("--out", type=user_path, required=True, help=".npy file to write (frames, F)")
    feat.set_defaults(func=cmd_features)

    rep = commands.add_parser("report", help="write an HTML listening report of a run")
    rep.add_argument("run", type=user_path, help="run directory with checkpoints")
    rep.add_argument(
        "--data", type=user_path, help="the run's training data folder: real excerpts, held-out NLL"
    )
    rep.add_argument("--out", type=user_path, help="report folder (default RUN/report)")
    add_dataclass_flags(rep, ReportConfig, "report__")
    rep.set_defaults(func=cmd_report)

    tc = commands.add_parser(
        "train-composer",
        help="train the composer that writes a run's local-conditioning features "
        "(k-means tokens), or its notes (event tokens) for a run trained on notes",
    )
    tc.add_argument("run", type=user_path, help="run directory of a locally conditioned WaveNet")
    tc.add_argument(
        "--data",
        type=user_path,
        help="the folder the run was trained on (default: the one it records)",
    )
    tc.add_argument("--resume", action="store_true", help="continue the run's newest composer")
    tc.add_argument("--quiet", action="store_true", help="no progress output")
    add_config_flags(tc, ComposerConfig)
    tc.set_defaults(func=cmd_train_composer)

    comp = commands.add_parser(
        "compose",
        help="compose a piece: composer → features → WaveNet, streaming; for a run trained "
        "on notes: composer → notes (a .mid beside the WAV) → WaveNet",
    )
    comp.add_argument("run", type=user_path, help="run directory with a trained composer")
    comp.add_argument(
        "--out",
        type=user_path,
        default=Path("piece.wav"),
        help="WAV path, rewritten after every chunk; a run with labels adds the label: "
        "NAME-LABEL.wav; a run trained on notes also writes NAME.mid (NAME-LABEL.mid) beside it",
    )
    comp.add_argument(
        "--features-out",
        type=user_path,
        help="also save the composed features (.npy); not for a run trained on notes",
    )
    add_dataclass_flags(comp, PieceConfig, "compose__")
    comp.set_defaults(func=cmd_compose)

    trans = commands.add_parser(
        "transcribe", help="write the notes of a recording as MIDI (basic-pitch transcription)"
    )
    trans.add_argument("audio", type=user_path, help="audio file (any rate; mixed to mono)")
    trans.add_argument("--out", type=user_path, required=True, help=".mid (or .midi) file to write")
    trans.set_defaults(func=cmd_transcribe)

    cache = commands.add_parser(
        "cache",
        help="what the cache of decoded recordings and their notes holds; --prune removes "
        "the entries of recordings changed or gone (each change leaves one), --clear all",
    )
    cache.add_argument(
        "--cache-dir",
        type=user_path,
        help="the cache folder (data.cache_dir of the runs; default ~/.cache/wavenet-music)",
    )
    chosen = cache.add_mutually_exclusive_group()
    chosen.add_argument("--prune", action="store_true", help="remove the stale entries")
    chosen.add_argument(
        "--clear", action="store_true", help="remove every entry (made again when needed)"
    )
    cache.set_defaults(func=cmd_cache)
    return parser


def main(argv: Sequence[str] | None = None, *, warmup_advice: str | None = None) -> int:
    """The command line; ``warmup_advice``: for a script that runs ``train`` on its own
    flags (scripts/demo.py), what a warm-up longer than the budget advises in them."""
    if hasattr(sys.stdout, "reconfigure"):  # a file name that is not UTF-8 prints as its bytes
        sys.stdout.reconfigure(errors="surrogateescape")
    with rank_zero_speaks() as say_error:  # under torchrun: one summary, not one a process
        args = build_parser().parse_args(argv)
        args.warmup_advice = warmup_advice
        return _run(args, functools.partial(say_error, args.command))


def _run(args: argparse.Namespace, say_error: Callable[[str, BaseException], None]) -> int:
    """The command; its exit status, with a user's error said in one line."""
    try:
        args.func(args)
    except UserError as exc:
        say_error(f"error: {exc}", exc)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:  # Ctrl-C anywhere: one line, every file old or new
        if (lost := _lost_peer(exc)) is not None:  # torchrun's stop, on the way out
            say_error(f"error: {lost}", lost)
            return EXIT_USAGE
        say_error(_interrupted(exc), exc)
        return EXIT_INTERRUPTED
    except OSError as exc:  # the net under every file access the code does not name itself
        say_error(f"error: {_os_error(exc)}", exc)
        return EXIT_USAGE
    except Exception as exc:  # ONNX Runtime's out of memory is no RuntimeError
        if not _out_of_memory(exc):
            raise
        say_error(f"error: {_memory_advice(args, exc)}", exc)
        return EXIT_OUT_OF_MEMORY
    return 0


# what a command holds at once, so what to lower when it does not fit in memory
LESS_AT_ONCE = {
    "train": "lower --batch-size or --sample-size (train.batch_size, data.sample_size)",
    "train-composer": "lower --batch-size or --context-seconds",
    "generate": "generate fewer clips at once (--num, or fewer labels) or shorter ones",
    "render": "render fewer clips at once (--num)",
    "evaluate": "lower --batch-size (windows scored in one forward pass; 1 holds the least)",
    "compose": "compose a shorter piece (--seconds)",
    "report": "lower --seconds or --clips (each label's clips are made together)",
    # no setting of these two holds less: each takes the whole recording at once
    "features": "cut the recording into shorter files (its features are computed whole)",
    "transcribe": "cut the recording into shorter files (its activations are held whole)",
}


def _out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says an allocation failed (torch's CPU allocator and CUDA's, numpy's,
    ONNX Runtime's: its ``RuntimeException``, which transcribe meets, is an ``Exception``)."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc)
    if isinstance(exc, RuntimeError) and ("can't allocate memory" in text or "CUDA out" in text):
        return True
    return "Failed to allocate memory for requested buffer" in text  # ONNX Runtime's


def _memory_advice(args: argparse.Namespace, exc: BaseException) -> str:
    """Out of memory as one line: how much was asked for, where known, and what to lower."""
    text = str(exc)
    asked = re.search(r"allocate (\d+) bytes|requested buffer of size (\d+)", text)  # torch, ORT
    size = in_binary_units(int(asked.group(1) or asked.group(2))) if asked else None
    if size is None:  # CUDA's ("Tried to allocate 2.00 GiB"), numpy's ("allocate 1.00 EiB")
        asked = re.search(r"allocate ([\d.]+ [KMGTPE]iB)", text)
        size = asked.group(1) if asked else None
    what = LESS_AT_ONCE.get(args.command, "give it less to do at once")
    return f"out of memory ({size} asked for at once); {what}" if size else f"out of memory; {what}"


def _os_error(exc: OSError) -> str:
    """An operating-system error as one line: the file(s) and the reason."""
    files = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno == errno.EMFILE:  # the process's own limit, which the user may raise
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        room = "" if soft >= hard else f"; `ulimit -n {min(hard, 4096)}` raises it"
        reason = f"{reason} (this process may hold {soft} at once{room})"
    return f"{files}: {reason}" if files else reason


def _lost_peer(exc: KeyboardInterrupt) -> UserError | None:
    """The lost-peer error of a training process that the interrupt cut short
    (``wavenet.distributed.lost_peer_behind``; torch is imported only where one may be)."""
    if not isinstance(exc.__context__, UserError):
        return None
    from .wavenet.distributed import lost_peer_behind

    return lost_peer_behind(exc)


def _interrupted(exc: KeyboardInterrupt) -> str:
    """What a Ctrl-C left: the audio so far (``runtime.stop.Interrupted``), or nothing new."""
    paths, notes = getattr(exc, "paths", None), getattr(exc, "notes", None)
    whole = f"; the notes, whole, in {', '.join(map(str, notes))}" if notes else ""
    if paths:
        return f"interrupted; the audio so far is in {', '.join(map(str, paths))}{whole}"
    if paths is not None and notes:
        return f"interrupted before any audio was written{whole}"
    if paths is not None:
        return "interrupted before any audio was written; no file was changed"
    return "interrupted"


if __name__ == "__main__":
    raise SystemExit(main())
