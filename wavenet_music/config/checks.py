"""What every setting may be, declared next to its help text, and the one check of it.

A settings class is a frozen dataclass made with ``@settings(section)``. Each field says
what it is for and, when it holds numbers, its range, in one place::

    batch_size: int = field(default=1, metadata=doc("windows per step", low=1, high=4096))

``validate`` walks the fields of an instance and checks each value against its declared
type (``int`` is never a ``bool`` and never a float; a ``float`` is finite; ``X | None``
also takes null), range and choices; ``@settings`` runs it on every construction, before
the class's own ``__post_init__`` (the cross-field checks). A numeric field without a
range, or a field without help text, is a programming error (``TypeError``) raised when
the class is defined, so that no setting can be added unchecked. The CLI prints the
``UserError`` of a bad value as one line and exits 2.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class UserError(ValueError):
    """A problem with the user's input; the CLI prints it as one line and exits 2."""


def read_user_text(path: Path, what: str) -> str:
    """The UTF-8 text of the user's file ``path`` (``what`` it is for, e.g. "config file");
    a missing, unreadable or binary file, or a folder, is a one-line ``UserError``."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{what} {path} not found") from None
    except IsADirectoryError:
        raise UserError(f"{what} {path} is a folder; name a file") from None
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{what} {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise UserError(f"cannot read {what} {path} ({exc.strerror or exc})") from None


@dataclass(frozen=True)
class Range:
    """The interval a number may take: ``[low, high]``, an end excluded when it is open.

    For a tuple of integers the interval bounds every item and ``items`` the length.
    """

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    items: tuple[int, int] | None = None

    def __contains__(self, value: float) -> bool:
        above = self.low < value if self.low_open else self.low <= value
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"{left}{_number(self.low)}, {_number(self.high)}{right}"


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def doc(
    text: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    items: tuple[int, int] | None = None,
    choices: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Field metadata: help text and, for a number, its range (both ends declared)."""
    metadata: dict[str, Any] = {"help": text}
    if low is not None or high is not None:
        if low is None or high is None or not low <= high:
            raise TypeError(f"{text!r}: a range declares low <= high, got {low}, {high}")
        metadata["range"] = Range(low, high, low_open, high_open, items)
    if choices is not None:
        metadata["choices"] = choices
    return metadata


@dataclass(frozen=True)
class Spec:
    """One field as ``validate`` sees it: ``kind`` is bool, int, float, str or tuple."""

    name: str  # as errors name it: "model.residual_channels", or "seconds"
    kind: type
    item: type | None  # the items' type of a tuple
    optional: bool
    range: Range | None
    choices: tuple[str, ...] | None

    @property
    def numeric(self) -> bool:
        return self.kind in (int, float) or self.item in (int, float)

    @property
    def expected(self) -> str:
        """What a valid value is, in words: "an integer in [1, 4096] or null"."""
        return _expected(self) + (" or null" if self.optional else "")

    def summary(self) -> str:
        """Type and range for help text: "int in [1, 4096]", "float in (0, 1] or null"."""
        kind = f"list of {self.item.__name__}" if self.item else self.kind.__name__
        text = f"{kind} in {self.range}" if self.range else kind
        if self.choices:
            text = f"one of {', '.join(self.choices)}"
        return text + (" or null" if self.optional else "")


def _expected(spec: Spec) -> str:
    if spec.choices:
        return f"one of {', '.join(spec.choices)}"
    if spec.kind is tuple:
        if spec.item is str:
            return "a list of names"
        count = spec.range.items if spec.range else None
        size = f" ({count[0]} to {count[1]} of them)" if count else ""
        return f"a list of integers in {spec.range}{size}"
    words = {bool: "true or false", str: "a string", int: "an integer", float: "a number"}
    return words[spec.kind] + (f" in {spec.range}" if spec.range else "")


SETTINGS_CLASSES: list[type] = []  # every class made with @settings, in definition order


@typing.dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def settings(section: str = "") -> Callable[[type[T]], type[T]]:
    """Class decorator: a frozen dataclass of declared settings, validated on construction.

    Errors name a field ``section.key`` (or ``key`` without a section). Raises ``TypeError``
    at once if a field lacks help text or a numeric field lacks a range.
    """

    def make(cls: type[T]) -> type[T]:
        own_checks = cls.__dict__.get("__post_init__")

        def __post_init__(self: Any) -> None:
            validate(self)
            if own_checks is not None:
                own_checks(self)

        cls.__post_init__ = __post_init__  # type: ignore[attr-defined]
        cls._settings_section = section  # type: ignore[attr-defined]
        made = dataclasses.dataclass(frozen=True)(cls)
        field_specs(made)  # the declarations are checked now, at import
        SETTINGS_CLASSES.append(made)
        return made

    return make


