"""The primitive input checks, each in one place: every option and model uses these.

Pure: each returns the checked value or raises :class:`InvalidInputError` naming what was
wrong, before anything is sent.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, TypeGuard

from .errors import InvalidInputError, shown

Order = Literal["asc", "desc"]


def is_int(value: object) -> TypeGuard[int]:
    """Whether ``value`` is an int (a bool is not one, whatever Python says)."""
    return isinstance(value, int) and not isinstance(value, bool)


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def no_controls(what: str, value: str) -> str:
    """``value`` if it holds no control character (C0: U+0000 to U+001F, and DEL): a CR,
    LF or NUL in a tag or a source would split or cut a line in a server's log or file."""
    found = None if value.isprintable() else _CONTROL.search(value)  # the common case first
    if found is not None:
        raise InvalidInputError(
            f"{what} must not contain control characters, found U+{ord(found[0]):04X} "
            f"at position {found.start()}"
        )
    return value


def aware(value: object, what: str) -> datetime:
    """``value`` if it is a timezone-aware datetime."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidInputError(
            f"{what} must be a timezone-aware datetime (naive times are ambiguous), "
            f"got {shown(value)}"
        )
    return value


def order(value: object) -> Order:
    """``"asc"`` or ``"desc"``."""
    if value == "asc" and isinstance(value, str):
        return "asc"
    if value == "desc" and isinstance(value, str):
        return "desc"
    raise InvalidInputError(f"order must be 'asc' or 'desc', got {shown(value)}")


def int_in(name: str, value: object, low: int, high: int | None = None, note: str = "") -> int:
    """An int from ``low`` to ``high`` (no upper bound when None); ``note`` explains the
    bounds in the message."""
    if not is_int(value) or value < low or (high is not None and value > high):
        most = f"{low} to {high}" if high is not None else f"an int >= {low}"
        raise InvalidInputError(f"{name} must be {most}{note}, got {shown(value)}")
    return value


def seconds(name: str, value: object, most: float = 1e300, *, zero: bool = False) -> float:
    """A number of seconds, ``0 < s < most`` (``0 <= s`` with ``zero``); not
    ``isfinite()``: an int too large for a float must be refused, not overflow, and NaN
    fails every comparison."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    low_ok = number and (value >= 0 if zero else value > 0)  # type: ignore[operator]
    if not low_ok or not value < most:  # type: ignore[operator]
        bound = f" and < {most:g}" if most < 1e300 else ""
        what = f"a number of seconds {'>=' if zero else '>'} 0{bound}"
        raise InvalidInputError(f"{name} must be {what}, got {shown(value)}")
    return float(value)  # type: ignore[arg-type]


def boolean(name: str, value: object) -> bool:
    """``True`` or ``False`` (not 1, not "yes")."""
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name} must be True or False, got {shown(value)}")
    return value


def utf8(what: str, value: str) -> str:
    """``value`` if it can be written as UTF-8: a lone surrogate (``"\\ud800"``) cannot,
    and URL or JSON encoding would drop it or fail later, so it is refused here."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInputError(
                f"{what} is not valid text: U+{ord(value[exc.start]):04X} at position "
                f"{exc.start} is a lone surrogate"
            ) from None
    return value


def finite_numbers(data: Mapping[str, Any]) -> None:
    """Refuse NaN and infinities anywhere in ``data`` (JSON has no such numbers: orjson
    would send them as null), naming where. Each container is walked once (shared or
    cyclic ones too: JSON encoding refuses cycles later), without recursion; the path to
    each is kept as links to its parent's, spelled out only for the message."""
    seen: set[int] = set()
    todo: list[tuple[Any, _Path]] = [(data, None)]
    while todo:
        node, path = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        mapping = type(node) is dict or isinstance(node, Mapping)
        for item in node.values() if mapping else node:
            kind = type(item)
            if kind in _LEAVES:
                continue
            if kind is float or isinstance(item, float):
                if not -_MAX <= item <= _MAX:  # NaN fails both comparisons
                    where = _spelled((node, item, path))
                    raise InvalidInputError(f"{where} is {item!r}: JSON numbers must be finite")
            elif kind is dict or kind is list or isinstance(item, Mapping | list | tuple):
                todo.append((item, (node, item, path)))


_LEAVES = frozenset((str, int, bool, type(None)))
_MAX = sys.float_info.max
#: Where a value is: (its container, the value, the container's own path).
_Path = tuple[Any, Any, "_Path"] | None


def _spelled(path: _Path, most: int = 16) -> str:
    """``data['a'][0]``; a path deeper than ``most`` keys shows its ends."""
    keys: list[str] = []
    while path is not None:
        node, item, path = path
        pairs = node.items() if isinstance(node, Mapping) else enumerate(node)
        keys.append(next(f"[{shown(k, 60)}]" for k, v in pairs if v is item))
    keys.reverse()
    if len(keys) > most:
        keys = [*keys[: most // 2], "[…]", *keys[-most // 2 :]]
    return "data" + "".join(keys)
