"""Checkpoints: weights and tensors in safetensors, everything else in JSON.

A checkpoint is a folder ``RUN/checkpoints/step_NNNNNNNN`` holding ``model.safetensors``
(the weights), ``state.safetensors`` (optimizer moments and RNG state) and ``meta.json``
(config, step, optimizer hyperparameters, data-sampler state, sha256 of the two tensor
files and of the rest of ``meta.json`` itself). It is written in a hidden temporary folder
and renamed into place, so a crash never leaves a half-written checkpoint that looks
complete; loading verifies the hashes and that the config fits the weights, and falls back
to the previous checkpoint when the newest fails. A save that replaces a folder of the same
step moves the old one aside first; a crash between those two renames leaves both hidden,
and loading finds them (``candidate_dirs``), training puts them back (``recover_interrupted``).
No pickles.
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
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from ..config import Config, UserError
from ..runs import fsync_dir, lock_holder, write_new_file
from ..runtime.console import warn
from .distributed import train_command
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
        fsync_dir(folder)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        kept = f"the previous {what} is intact" if step_dirs(folder) else f"no {what} was saved"
        raise UserError(f"could not write {what} {final} ({exc.strerror or exc}); {kept}") from None
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
    """Serialised in memory, then written and synced (``runs.write_new_file``): a full disk
    is an OSError from the write itself, whatever library made the bytes."""
    hashes = {}
    for name, values in ((MODEL_FILE, model), (STATE_FILE, tensors)):
        data = safetensors_bytes({k: v.detach().cpu().contiguous() for k, v in values.items()})
        write_new_file(tmp / name, data)
        hashes[name] = hashlib.sha256(data).hexdigest()
    meta = {"format": FORMAT, "step": step, **header, "sha256": hashes}
    meta["meta_sha256"] = _meta_digest(meta)
    write_new_file(tmp / "meta.json", json.dumps(meta, indent=1).encode())


def _meta_digest(meta: dict[str, Any]) -> str:
    """sha256 of ``meta`` without its own digest, as JSON with sorted keys (computed from
    the JSON form, so that tuples and integer keys hash as they read back)."""
    rest = json.loads(json.dumps({k: v for k, v in meta.items() if k != "meta_sha256"}))
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()


def remove_unfinished(run_dir: Path) -> None:
    """Put back checkpoints a crash left hidden, delete unfinished writes (see
    ``recover_interrupted``)."""
    recover_interrupted(Path(run_dir) / CHECKPOINTS)


def recover_interrupted(folder: Path) -> None:
    """Rename into place each step a crash left only in hidden folders (``candidate_dirs``:
    the new one if it verifies, else the one it was replacing), then delete the rest of
    the unfinished writes. Only for the run's one writer (under ``runs.run_lock``)."""
    hidden = [p for p in candidate_dirs(folder) if p.name.startswith(".")]
    for path in reversed(hidden):  # the preferred one of each step first
        final = folder / f"step_{step_of(path):08d}"
        if not final.exists() and _verifies(path):
            os.replace(path, final)
            print(f"note: recovered {final} from an interrupted save", file=sys.stderr)
    if folder.is_dir():
        for tmp in (*folder.glob(".tmp_step_*"), *folder.glob(".stale_step_*")):
            shutil.rmtree(tmp, ignore_errors=True)


def _verifies(path: Path) -> bool:
    try:
        read_step(path, False, "checkpoint")
    except UserError:
        return False
    return True


def set_aside_newer(folder: Path, step: int) -> None:
    """Rename the step folders newer than ``step`` (the one a resumed run goes on from,
    because they failed to load) to ``.damaged_step_N``: the run saves those steps anew,
    and a damaged folder left in place would be kept over the new one and make every
    later load fall back again. They stay for a look; nothing reads them."""
    for path in step_dirs(folder):
        if step_of(path) > step:
            aside = path.with_name(f".damaged_{path.name}")
            if aside.exists():
                aside = path.with_name(f".damaged_{path.name}_{os.getpid()}")
            os.replace(path, aside)
            warn(f"set aside the damaged {path} as {aside.name}")


def step_of(path: Path) -> int:
    """The step of a ``step_N`` folder (or a hidden ``.tmp_step_N_PID`` / ``.stale_...``)."""
    return int(path.name.split("step_", 1)[1].split("_", 1)[0])


