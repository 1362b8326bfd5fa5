"""Odd and hostile values for input proofs: wrong types, huge ints, NaN, lone surrogates,
deep nesting, bytes, and subclasses of str/int/float/datetime/UUID/dict/list whose methods
raise, tzinfos that raise or answer nonsense, objects whose ``__index__``/``__float__``/
``__iter__`` raise.

Each value is made by a named factory (:data:`ODD`): Hypothesis shows the name, never the
value (``repr`` of some raises, of others runs for ever).
"""

from __future__ import annotations

import dataclasses
import decimal
import enum
import math
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any

import orjson
from hypothesis import strategies as st


class Boom(RuntimeError):
    """What every hostile method raises."""


def _boom(*_: object, **__: object) -> Any:
    raise Boom("hostile")


class HostileStr(str):
    """A str whose every method a library might call raises."""

    __str__ = __repr__ = __eq__ = __ne__ = __hash__ = __len__ = __iter__ = _boom
    replace = strip = encode = isprintable = isascii = isidentifier = rpartition = _boom
    startswith = lower = upper = split = partition = __contains__ = __getitem__ = _boom


class HostileKey(str):
    """A str that hashes (it can be a key) but whose other methods raise."""

    __str__ = __repr__ = __eq__ = __ne__ = __len__ = __iter__ = replace = encode = _boom
    isprintable = isascii = isidentifier = startswith = __contains__ = _boom
    __hash__ = str.__hash__


class HostileInt(int):
    __index__ = __int__ = __float__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = _boom
    __ge__ = __hash__ = __str__ = __repr__ = __bool__ = bit_length = __format__ = _boom
    __add__ = __sub__ = __mul__ = __truediv__ = __neg__ = __abs__ = _boom


class HostileFloat(float):
    __float__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = _boom
    __str__ = __repr__ = __bool__ = __format__ = __add__ = __mul__ = __truediv__ = _boom


class HostileUUID(uuid.UUID):
    __str__ = __repr__ = __eq__ = __hash__ = __lt__ = _boom

    @property  # type: ignore[misc]
    def hex(self) -> str:  # type: ignore[override]
        raise Boom("hex")


