"""Checkpoints: weights and tensors in safetensors, everything else in JSON.

A checkpoint is a folder ``RUN/checkpoints/step_NNNNNNNN`` holding ``model.safetensors``
(the weights), ``state.safetensors`` (optimizer moments and RNG state) and ``meta.json``
(config, step, optimizer hyperparameters, data-sampler state, sha256 of the two tensor
files). It is written in a hidden temporary folder and renamed into place, so a crash
never leaves a half-written checkpoint that looks complete; loading verifies the hashes
and falls back to the previous checkpoint when the newest is damaged. No pickles.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import Config, UserError
from .model import WaveNet

CHECKPOINTS = "checkpoints"
FORMAT = 1
MODEL_FILE, STATE_FILE = "model.safetensors", "state.safetensors"
T = TypeVar("T")


@dataclass
class Checkpoint:
    config: Config
    step: int
    model: dict[str, torch.Tensor]
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)  # optimizer moments, RNG
    meta: dict[str, Any] = field(default_factory=dict)  # JSON-able training state
    path: Path | None = None


def save(run_dir: Path, checkpoint: Checkpoint, keep: int) -> Path:
    """Write ``checkpoint`` atomically and delete all but the newest ``keep``."""
    header = {"config": checkpoint.config.to_dict(), "state": checkpoint.meta}
    return write_step(
        Path(run_dir) / CHECKPOINTS,
        checkpoint.step,
        checkpoint.model,
        checkpoint.tensors,
        header,
        keep,
        "checkpoint",
    )


def write_step(
    folder: Path,
    step: int,
    model: dict[str, torch.Tensor],
    tensors: dict[str, torch.Tensor],
    header: dict[str, Any],
    keep: int,
    what: str,
    replace: bool = False,
) -> Path:
    """The mechanism every checkpoint kind shares: ``folder/step_NNNNNNNN`` with the two
    tensor files and ``meta.json`` (``header`` + format, step and hashes), written in a
    temporary folder, synced and renamed into place; the newest ``keep`` are kept. A step
    saved already is kept as it is (a resumed run that had nothing to do) unless
    ``replace``: then the new folder takes its place (the step's state changed after it
    was saved, e.g. a composer calibrated after its last periodic checkpoint)."""
    final = folder / f"step_{step:08d}"
    if final.is_dir() and not replace:
        return final
    tmp = folder / f".tmp_step_{step:08d}_{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        _write_contents(tmp, step, model, tensors, header)
        _move_into_place(tmp, final)
        _fsync_dir(folder)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(
            f"could not write {what} {final} ({exc.strerror or exc}); the previous {what} is intact"
        ) from None
    for old in step_dirs(folder)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _move_into_place(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; an existing ``final`` is moved aside first and removed
    after (a crash between the two renames leaves it in ``.stale_*``, and the older
    checkpoints kept load in its stead)."""
    if not final.is_dir():
        os.replace(tmp, final)
        return
    stale = final.with_name(f".stale_{final.name}_{os.getpid()}")
    shutil.rmtree(stale, ignore_errors=True)
    os.replace(final, stale)
    os.replace(tmp, final)
    shutil.rmtree(stale, ignore_errors=True)


