"""``wavenet-music``: a thin command line over the library.

Every setting flag is generated from the config dataclasses (``--residual-channels``,
``--sample-size``, ...); ``--preset``, ``--config FILE.yaml`` and ``--set section.key=v``
layer on top in that order. User errors print one line and exit 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .composer_config import ComposeConfig, ComposerConfig
from .config import (
    SECTION_CLASSES,
    Config,
    GenerateConfig,
    UserError,
    apply_overrides,
    coerce,
    load_preset,
    load_yaml,
    parse_assignment,
    preset_names,
)

EXIT_USAGE = 2


# --- flags generated from the dataclasses ----------------------------------------------------


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _type_name(owner: type, key: str) -> str:
    hint = typing.get_type_hints(owner)[key]
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


def add_dataclass_flags(parser: argparse.ArgumentParser, owner: type, prefix: str) -> None:
    """One flag per field of ``owner``; values are YAML (``--dilations [1,2,4]``)."""
    group = parser.add_argument_group(f"{owner.__name__} settings")
    for f in dataclasses.fields(owner):
        group.add_argument(
            _flag(f.name),
            dest=f"{prefix}{f.name}",
            default=None,
            metavar="V",
            help=f"{f.metadata.get('help', '')} [{_type_name(owner, f.name)}, default {f.default}]",
        )


def _flag_values(args: argparse.Namespace, owner: type, prefix: str) -> dict[str, Any]:
    values = {}
    for f in dataclasses.fields(owner):
        raw = getattr(args, f"{prefix}{f.name}")
        if raw is not None:
            values[f.name] = coerce(_flag(f.name), owner, f.name, _yaml_value(raw))
    return values


def _yaml_value(raw: str) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        default="reference",
        help=f"named settings: {', '.join(preset_names())} (default reference)",
    )
    parser.add_argument("--config", type=Path, help="YAML file of {model, data, train} settings")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one setting, e.g. --set model.residual_channels=32",
    )
    for section, owner in SECTION_CLASSES.items():
        add_dataclass_flags(parser, owner, f"{section}__")


def config_from_args(args: argparse.Namespace) -> tuple[Config, dict[str, Any]]:
    """Preset → YAML file → generated flags → ``--set``; also returns what the user set."""
    config = load_preset(args.preset)
    if args.config is not None:
        config = load_yaml(args.config, config)
    overrides: dict[str, Any] = {}
    for section, owner in SECTION_CLASSES.items():
        for key, value in _flag_values(args, owner, f"{section}__").items():
            overrides[f"{section}.{key}"] = value
    overrides.update(parse_assignment(text) for text in args.set)
    return apply_overrides(config, overrides), overrides


# --- commands ------------------------------------------------------------------------------------


def cmd_info(args: argparse.Namespace) -> None:
    from .model import WaveNet, macs_per_sample, parameter_count

    config, _ = config_from_args(args)
    m, d = config.model, config.data
    rows = [
        ("preset", args.preset),
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
        ("parameters", f"{parameter_count(WaveNet(m)):,}"),
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
                    "parameters": parameter_count(WaveNet(m)),
                    "macs_per_sample": macs_per_sample(m),
                }
            )
        )
        return
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


def _dilation_summary(dilations: Sequence[int]) -> str:
    stacks = [i for i, d in enumerate(dilations) if d == 1]
    if len(stacks) > 1 and dilations == tuple(dilations[: stacks[1]]) * len(stacks):
        return f"1..{max(dilations)} x {len(stacks)}"
    return ",".join(map(str, dilations))


def cmd_train(args: argparse.Namespace) -> None:
    from .train import train

    config, overrides = config_from_args(args)
    if args.resume:
        other = sorted(set(overrides) - {"train.steps", "train.minutes"})
        if other or args.config is not None:
            raise UserError(
                f"--resume continues the run's stored config; only --steps and "
                f"--minutes may change (got {', '.join(other) or '--config'})"
            )
    result = train(args.data, args.run, config, resume=args.resume, quiet=args.quiet)
    last = result.validation_bits[-1][1] if result.validation_bits else None
    summary = {
        "run": str(result.run_dir),
        "step": result.step,
        "validation_bits": last,
        "samples_per_second": round(result.samples_per_second, 1),
        "interrupted": result.interrupted,
    }
    print_line(json.dumps(summary))  # under torchrun: one line per process


def print_line(text: str) -> None:
    """One line to stdout in a single write, so that the lines of processes that share the
    stream (torchrun's ranks) never interleave (a pipe write under 4 KiB is atomic)."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a captured or replaced stdout
        print(text)
        return
    os.write(fd, (text + "\n").encode())


def cmd_generate(args: argparse.Namespace) -> None:
    from .checkpoint import load_model
    from .generate_run import clip_paths, clip_plan, generate_audio
    from .train import resolve_device

    options = GenerateConfig(**_flag_values(args, GenerateConfig, "gen__"))
    model, config = load_model(args.run, resolve_device(options.device))
    for flag, value in (
        ("--seed-audio", options.seed_audio),
        ("--features-from", options.features_from),
        ("--features", options.features),
    ):
        if value is not None and not Path(value).is_file():
            raise UserError(f"{flag} {value} is not a file")
    try:
        generate_audio(model, config, options, out=args.out, progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"interrupted; the audio so far is in {args.out}", file=sys.stderr)
        raise SystemExit(130) from None
    for path in clip_paths(args.out, clip_plan(config, options)[1]):
        print(path)


def cmd_features(args: argparse.Namespace) -> None:
    import numpy as np

    from .checkpoint import load
    from .generate_run import features_of_audio

    config = load(args.run, weights_only=True).config
    if config.model.local_channels is None:
        raise UserError(f"{args.run} was trained without local conditioning: it has no features")
    if not args.audio.is_file():
        raise UserError(f"{args.audio} is not a file")
    features = features_of_audio(args.audio, config)
    try:
        np.save(args.out, features)
    except OSError as exc:
        raise UserError(f"cannot write {args.out}: {exc.strerror}") from None
    print(f"{args.out}: {features.shape[0]} frames x {features.shape[1]} channels")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from .checkpoint import load_model
    from .evaluate import evaluate
    from .train import resolve_device

    model, config = load_model(args.run, resolve_device(args.device))
    result = evaluate(
        model, config, args.data, batch_size=args.batch_size, quiet=args.quiet, label=args.label
    )
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(
            f"{result.bits_per_sample:.4f} bits per sample over {result.samples:,} samples "
            f"in {result.files} files ({len(result.skipped)} skipped)"
        )


def cmd_report(args: argparse.Namespace) -> None:
    from .report import report_main

    out = args.out or args.run / "report"
    print(report_main(args.run, args.data, out, args.clips, args.seconds, args.seed))


def cmd_train_composer(args: argparse.Namespace) -> None:
    from .composer_config import ComposerConfig
    from .composer_train import train_composer

    config = ComposerConfig(**_flag_values(args, ComposerConfig, "comp__"))
    if args.resume and set(_flag_values(args, ComposerConfig, "comp__")) - {"steps", "minutes"}:
        raise UserError(
            "--resume continues the composer's stored config; only --steps and --minutes may change"
        )
    result = train_composer(args.run, args.data, config, resume=args.resume, quiet=args.quiet)
    print(json.dumps(result.to_dict()))


def cmd_compose(args: argparse.Namespace) -> None:
    from .compose import compose
    from .composer_config import ComposeConfig

    options = ComposeConfig(**_flag_values(args, ComposeConfig, "compose__"))
    try:
        piece = compose(args.run, options, out=args.out, features_out=args.features_out)
    except KeyboardInterrupt:
        print(f"interrupted; the audio so far is in {args.out}", file=sys.stderr)
        raise SystemExit(130) from None
    print(
        f"composer temperature {piece.temperature:g}, hold penalty {piece.hold_penalty:g}",
        file=sys.stderr,
    )
    for path in piece.paths or []:
        print(path)


# --- the parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    train.add_argument("data", type=Path, help="folder of audio files (searched recursively)")
    train.add_argument("--run", type=Path, required=True, help="run directory to write")
    train.add_argument("--resume", action="store_true", help="continue the run's newest checkpoint")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_flags(train)
    train.set_defaults(func=cmd_train)

    gen = commands.add_parser("generate", help="sample new audio from a trained run")
    gen.add_argument("run", type=Path, help="run directory with checkpoints")
    gen.add_argument(
        "--out",
        type=Path,
        default=Path("generated.wav"),
        help="WAV path; with --num N, NAME-1.wav .. NAME-N.wav",
    )
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    add_dataclass_flags(gen, GenerateConfig, "gen__")
    gen.set_defaults(func=cmd_generate)

    ev = commands.add_parser("evaluate", help="held-out NLL in bits per sample")
    ev.add_argument("run", type=Path, help="run directory with checkpoints")
    ev.add_argument("--data", type=Path, required=True, help="folder or file of held-out audio")
    ev.add_argument("--batch-size", type=int, default=4, help="windows per forward pass")
    ev.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    ev.add_argument(
        "--label", help="score every file under this label (labelled runs; default: its folder)"
    )
    ev.add_argument("--json", action="store_true", help="print JSON")
    ev.add_argument("--quiet", action="store_true", help="no progress output")
    ev.set_defaults(func=cmd_evaluate)
    feat = commands.add_parser(
        "features", help="save a recording's local-conditioning features as .npy"
    )
    feat.add_argument("run", type=Path, help="locally conditioned run directory")
    feat.add_argument("audio", type=Path, help="audio file")
    feat.add_argument("--out", type=Path, required=True, help=".npy file to write (frames, F)")
    feat.set_defaults(func=cmd_features)

    rep = commands.add_parser("report", help="write an HTML listening report of a run")
    rep.add_argument("run", type=Path, help="run directory with checkpoints")
    rep.add_argument(
        "--data", type=Path, help="the run's training data folder: real excerpts, held-out NLL"
    )
    rep.add_argument("--out", type=Path, help="report folder (default RUN/report)")
    rep.add_argument("--clips", type=int, default=4, help="generated clips per label")
    rep.add_argument("--seconds", type=float, default=4.0, help="length of each clip")
    rep.add_argument("--seed", type=int, default=0, help="random seed of the clips")
    rep.set_defaults(func=cmd_report)

    tc = commands.add_parser(
        "train-composer", help="train the composer that writes a run's local-conditioning features"
    )
    tc.add_argument("run", type=Path, help="run directory of a locally conditioned WaveNet")
    tc.add_argument(
        "--data", type=Path, help="the folder the run was trained on (default: the one it records)"
    )
    tc.add_argument("--resume", action="store_true", help="continue the run's newest composer")
    tc.add_argument("--quiet", action="store_true", help="no progress output")
    add_dataclass_flags(tc, ComposerConfig, "comp__")
    tc.set_defaults(func=cmd_train_composer)

    comp = commands.add_parser(
        "compose", help="compose a piece: composer → features → WaveNet, streaming"
    )
    comp.add_argument("run", type=Path, help="run directory with a trained composer")
    comp.add_argument(
        "--out",
        type=Path,
        default=Path("piece.wav"),
        help="WAV path, rewritten after every chunk; with several labels NAME-LABEL.wav",
    )
    comp.add_argument("--features-out", type=Path, help="also save the composed features (.npy)")
    add_dataclass_flags(comp, ComposeConfig, "compose__")
    comp.set_defaults(func=cmd_compose)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except UserError as exc:
        print(f"wavenet-music {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