@functools.cache
def field_specs(owner: type) -> dict[str, Spec]:
    """The ``Spec`` of every field of a settings class, by name; ``TypeError`` for a field
    whose declaration is incomplete (no help text, a number without a range)."""
    section = getattr(owner, "_settings_section", "")
    hints = typing.get_type_hints(owner)
    specs = {}
    for f in dataclasses.fields(owner):
        name = f"{section}.{f.name}" if section else f.name
        kind, item, optional = _parse_hint(name, hints[f.name])
        spec = Spec(name, kind, item, optional, f.metadata.get("range"), f.metadata.get("choices"))
        if not f.metadata.get("help"):
            raise TypeError(f"setting {owner.__name__}.{f.name} has no help text: use doc()")
        if spec.numeric != (spec.range is not None):
            state = "declares no range" if spec.numeric else "is not a number but has a range"
            raise TypeError(f"setting {owner.__name__}.{f.name} {state}: use doc(low=, high=)")
        specs[f.name] = spec
    return specs


def _parse_hint(name: str, hint: Any) -> tuple[type, type | None, bool]:
    """``int | None`` → (int, None, True); ``tuple[int, ...]`` → (tuple, int, False)."""
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        if len(args) != 1:
            raise TypeError(f"setting {name}: unsupported type {hint}")
        hint = args[0]
    if typing.get_origin(hint) is tuple and typing.get_args(hint)[0] in (int, str):
        return tuple, typing.get_args(hint)[0], optional
    if hint in (bool, int, float, str):
        return hint, None, optional
    raise TypeError(f"setting {name}: unsupported type {hint}")


def validate(instance: Any) -> None:
    """Check every field of a settings instance against its declaration (``UserError``)."""
    for key, spec in field_specs(type(instance)).items():
        value = getattr(instance, key)
        if not (value is None and spec.optional) and not _fits(spec, value):
            raise UserError(f"{spec.name}: expected {spec.expected}, got {_shown(value)}")


def _shown(value: Any, items: int = 12, characters: int = 60) -> str:
    """``value`` as an error shows it: a long list by its first ``items`` and its length,
    a long text by its first ``characters`` and its length."""
    if isinstance(value, str | bytes) and len(value) > characters:
        return f"{value[:characters]!r}... ({len(value):,} characters)"
    if not isinstance(value, tuple):
        return repr(value)
    if len(value) <= items:
        return repr(list(value))
    return f"{len(value):,} items: {str(list(value[:items]))[:-1]}, ...]"


def _fits(spec: Spec, value: Any) -> bool:
    if spec.kind is not tuple:
        fits = _scalar_fits(spec.kind, spec.range, value)
        return fits and (spec.choices is None or value in spec.choices)
    if not isinstance(value, tuple) or spec.item is None:
        return False
    if spec.range is not None and spec.range.items is not None:
        low, high = spec.range.items
        if not low <= len(value) <= high:
            return False
    return all(_scalar_fits(spec.item, spec.range, v) for v in value)


def _scalar_fits(kind: type, bounds: Range | None, value: Any) -> bool:
    if kind in (bool, str):
        return isinstance(value, kind)
    if isinstance(value, bool) or not isinstance(value, int if kind is int else int | float):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return bounds is None or value in bounds


# --- values as YAML reads them (files, --set, flags) -----------------------------------------


def convert(owner: type, key: str, value: Any) -> Any:
    """``value`` converted to the declared type of ``owner.key`` (``UserError`` if it has
    another): an integral float or numeric string becomes an int, an int a float, a list a
    tuple. The range is checked when the instance is made (``validate``)."""
    spec = field_specs(owner)[key]
    if value is None and spec.optional:
        return None
    if spec.kind is not tuple:
        return _convert_scalar(spec.name, spec.kind, value)
    if not isinstance(value, list | tuple):
        raise UserError(f"{spec.name}: expected {spec.expected}, got {_shown(value)}")
    return tuple(_convert_scalar(spec.name, spec.item or str, v) for v in value)


def _convert_scalar(name: str, kind: type, value: Any) -> Any:
    if kind is int:
        return _to_int(name, value)
    if kind is float:
        return _to_float(name, value)
    if isinstance(value, kind):  # bool or str: no conversion
        return value
    words = {bool: "true or false", str: "a string"}
    raise UserError(f"{name}: expected {words[kind]}, got {_shown(value)}")


def _to_int(name: str, value: Any) -> int:
    """An int, also from an integral float or string (``1e5``; YAML reads it as a string)."""
    number = value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value)
    if isinstance(number, int) and not isinstance(number, bool):
        return number
    if isinstance(number, float) and number.is_integer():
        return int(number)
    raise UserError(f"{name}: expected an integer, got {_shown(value)}")


def _to_float(name: str, value: Any) -> float:
    """A float; NaN and inf pass here and the declared range refuses them."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an int beyond any float: the range check refuses it
            return value  # type: ignore[return-value]
    if isinstance(value, str):  # PyYAML reads "3e-4" (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    raise UserError(f"{name}: expected a number, got {_shown(value)}")
