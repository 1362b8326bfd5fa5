"""The primitive input checks, each in one place: every option and model uses these.

Pure: each returns the checked value or raises :class:`InvalidInputError` naming what was
wrong, before anything is sent.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable, Mapping, Sized
from dataclasses import fields, is_dataclass
from datetime import MAXYEAR, MINYEAR, UTC, datetime, time, timezone
from enum import Enum
from typing import Any, Literal, TypeGuard
from zoneinfo import ZoneInfo

import orjson

from .errors import InvalidInputError, XProtectError, shown

Order = Literal["asc", "desc"]


def is_int(value: object) -> TypeGuard[int]:
    """Whether ``value`` is an int (a bool is not one, whatever Python says)."""
    return isinstance(value, int) and not isinstance(value, bool)


def plain_str(value: str) -> str:
    """A str subclass's text as a plain str, read without its own methods (which may be
    anything: a hostile ``__eq__``, ``__hash__`` or ``replace``); a str as it is."""
    return value if type(value) is str else str.__str__(value)


def plain_int(value: int) -> int:
    """An int subclass's value as a plain int, read without its own methods."""
    return value if type(value) is int else int.__int__(value)


def read_list(what: str, values: object) -> list[Any]:
    """The items of an iterable the caller gave: a built-in container (a subclass too) read
    as the built-in reads it; any other iterable by its own code, whose failure is an
    :class:`InvalidInputError` naming ``what`` (a library error it raises goes through)."""
    for kind in _BUILTIN_ITERABLES:
        if isinstance(values, kind):
            return list(kind.__iter__(values))
    if not isinstance(values, Iterable):
        raise InvalidInputError(f"{what} must be a list (an iterable), got {shown(values)}")
    try:
        return list(values)
    except XProtectError:
        raise
    except Exception as exc:  # the caller's own iterator: anything may come out of it
        raise InvalidInputError(f"{what} could not be read: {shown(exc, 120)}") from exc


def read_pairs(what: str, mapping: Mapping[Any, Any]) -> list[tuple[Any, Any]]:
    """The items of a mapping the caller gave (a dict, a subclass too, as a dict reads
    them); a failure of another mapping's own code is an :class:`InvalidInputError`."""
    if isinstance(mapping, dict):
        return list(dict.items(mapping))
    try:
        return list(mapping.items())
    except XProtectError:
        raise
    except Exception as exc:
        raise InvalidInputError(f"{what} could not be read: {shown(exc, 120)}") from exc


def size_of(what: str, values: object) -> int | None:
    """How many items an input the caller gave holds, if it says (a built-in container,
    a subclass too, as the built-in counts); a failure of another's own ``__len__`` is an
    :class:`InvalidInputError` naming ``what``."""
    for kind in _BUILTIN_ITERABLES:
        if isinstance(values, kind):
            return int(kind.__len__(values))
    if not isinstance(values, Sized):
        return None
    try:
        return len(values)
    except XProtectError:
        raise
    except Exception as exc:
        raise InvalidInputError(f"{what} could not be counted: {shown(exc, 120)}") from exc


_BUILTIN_ITERABLES: tuple[type[Any], ...] = (list, tuple, set, frozenset, dict)
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def no_controls(what: str, value: str) -> str:
    """``value`` if it holds no control character (C0: U+0000 to U+001F, and DEL): a CR,
    LF or NUL in a tag or a source would split or cut a line in a server's log or file."""
    if type(value) is not str:  # (inlined: tags and sources by the million)
        value = plain_str(value)
    found = None if value.isprintable() else _CONTROL.search(value)  # the common case first
    if found is not None:
        raise InvalidInputError(
            f"{what} must not contain control characters, found U+{ord(found[0]):04X} "
            f"at position {found.start()}"
        )
    return value


def aware(value: object, what: str) -> datetime:
    """``value`` if it is a timezone-aware datetime whose time is a UTC instant a datetime
    holds, else :class:`InvalidInputError` naming ``what``.

    A plain datetime with a :class:`~datetime.timezone` or :class:`~zoneinfo.ZoneInfo`
    comes back as given. Any other (a subclass, another tzinfo) comes back as the same
    instant in UTC, a plain datetime: its tzinfo is asked for the offset here, once, and
    never again (one that raises, or answers something that is not an offset, is refused
    here, not when the time is written or compared)."""
    if type(value) is datetime and type(value.tzinfo) in _TRUSTED_ZONES:
        if _FIRST_YEAR < value.year < _LAST_YEAR:  # (the common case: nothing to check)
            return value
        _in_utc(value, what)
        return value
    if not isinstance(value, datetime):
        raise InvalidInputError(
            f"{what} must be a timezone-aware datetime (naive times are ambiguous), "
            f"got {shown(value)}"
        )
    try:
        offset = datetime.utcoffset(value)  # the tzinfo's answer, checked by datetime
    except Exception as exc:  # the tzinfo's own code: anything may come out of it
        raise _bad_zone(value, what, exc) from exc
    if offset is None:
        raise InvalidInputError(
            f"{what} must be a timezone-aware datetime (naive times are ambiguous), "
            f"got {shown(value)}"
        )
    return _in_utc(value, what)