class RaisingTz(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise Boom("utcoffset")

    def tzname(self, dt: datetime | None) -> str:
        raise Boom("tzname")

    def dst(self, dt: datetime | None) -> timedelta:
        raise Boom("dst")


class TextTz(tzinfo):
    def utcoffset(self, dt: datetime | None) -> Any:
        return "+02:00"


class FarTz(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=30)


class NoneTz(tzinfo):
    def utcoffset(self, dt: datetime | None) -> None:
        return None


class FlipTz(tzinfo):
    """Answers once, then raises: a check that calls it once passes, the next call fails."""

    def __init__(self) -> None:
        self.calls = 0

    def utcoffset(self, dt: datetime | None) -> timedelta:
        self.calls += 1
        if self.calls > 1:
            raise Boom("second call")
        return timedelta(hours=1)


class HostileDatetime(datetime):
    __str__ = __repr__ = __eq__ = __hash__ = __lt__ = __le__ = __gt__ = __ge__ = _boom
    __sub__ = __add__ = __rsub__ = __radd__ = utcoffset = astimezone = isoformat = _boom
    replace = timestamp = __format__ = __reduce__ = __reduce_ex__ = _boom


class HostileMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise Boom("getitem")

    def __iter__(self) -> Iterator[str]:
        raise Boom("iter")

    def __len__(self) -> int:
        return 1


class HostileDict(dict[str, Any]):
    items = values = keys = __iter__ = __getitem__ = __len__ = get = __eq__ = _boom


class HostileList(list[Any]):
    __iter__ = __len__ = __getitem__ = __eq__ = __contains__ = _boom


class Unindexable:
    __index__ = __int__ = __float__ = __iter__ = __len__ = __bool__ = __str__ = _boom
    __fspath__ = __eq__ = __hash__ = __repr__ = __call__ = _boom


class Color(enum.Enum):
    RED = (1, 2)


@dataclasses.dataclass
class Point:
    x: int


def _raising_gen() -> Iterator[Any]:
    yield str(uuid.UUID(int=1))
    raise Boom("generator")


def _deep(levels: int, make: Callable[[Any], Any]) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = make(value)
    return value


NAIVE = datetime(2024, 5, 1, 12, 0)

#: name -> factory of one odd value (a fresh one each call).
ODD: dict[str, Callable[[], Any]] = {
    "None": lambda: None,
    "object": object,
    "float": lambda: 1.5,
    "nan": lambda: math.nan,
    "inf": lambda: math.inf,
    "-inf": lambda: -math.inf,
    "true": lambda: True,
    "zero": lambda: 0,
    "negative": lambda: -1,
    "2**64": lambda: 2**64,
    "-(2**63)-1": lambda: -(2**63) - 1,
    "huge int": lambda: 10**5000,
    "-huge int": lambda: -(10**5000),
    "bytes": lambda: b"\x00\xff",
    "bytearray": lambda: bytearray(b"x"),
    "empty str": lambda: "",
    "blank": lambda: " ",
    "lone surrogate": lambda: "\ud800",
    "surrogate in text": lambda: "ab\udfffcd",
    "NUL": lambda: "a\x00b",
    "CRLF": lambda: "a\r\nb",
    "long text": lambda: "x" * 100_000,
    "guid with surrogate": lambda: str(uuid.UUID(int=7))[:-1] + "\ud800",
    "hostile str": lambda: HostileStr("00000000-0000-0000-0000-000000000001"),
    "hostile int": lambda: HostileInt(5),
    "hostile float": lambda: HostileFloat(1.0),
    "float subclass nan": lambda: HostileFloat("nan"),
    "hostile uuid": lambda: HostileUUID(int=3),
    "naive datetime": lambda: NAIVE,
    "aware datetime": lambda: datetime(2024, 5, 1, tzinfo=UTC),
    "datetime year 1 +5h": lambda: datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
    "datetime 9999 -5h": lambda: datetime(9999, 12, 31, 23, tzinfo=timezone(-timedelta(hours=5))),
    "raising tzinfo": lambda: datetime(2024, 5, 1, tzinfo=RaisingTz()),
    "text tzinfo": lambda: datetime(2024, 5, 1, tzinfo=TextTz()),
    "30h tzinfo": lambda: datetime(2024, 5, 1, tzinfo=FarTz()),
    "None tzinfo": lambda: datetime(2024, 5, 1, tzinfo=NoneTz()),
    "flip tzinfo": lambda: datetime(2024, 5, 1, tzinfo=FlipTz()),
    "hostile datetime": lambda: HostileDatetime(2024, 5, 1, tzinfo=UTC),
    "hostile naive datetime": lambda: HostileDatetime(2024, 5, 1),
    "date": lambda: date(2024, 5, 1),
    "time": lambda: time(12, 0),
    "timedelta": lambda: timedelta(seconds=1),
    "decimal": lambda: decimal.Decimal("1.5"),
    "decimal nan": lambda: decimal.Decimal("nan"),
    "complex": lambda: 1j,
    "enum": lambda: Color.RED,
    "dataclass": lambda: Point(1),
    "fragment": lambda: orjson.Fragment(b"{not json"),
    "set": lambda: {1, 2},
    "frozenset": lambda: frozenset({"a"}),
    "empty list": list,
    "empty dict": dict,
    "list of None": lambda: [None],
    "dict int key": lambda: {1: "x"},
    "dict surrogate key": lambda: {"\ud800": 1},
    "dict hostile key": lambda: {HostileKey("k"): 1},
    "hostile key str": lambda: HostileKey("tag"),
    "hostile mapping": HostileMapping,
    "hostile dict": lambda: HostileDict(a=1),
    "hostile list": lambda: HostileList([1]),
    "raising generator": _raising_gen,
    "unindexable": Unindexable,
    "deep list": lambda: _deep(20_000, lambda v: [v]),
    "deep dict": lambda: _deep(20_000, lambda v: {"a": v}),
    "300 deep dict": lambda: _deep(300, lambda v: {"a": v}),
    "cyclic": lambda: (lambda d: (d.__setitem__("me", d), d)[1])({}),
    "callable": lambda: _boom,
    "type": lambda: int,
}
NAMES = sorted(ODD)
odd_names = st.sampled_from(NAMES)


def odd(name: str) -> Any:
    """A fresh odd value by its name."""
    return ODD[name]()