def step_dirs(folder: Path) -> list[Path]:
    """Complete ``step_*`` folders in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith("step_"))


def candidate_dirs(folder: Path) -> list[Path]:
    """``step_dirs`` and, for a step a crash hid between the two renames of a replacing
    save (``_move_into_place``), its hidden folders: the new one (``.tmp_step_N_PID``,
    complete: the old one is moved aside only then) after the old one (``.stale_...``),
    so that readers going from the newest try it first. Oldest first."""
    visible = step_dirs(folder)
    if not folder.is_dir():
        return visible
    order = {p: (step_of(p), 0) for p in visible}
    steps = {step for step, _ in order.values()}
    for stale in folder.glob(".stale_step_*"):
        if stale.is_dir() and step_of(stale) not in steps:
            order[stale] = (step_of(stale), 0)
            new = stale.with_name(stale.name.replace(".stale_", ".tmp_", 1))
            if new.is_dir():
                order[new] = (step_of(new), 1)
    return sorted(order, key=order.__getitem__)


def checkpoint_dirs(run_dir: Path) -> list[Path]:
    """Complete checkpoint folders of a run, oldest first."""
    return step_dirs(Path(run_dir) / CHECKPOINTS)


def load(run_dir: Path, weights_only: bool = False) -> Checkpoint:
    """The newest checkpoint of ``run_dir`` that verifies, with a warning for each that fails."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"{run_dir} is a file, not a run directory; name the run's folder")
    if not run_dir.is_dir():
        raise UserError(
            f"run directory {run_dir} does not exist; train first "
            f"({train_command('DATA', '--run', str(run_dir))})"
        )
    candidates = candidate_dirs(run_dir / CHECKPOINTS)
    if not candidates:
        raise UserError(no_checkpoint(run_dir))
    return newest_readable(
        candidates, lambda path: load_dir(path, weights_only), "checkpoint", weights_only
    )


def no_checkpoint(run_dir: Path) -> str:
    """Why ``run_dir``, which holds no checkpoint, cannot be read, and what to do."""
    if (pid := lock_holder(run_dir)) is not None:
        return (
            f"{run_dir} is being trained (pid {pid}) and has no checkpoint yet; wait for "
            "its first checkpoint (train.checkpoint_every steps), then try again"
        )
    if run_dir.name == CHECKPOINTS and candidate_dirs(run_dir):  # RUN/checkpoints
        return f"{run_dir} is a run's checkpoints folder: name the run, {run_dir.parent}"
    first = train_command("DATA", "--run", str(run_dir))
    return f"{run_dir} holds no checkpoint; train first ({first})"


def newest_meta(folder: Path) -> dict[str, Any] | None:
    """``meta.json`` of the newest step folder in ``folder`` whose hashes verify, read
    quietly (no warnings, no weights); None without one."""
    for path in reversed(candidate_dirs(folder)):
        try:
            return _verified_meta(path, "checkpoint")
        except UserError:
            continue
    return None


def stored_config(run_dir: Path) -> Config | None:
    """The config of the run's newest checkpoint (``newest_meta``): the base a resumed
    run's settings are compared with. None without a readable one."""
    meta = newest_meta(Path(run_dir) / CHECKPOINTS)
    try:
        return None if meta is None else Config.from_dict(meta["config"])
    except (KeyError, TypeError, ValueError):
        return None


def newest_readable(
    candidates: list[Path], read: Callable[[Path], T], what: str, weights_only: bool = False
) -> T:
    """``read`` of the newest candidate that verifies, warning about each newer one that
    does not; a one-line error when none does, whose advice suits the reader: one that
    trains on (``weights_only`` False) or one that only plays or scores the weights."""
    problems = []
    for path in reversed(candidates):
        try:
            return read(path)
        except UserError as exc:
            problems.append(str(exc))
            warn(f"{exc}; trying an older {what}")
    folder = candidates[0].parent
    todo = (
        f"restore {folder} from a copy of the run, or train the run again"
        if weights_only
        else f"move {folder} aside to train it again from step 0, or choose a new --run"
    )
    if what == "checkpoint" and not weights_only:  # a WaveNet's: train can start from it
        todo += f" (--init-from {folder.parent} starts one from its weights, where they verify)"
    raise UserError(
        f"no usable {what} in {folder} ({problems[0]}); none of its {len(candidates)} "
        f"verifies: {todo}"
    )