_TRUSTED_ZONES = (timezone, ZoneInfo)
_FIRST_YEAR, _LAST_YEAR = MINYEAR, MAXYEAR
_UTC_EPOCH = datetime(MINYEAR, 1, 1, tzinfo=UTC)


def _in_utc(value: datetime, what: str) -> datetime:
    """``value`` as a plain UTC datetime (its tzinfo asked once, by datetime's own code)."""
    try:
        return _UTC_EPOCH + datetime.__sub__(value, _UTC_EPOCH)
    except OverflowError:
        raise InvalidInputError(f"{what} is out of range once in UTC: {shown(value)}") from None
    except Exception as exc:
        raise _bad_zone(value, what, exc) from exc


def _bad_zone(value: datetime, what: str, exc: BaseException) -> InvalidInputError:
    zone = type(datetime.__dict__["tzinfo"].__get__(value)).__name__
    return InvalidInputError(
        f"{what} must be a timezone-aware datetime, but its tzinfo ({zone}) gives no valid "
        f"UTC offset: {shown(exc, 120)}"
    )


def order(value: object) -> Order:
    """``"asc"`` or ``"desc"``."""
    text = plain_str(value) if isinstance(value, str) else None
    if text == "asc":
        return "asc"
    if text == "desc":
        return "desc"
    raise InvalidInputError(f"order must be 'asc' or 'desc', got {shown(value)}")


def int_in(name: str, value: object, low: int, high: int | None = None, note: str = "") -> int:
    """An int from ``low`` to ``high`` (no upper bound when None); ``note`` explains the
    bounds in the message."""
    number = plain_int(value) if is_int(value) else None
    if number is None or number < low or (high is not None and number > high):
        most = f"{low} to {high}" if high is not None else f"an int >= {low}"
        raise InvalidInputError(f"{name} must be {most}{note}, got {shown(value)}")
    return number


def seconds(name: str, value: object, most: float = 1e300, *, zero: bool = False) -> float:
    """A number of seconds, ``0 < s < most`` (``0 <= s`` with ``zero``); not
    ``isfinite()``: an int too large for a float must be refused, not overflow, and NaN
    fails every comparison."""
    number = _plain_number(value)
    low_ok = number is not None and (number >= 0 if zero else number > 0)
    if number is None or not low_ok or not number < most:
        bound = f" and < {most:g}" if most < 1e300 else ""
        what = f"a number of seconds {'>=' if zero else '>'} 0{bound}"
        raise InvalidInputError(f"{name} must be {what}, got {shown(value)}")
    return float(number)


def _plain_number(value: object) -> int | float | None:
    """An int or float (a subclass's value, without its methods); None for anything else."""
    if isinstance(value, float):
        return float.__float__(value)
    return plain_int(value) if is_int(value) else None


def boolean(name: str, value: object) -> bool:
    """``True`` or ``False`` (not 1, not "yes")."""
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name} must be True or False, got {shown(value)}")
    return value


def utf8(what: str, value: str) -> str:
    """``value`` if it can be written as UTF-8: a lone surrogate (``"\\ud800"``) cannot,
    and URL or JSON encoding would drop it or fail later, so it is refused here."""
    if type(value) is not str:
        value = plain_str(value)
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInputError(
                f"{what} is not valid text: U+{ord(value[exc.start]):04X} at position "
                f"{exc.start} is a lone surrogate"
            ) from None
    return value


def json_data(data: Mapping[str, Any] | list[Any], root: str = "data") -> None:
    """Refuse, naming where, what JSON would not carry as meant anywhere in ``data``: NaN
    and infinities (JSON has no such numbers: orjson would send them as null), naive
    datetimes and those whose tzinfo gives no offset (ambiguous or unreadable: aware
    ones are written in UTC, as a trigger's ``time``), times of day (no date, no zone) and
    raw JSON fragments (sent unchecked), also inside an enum's value or a dataclass's
    fields (orjson writes what they hold). What JSON cannot carry at all (sets, bytes, keys
    that are not strings, cycles …) is refused when the data is encoded.

    Each container is walked once (shared or cyclic ones too), without recursion, and read
    with the methods of the built-in type it is (a subclass's own are never called); the
    path to each is kept as links to its parent's, spelled out only for the message."""
    if _plain_json(data, _PLAIN_DEPTH):
        return
    seen: set[int] = set()
    todo: list[tuple[Any, _Path]] = [(data, None)]
    while todo:
        node, path = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for item in _members(node, path, root):
            kind = type(item)
            if kind in _LEAVES:
                continue
            if kind is float:
                if not -_MAX <= item <= _MAX:  # NaN fails both comparisons
                    where = _spelled((node, item, path), root)
                    raise InvalidInputError(f"{where} is {item!r}: JSON numbers must be finite")
            elif kind in _CONTAINERS or _holds_values(item):
                todo.append((item, (node, item, path)))
            else:
                _leaf(item, (node, item, path), root)