def _write_contents(
    tmp: Path,
    step: int,
    model: dict[str, torch.Tensor],
    tensors: dict[str, torch.Tensor],
    header: dict[str, Any],
) -> None:
    for name, values in ((MODEL_FILE, model), (STATE_FILE, tensors)):
        save_file({k: v.detach().cpu().contiguous() for k, v in values.items()}, tmp / name)
    hashes = {name: _sha256(tmp / name) for name in (MODEL_FILE, STATE_FILE)}
    meta = {"format": FORMAT, "step": step, **header, "sha256": hashes}
    with open(tmp / "meta.json", "w") as handle:
        json.dump(meta, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    for name in (MODEL_FILE, STATE_FILE):
        with open(tmp / name, "rb") as handle:
            os.fsync(handle.fileno())


def remove_unfinished(run_dir: Path) -> None:
    """Delete temporary folders of checkpoint writes that a crash interrupted."""
    folder = Path(run_dir) / CHECKPOINTS
    if folder.is_dir():
        for tmp in (*folder.glob(".tmp_step_*"), *folder.glob(".stale_step_*")):
            shutil.rmtree(tmp, ignore_errors=True)


def step_dirs(folder: Path) -> list[Path]:
    """Complete ``step_*`` folders in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith("step_"))


def checkpoint_dirs(run_dir: Path) -> list[Path]:
    """Complete checkpoint folders of a run, oldest first."""
    return step_dirs(Path(run_dir) / CHECKPOINTS)


def load(run_dir: Path, weights_only: bool = False) -> Checkpoint:
    """The newest checkpoint of ``run_dir`` that verifies, with a warning for each that fails."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(
            f"run directory {run_dir} does not exist; train first "
            f"(wavenet-music train DATA --run {run_dir})"
        )
    candidates = checkpoint_dirs(run_dir)
    if not candidates:
        raise UserError(
            f"{run_dir} holds no checkpoint; train first (wavenet-music train DATA --run {run_dir})"
        )
    return newest_readable(candidates, lambda path: load_dir(path, weights_only), "checkpoint")


def newest_readable(candidates: list[Path], read: Callable[[Path], T], what: str) -> T:
    """``read`` of the newest candidate that verifies, warning about each newer one that
    does not; a one-line error when none does."""
    problems = []
    for path in reversed(candidates):
        try:
            return read(path)
        except UserError as exc:
            problems.append(str(exc))
            print(f"warning: {exc}; trying an older {what}", file=sys.stderr)
    raise UserError(f"no usable {what} in {candidates[0].parent} ({problems[0]})")


def load_dir(path: Path, weights_only: bool = False) -> Checkpoint:
    """Read and verify one checkpoint folder."""
    meta, model, tensors = read_step(path, weights_only, "checkpoint")
    try:
        config = Config.from_dict(meta["config"])
    except (KeyError, TypeError) as exc:
        raise UserError(f"checkpoint {path} is unreadable ({type(exc).__name__}: {exc})") from None
    return Checkpoint(config, int(meta["step"]), model, tensors, meta.get("state", {}), path)


def read_step(
    path: Path, weights_only: bool, what: str
) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(meta, model tensors, state tensors) of one ``step_*`` folder, hashes verified."""
    try:
        meta = json.loads((path / "meta.json").read_text())
        for name, digest in meta["sha256"].items():
            if _sha256(path / name) != digest:
                raise UserError(f"{what} {path} is damaged ({name} does not match its hash)")
        model = load_file(path / MODEL_FILE)
        tensors = {} if weights_only else load_file(path / STATE_FILE)
        int(meta["step"])
    except (OSError, KeyError, TypeError, ValueError, json.JSONDecodeError, SafetensorError) as exc:
        raise UserError(f"{what} {path} is unreadable ({type(exc).__name__}: {exc})") from None
    return meta, model, tensors


def load_model(run_dir: Path, device: str | torch.device = "cpu") -> tuple[WaveNet, Config]:
    """The trained model of a run (eval mode) and its config: all ``generate`` needs."""
    checkpoint = load(run_dir, weights_only=True)
    model = WaveNet(checkpoint.config.model)
    try:
        model.load_state_dict(checkpoint.model)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
        raise UserError(f"checkpoint {checkpoint.path} does not fit its config ({first})") from None
    return model.to(device).eval(), checkpoint.config


# --- optimizer state as flat tensors + JSON ------------------------------------------------


def flatten_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """torch optimizer ``state_dict()`` → (tensors, JSON-able rest)."""
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for name, value in values.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{index}.{name}"] = value
            else:
                scalars[f"{index}.{name}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unflatten_optimizer(tensors: dict[str, torch.Tensor], rest: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for key, value in rest.get("scalars", {}).items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": rest["param_groups"]}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
