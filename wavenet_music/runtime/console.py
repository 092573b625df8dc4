"""Who prints. Under ``torchrun`` every process runs the same command; rank 0 speaks for
the run (the JSON summary, warnings, advice, progress), so that a user reads each line
once. The other processes' stdout and stderr go nowhere while the command runs; an error
that is a process's own (raised after the processes met, where one may fail alone) is
still said, with its rank. Tracebacks of unexpected errors are printed by every process
(after the command, when its streams are back)."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping

from tqdm import tqdm

from ..config import UserError

_OWN = "said_by_its_process"  # an exception's mark: True, its own; False, every process's


def launched_rank(environ: Mapping[str, str] = os.environ) -> tuple[int, int] | None:
    """(RANK, WORLD_SIZE) of a process that torchrun started among several; None for a
    single process (and for an environment ``distributed.from_env`` refuses: it says why)."""
    try:
        rank, world = int(environ["RANK"]), int(environ["WORLD_SIZE"])
    except (KeyError, ValueError):
        return None
    return (rank, world) if world > 1 else None


def mark_own(exc: BaseException) -> BaseException:
    """``exc`` as this process's own error: said by whichever rank raised it (unless marked
    ``alike`` already)."""
    if not hasattr(exc, _OWN):
        setattr(exc, _OWN, True)
    return exc


def alike(exc: BaseException) -> BaseException:
    """``exc`` as raised by every process alike (a decision they share): rank 0 says it."""
    setattr(exc, _OWN, False)
    return exc


def is_own(exc: BaseException) -> bool:
    return getattr(exc, _OWN, False)


ErrorLine = Callable[[str, str, BaseException], None]
# How long a process of rank > 0 waits, with an error every process meets, for rank 0 to
# say it: torchrun ends every process once one has ended, so a process ending first had
# rank 0 ended before it had said anything (a refused --batch-size, seen once in a CI run
# under load: no line at all). Once rank 0 has said it and ended, torchrun ends the others
# at once.
RANK_ZERO_GRACE_S = 10.0

# control characters as Python escapes them: a file name holding a line break (which
# Linux and macOS allow) split an error in two lines, the second looking like its own
_CONTROL = {code: repr(chr(code))[1:-1] for code in [*range(32), 127]}


def one_line(text: str) -> str:
    """``text`` with every control character (a line break, a tab, an escape) written as
    its escape (``\\n``): an error is one line whatever the file names in it hold."""
    return text.translate(_CONTROL)


def say(line: str, above_bars: bool = False) -> None:
    """``line`` on stderr, one line whatever the file names in it hold (``one_line``);
    ``above_bars``: written above a progress bar, not inside it."""
    if above_bars:
        tqdm.write(one_line(line), file=sys.stderr)
    else:
        print(one_line(line), file=sys.stderr)


def warn(text: str, above_bars: bool = False) -> None:
    """``warning: TEXT`` on stderr, as ``say`` says a line."""
    say(f"warning: {text}", above_bars)


@contextlib.contextmanager
def rank_zero_speaks(environ: Mapping[str, str] = os.environ) -> Iterator[ErrorLine]:
    """The command's output, gated: in a process of rank > 0, stdout and stderr go to
    ``os.devnull`` for the body. Yields ``say_error(command, text, exc)``, which prints
    ``wavenet-music COMMAND: TEXT``, in a process of rank > 0 only for an ``is_own``
    error, as ``wavenet-music COMMAND (rank R of N): TEXT``."""
    launched = launched_rank(environ)
    if launched is None or launched[0] == 0:
        yield lambda command, text, exc: print(
            f"wavenet-music {command}: {one_line(text)}", file=sys.stderr
        )
        return
    rank, world = launched
    stderr = sys.stderr

    def say_error(command: str, text: str, exc: BaseException) -> None:
        if is_own(exc):
            said = f"wavenet-music {command} (rank {rank} of {world}): {one_line(text)}"
            print(said, file=stderr)
        elif isinstance(exc, UserError):
            time.sleep(RANK_ZERO_GRACE_S)  # rank 0 says it and ends; torchrun then ends us

    with (
        open(os.devnull, "w") as nowhere,
        contextlib.redirect_stdout(nowhere),
        contextlib.redirect_stderr(nowhere),
    ):
        yield say_error