def _plain_json(node: Any, depth: int) -> bool:
    """Whether ``node`` is plain JSON: dicts and lists (of these exact types, at most
    ``depth`` deep) of strs, ints, bools, None and finite floats. The common case, checked
    without the walk's bookkeeping; False sends anything else (and every error) to it."""
    kind = type(node)
    if kind is dict:
        values: Iterable[Any] = dict.values(node)
    elif kind is list:
        values = node
    else:
        return False
    for value in values:
        vkind = type(value)
        if vkind is str or vkind is int or vkind is bool or value is None:
            continue
        if vkind is float:
            if not -_MAX <= value <= _MAX:  # NaN fails both comparisons
                return False
        elif depth == 0 or not _plain_json(value, depth - 1):
            return False
    return True


#: How deep :func:`_plain_json` looks before leaving the data to the walk (which takes any
#: depth without recursion, and cycles).
_PLAIN_DEPTH = 32
_LEAVES = frozenset((str, int, bool, type(None)))
_CONTAINERS = frozenset((dict, list, tuple))
_MAX = sys.float_info.max
#: Where a value is: (its container, the value, the container's own path).
_Path = tuple[Any, Any, "_Path"] | None


def _holds_values(item: object) -> bool:
    """Whether orjson writes ``item`` as what it holds: a mapping, list or tuple (a
    subclass too), an enum member (its value) or a dataclass instance (its fields)."""
    if isinstance(item, Mapping | list | tuple | Enum):
        return True
    return is_dataclass(item) and not isinstance(item, type)


def _members(node: Any, path: _Path, root: str) -> Iterable[Any]:
    """The values of a container, read as its built-in type reads them."""
    if isinstance(node, dict):
        return dict.values(node)
    if isinstance(node, list):
        return list.__iter__(node)
    if isinstance(node, tuple):
        return tuple.__iter__(node)
    try:  # an enum, a dataclass or another Mapping: its own code, which may fail
        if isinstance(node, Enum) or is_dataclass(node):
            return [value for _, value in _pairs(node)]
        return list(node.values())
    except Exception as exc:
        where = _spelled(path, root)
        raise InvalidInputError(f"{where} cannot be read: {shown(exc, 120)}") from exc


def _leaf(item: object, path: _Path, root: str) -> None:
    """One value that is not a plain str, int, bool, None, float or container."""
    if isinstance(item, float):  # a subclass: its value, without its methods
        if not math.isfinite(item):
            where = _spelled(path, root)
            raise InvalidInputError(f"{where} is not finite: JSON numbers must be finite")
    elif isinstance(item, datetime):
        try:
            aware(item, "")
        except InvalidInputError as exc:
            raise InvalidInputError(f"{_spelled(path, root)}{exc}") from exc.__cause__
    elif isinstance(item, time):
        where = _spelled(path, root)
        raise InvalidInputError(
            f"{where} is a time of day, which names no instant: give an aware datetime or text"
        )
    elif isinstance(item, orjson.Fragment):
        raise InvalidInputError(f"{_spelled(path, root)} is a raw JSON fragment: give values")


def _pairs(node: Any) -> Iterable[tuple[Any, Any]]:
    if isinstance(node, dict):
        return dict.items(node)
    if isinstance(node, Enum):  # written as its value
        return [("value", node._value_)]
    if is_dataclass(node):  # written as its fields, read as orjson reads them
        return [(f.name, object.__getattribute__(node, f.name)) for f in fields(node)]
    if isinstance(node, list | tuple):
        return enumerate(list.__iter__(node) if isinstance(node, list) else tuple.__iter__(node))
    return list(node.items())  # (read once already: see _members)


def _spelled(path: _Path, root: str = "data", most: int = 16) -> str:
    """``data['a'][0]``; a path deeper than ``most`` keys shows its ends."""
    keys: list[str] = []
    while path is not None:
        node, item, path = path
        try:
            keys.append(next((f"[{shown(k, 60)}]" for k, v in _pairs(node) if v is item), "[?]"))
        except Exception:  # a Mapping's own code, failing the second time it is read
            keys.append("[?]")
    keys.reverse()
    if len(keys) > most:
        keys = [*keys[: most // 2], "[…]", *keys[-most // 2 :]]
    return root + "".join(keys)