def load_dir(path: Path, weights_only: bool = False) -> Checkpoint:
    """Read and verify one checkpoint folder: hashes, and a config that fits the weights."""
    meta, model, tensors = read_step(path, weights_only, "checkpoint")
    try:
        config = Config.from_dict(meta["config"])
    except (KeyError, TypeError) as exc:
        raise UserError(f"checkpoint {path} is unreadable ({type(exc).__name__}: {exc})") from None
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        expected = WaveNet(config.model).state_dict()
    require_fit(path, expected, model, "checkpoint")
    return Checkpoint(config, int(meta["step"]), model, tensors, meta.get("state", {}), path)


def require_fit(
    path: Path, expected: dict[str, torch.Tensor], weights: dict[str, torch.Tensor], what: str
) -> None:
    """A one-line error unless ``weights`` has exactly the names and shapes of ``expected``
    (the state dict of the model its config builds)."""
    shapes = {name: tuple(t.shape) for name, t in weights.items()}
    wanted = {name: tuple(t.shape) for name, t in expected.items()}
    if shapes == wanted:
        return
    name = sorted(set(shapes) ^ set(wanted)) or [n for n in wanted if shapes[n] != wanted[n]]
    first = name[0]
    problem = (
        f"{first}: {shapes.get(first, 'missing')} in the weights, "
        f"{wanted.get(first, 'none')} in the config"
    )
    raise UserError(f"{what} {path} does not fit its config ({problem})")


def read_step(
    path: Path, weights_only: bool, what: str
) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(meta, model tensors, state tensors) of one ``step_*`` folder, hashes verified;
    ``weights_only``: the model's alone, the optimizer's state neither read nor needed (a
    model shared without its ``STATE_FILE``, twice the weights' size, plays)."""
    meta = _verified_meta(path, what, skip=(STATE_FILE,) if weights_only else ())
    try:
        model = load_file(path / MODEL_FILE)
        tensors = {} if weights_only else load_file(path / STATE_FILE)
        int(meta["step"])
    except (OSError, KeyError, TypeError, ValueError, SafetensorError) as exc:
        raise UserError(f"{what} {path} is unreadable ({type(exc).__name__}: {exc})") from None
    return meta, model, tensors


def _verified_meta(path: Path, what: str, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """``meta.json`` of a step folder, once its hashes match the tensor files (but those
    named in ``skip``, not read) and itself (checkpoints written before meta.json hashed
    itself have no ``meta_sha256``)."""
    try:
        meta = json.loads((path / "meta.json").read_text())
        hashed = {n: digest for n, digest in meta["sha256"].items() if n not in skip}
        damaged = [n for n, digest in hashed.items() if _sha256(path / n) != digest]
        if "meta_sha256" in meta and _meta_digest(meta) != meta["meta_sha256"]:
            damaged.append("meta.json")
    except (OSError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"{what} {path} is unreadable ({type(exc).__name__}: {exc})") from None
    if damaged:
        raise UserError(f"{what} {path} is damaged ({', '.join(damaged)} does not match its hash)")
    if path.name.startswith("step_") and meta.get("step") != step_of(path):  # renamed, copied in
        raise UserError(
            f"{what} {path} holds step {meta.get('step')}, not the step its name says: it was "
            "renamed or copied in from elsewhere; move it out of the run"
        )
    return meta


def load_model(run_dir: Path, device: str | torch.device = "cpu") -> tuple[WaveNet, Config]:
    """The trained model of a run (eval mode) and its config: all ``generate`` needs.
    ``run_dir`` may also name one of its checkpoints (``RUN/checkpoints/step_NNNNNNNN``:
    an earlier step that sounded better)."""
    if (Path(run_dir) / "meta.json").is_file():
        checkpoint = load_dir(Path(run_dir), weights_only=True)
    else:
        checkpoint = load(run_dir, weights_only=True)
    model = WaveNet(checkpoint.config.model)
    try:
        model.load_state_dict(checkpoint.model)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
        raise UserError(f"checkpoint {checkpoint.path} does not fit its config ({first})") from None
    return model.to(device).eval(), checkpoint.config


# --- optimizer state as flat tensors + JSON ------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
