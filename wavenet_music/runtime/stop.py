"""Ctrl-C and SIGTERM as requests: a handler that only sets a flag, which the long loops
(training steps, generated samples) check at points of their own choosing. So the
interrupt never lands inside a library call or a finaliser, where Python may swallow a
``KeyboardInterrupt``."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from pathlib import Path


class Interrupted(KeyboardInterrupt):
    """Ctrl-C that stopped a generation; ``paths``: the files that hold the audio so far
    (none when it came before any was written); ``notes``: MIDI files written whole before
    the audio (a composed piece's notes)."""

    def __init__(self, paths: list[Path], notes: list[Path] | None = None) -> None:
        super().__init__()
        self.paths = list(paths)
        self.notes = list(notes or [])


_ASKED = [False]  # a Ctrl-C or SIGTERM reached a StopRequest of this process


def asked() -> bool:
    """True once a Ctrl-C or SIGTERM has stopped a loop in this process: a command that
    runs several (the demo: train, then the composer, then the report) stops there too,
    where each loop alone ends gracefully and returns."""
    return _ASKED[0]


def ignore_interrupts() -> None:
    """For a worker process (a pool's initializer): Ctrl-C reaches the whole process group,
    and the parent alone answers it; a worker would print its own traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class StopRequest:
    """Ctrl-C and SIGTERM set ``requested``; the loop finishes what it is doing, then stops
    (training: the step under way, then a checkpoint; generation: the sample, then the
    partial WAV). A second signal raises ``KeyboardInterrupt`` at once. Entering it again
    while it is installed (a loop inside a training session) changes nothing."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}
        self._depth = 0  # how many ``with`` blocks hold it

    def _handler(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = _ASKED[0] = True

    def __enter__(self) -> StopRequest:
        self._depth += 1
        if self._depth > 1:
            return self
        try:
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handler)
        except ValueError:  # not the main thread: leave signals alone
            self._previous.clear()
        return self

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _handled(handlers: dict[int, Callable]) -> Iterator[None]:
    """``handlers`` ({signal: handler}) in place while the block runs, the earlier ones
    back after it; outside the main thread signals are left alone."""
    try:
        previous = {signum: signal.signal(signum, h) for signum, h in handlers.items()}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def signals_end_the_process() -> Iterator[None]:
    """Ctrl-C and SIGTERM end the process at once while the block runs (their default):
    for a wait inside a library that runs no Python signal handler until it returns (a
    process waiting in ``init_process_group`` for peers that never come ignored both)."""
    with _handled({signal.SIGINT: signal.SIG_DFL, signal.SIGTERM: signal.SIG_DFL}):
        yield


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises ``KeyboardInterrupt`` while the block runs, as Ctrl-C does: the same
    clean-up and the same one line, instead of the silent default death (exit 143) that
    skips every ``finally``. A ``StopRequest`` inside the block takes over both signals."""
    with _handled({signal.SIGTERM: _raise_interrupt}):
        yield


@contextlib.contextmanager
def held_signals() -> Iterator[None]:
    """Ctrl-C and SIGTERM held back while the block runs, then delivered as they came to
    the handlers in place before it (``KeyboardInterrupt``, a ``StopRequest``'s flag).
    For calls into C that call back into Python: soundfile reads a Python file through
    cffi callbacks, which print and drop an exception raised in them (4 of 6 Ctrl-Cs while
    a long FLAC decoded were lost and training went on to the end)."""
    held: list[int] = []
    try:
        with _handled({s: lambda signum, frame: held.append(signum) for s in StopRequest.SIGNALS}):
            yield
    finally:  # also when the block failed: a Ctrl-C is never lost
        for signum in dict.fromkeys(held):  # once each, in the order they came
            signal.raise_signal(signum)
