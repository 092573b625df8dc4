"""The benchmarks' flags, checked before any work: a bad one is one line on stderr that
names the flag and what it takes, and exit 2 (argparse's code), never a traceback.

    parser = Parser(description=...)
    parser.add_argument("--repeats", type=whole_number(), default=3)
    parser.add_argument("--minutes", type=positive_number("minutes", at_least=1 / 60))
    args = parser.parse_args()        # bench_x.py: error: argument --repeats: expected ...
    ...
    if __name__ == "__main__":
        one_line_errors(main)          # UserError, Ctrl-C, a failed child: one line each

Kept apart from ``common`` and light (argparse and the package's settings, no torch):
bench_decode.py's and bench_transcribe.py's measuring children parse their arguments too,
and only their parent imports torch.
"""

from __future__ import annotations

import argparse
import math
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from wavenet_music.config import UserError, load_preset
from wavenet_music.runtime.stop import terminate_as_interrupt

EXIT_FAILED = 1  # a child process failed: not the flags' fault
EXIT_USAGE = 2  # argparse's
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it (and the package's commands)


def fail(message: str) -> NoReturn:
    """``bench_x.py: error: MESSAGE`` on stderr, one line, and exit 2."""
    _say(f"error: {message}", EXIT_USAGE)


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (``fail``), without the usage above them."""

    def error(self, message: str) -> NoReturn:
        fail(f"{message} (see --help)")


def one_line_errors(main: Callable[[], object]) -> None:
    """``main()``, ended in one line, never a traceback: a ``UserError`` the package raises
    on the way (a folder of no audio, a run without checkpoints) as ``fail``, exit 2;
    Ctrl-C (SIGTERM too, ``terminate_as_interrupt``) as "interrupted", exit 130; a child
    process that failed (``CalledProcessError``: a measuring child) below its stderr,
    naming its command and exit status, exit 1."""
    try:
        with terminate_as_interrupt():
            main()
    except UserError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        _say("interrupted", EXIT_INTERRUPTED)
    except subprocess.CalledProcessError as exc:
        if exc.returncode in (EXIT_INTERRUPTED, -signal.SIGINT):  # it heard the Ctrl-C first
            _say("interrupted", EXIT_INTERRUPTED)
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr
        if err:  # captured: print it now; otherwise the child printed it itself
            print(err, end="" if err.endswith("\n") else "\n", file=sys.stderr)
        _say(f"error: {_command(exc.cmd)} failed with {_status(exc.returncode)}", EXIT_FAILED)


def _say(line: str, code: int) -> NoReturn:
    """``bench_x.py: LINE`` on stderr, and exit ``code``."""
    print(f"{Path(sys.argv[0]).name}: {line}", file=sys.stderr)
    raise SystemExit(code)


def _command(command: str | list[str]) -> str:
    """A child's command as typed, its interpreter and script by their names."""
    if isinstance(command, str):
        return command
    words = [str(word) for word in command]
    script = 1 if words[1:2] and words[1].endswith(".py") else 0
    return shlex.join([Path(w).name if i <= script else w for i, w in enumerate(words)])


def _status(code: int) -> str:
    """``exit status N``, or the signal that killed the child (a negative code)."""
    if code >= 0:
        return f"exit status {code}"
    try:
        return f"signal {signal.Signals(-code).name}"
    except ValueError:
        return f"signal {-code}"


def whole_number(low: int = 1, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in ``[low, high]``."""
    within = f"≥ {low:,}" if high is None else f"in [{low:,}, {high:,}]"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected a whole number {within}, got {text!r}")
        return value

    return parse


def positive_number(
    unit: str = "", at_least: float | None = None, at_most: float | None = None
) -> Callable[[str], float]:
    """An argparse type: a finite number above 0 (or ``at_least`` it), at most ``at_most``;
    ``unit`` names what it counts in the message ("minutes")."""
    within = "> 0" if at_least is None else f"≥ {at_least:.3g}"
    if at_most is not None:
        within += f" and ≤ {at_most:g}"
    named = f" of {unit}" if unit else ""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        above = value > 0 if at_least is None else value >= at_least
        if not (math.isfinite(value) and above and (at_most is None or value <= at_most)):
            raise argparse.ArgumentTypeError(f"expected a number{named} {within}, got {text!r}")
        return value

    return parse


def listed(item: Callable[[str], object]) -> Callable[[str], list]:
    """An argparse type: comma-separated values, each checked by ``item``, at least one."""

    def parse(text: str) -> list:
        parts = [part.strip() for part in text.split(",")]
        if not all(parts):
            raise argparse.ArgumentTypeError(f"expected comma-separated values, got {text!r}")
        return [item(part) for part in parts]

    return parse


def preset_name(text: str) -> str:
    """An argparse type: the name of one of the package's presets."""
    try:
        load_preset(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def choice(*names: str) -> Callable[[str], str]:
    """An argparse type: one of ``names`` (for items of a comma-separated list)."""

    def parse(text: str) -> str:
        if text not in names:
            raise argparse.ArgumentTypeError(f"expected one of {', '.join(names)}, got {text!r}")
        return text

    return parse


def json_out(text: str) -> Path:
    """An argparse type: a file to write at the end, in a folder that exists now (checked
    before a run of minutes, not after it)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; name a .json file to write")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(
            f"folder {path.parent} does not exist; make it or name a file in another"
        )
    return path
