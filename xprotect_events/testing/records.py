"""Stored events: :class:`Record` (one event in a few hundred bytes) and :class:`SortedIndex`
(records sorted by key, as parallel lists).

``key = time_in_microseconds << 32 | insertion_seq``: time order, ties in insertion order.
Appending in time order is O(1), an out-of-order insert is a ``bisect.insort``.

A record keeps no copy of what it can derive: its time is in its key (the wire text is
written when asked), its id is one 128-bit int, its data is JSON bytes, and its type,
source and datatype strings are shared with every other record that has the same ones.
"""

from __future__ import annotations

import uuid
from bisect import bisect_left, bisect_right
from datetime import datetime
from random import Random
from typing import Any

import orjson

from ..models import Event
from .clock import from_us

SEQ_BITS = 32
SEQ_MASK = (1 << SEQ_BITS) - 1
KEY_MAX = 1 << 127
#: Below every key: events before 1970 have negative keys (their time in µs is).
KEY_MIN = -KEY_MAX

#: Dropped records at the head of an index are cut off once they are this many (and 1/16).
_COMPACT_AT = 1024


def guid_text(value: int) -> str:
    """The ``8-4-4-4-12`` text of a 128-bit GUID int."""
    h = value.to_bytes(16, "big").hex()  # faster than f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


#: Byte maps that set a random GUID's version (4) and variant (RFC 4122) bits.
_VERSION_4 = bytes(b & 0x0F | 0x40 for b in range(256))
_VARIANT = bytes(b & 0x3F | 0x80 for b in range(256))


class Guids:
    """``count`` random version-4 GUIDs made at once: :attr:`texts` (``8-4-4-4-12``) and
    :meth:`uid` (the 128-bit int of one). A batch takes its ids this way: the texts are cut
    from one hex string in a few slice operations, not formatted one by one."""

    __slots__ = ("_raw", "texts")

    def __init__(self, rng: Random, count: int) -> None:
        raw = bytearray(rng.randbytes(16 * count))
        raw[6::16] = raw[6::16].translate(_VERSION_4)
        raw[8::16] = raw[8::16].translate(_VARIANT)
        self._raw = bytes(raw)
        # Each GUID as 8 groups of 4 digits, a dash after each (40 characters); drop the
        # dashes after its 7th, 6th and 1st groups (37 left), the last one parts GUIDs.
        text = bytearray((raw.hex("-", 2) + "-").encode())
        del text[34::40]
        del text[29::39]
        del text[4::38]
        text[36::37] = b" " * count
        self.texts: list[str] = text[:-1].decode().split(" ") if count else []

    def uid(self, i: int) -> int:
        return int.from_bytes(self._raw[16 * i : 16 * i + 16], "big")


def guid_int(text: str) -> int | None:
    """The 128-bit int of a canonical GUID text, or None."""
    try:
        return int(text.replace("-", ""), 16) if len(text) == 36 else None
    except ValueError:
        return None


class _TimeText:
    """Wire times (``2024-05-01T12:00:00.1234560Z``) from microseconds; the text up to the
    second is memoised, since the events of a page are mostly within the same second."""

    def __init__(self) -> None:
        self.second = -1
        self.head = ""

    def __call__(self, us: int) -> str:
        second, micro = divmod(us, 1_000_000)
        if second != self.second:
            d = from_us(second * 1_000_000)
            self.head = (
                f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}"
            )
            self.second = second
        return f"{self.head}.{micro:06d}0Z"


time_text = _TimeText()


class Record:
    """One stored event. ``key`` orders it: time in microseconds, then insertion order.

    ``uid`` is the event id as an int (:attr:`id` is its text). ``data`` is kept as JSON
    bytes: a million stored events then hold few objects for Python's garbage collector to
    walk (it would otherwise slow every request down).
    """

    __slots__ = (
        "data",
        "datatype",
        "deleted",
        "key",
        "source",
        "source_guid",
        "tag",
        "type",
        "uid",
    )

    def __init__(
        self,
        key: int,
        uid: int,
        type: str,
        source: str | None,
        source_guid: str | None,
        tag: str | None,
        datatype: str | None,
        data: bytes | None,
    ) -> None:
        self.key = key
        self.uid = uid
        self.type = type
        self.source = source
        self.source_guid = source_guid
        self.tag = tag
        self.datatype = datatype
        self.data = data
        self.deleted = False

    @property
    def id(self) -> str:
        return guid_text(self.uid)

    @property
    def seq(self) -> int:
        return self.key & SEQ_MASK

    @property
    def time_us(self) -> int:
        return self.key >> SEQ_BITS

    @property
    def time(self) -> datetime:
        return from_us(self.key >> SEQ_BITS)

    def to_wire(self, include_data: bool, time: str | None = None) -> dict[str, Any]:
        """The event's JSON object; the same as ``wire.event_to_wire(self.to_event())`` (a
        test holds them equal), built directly because listings send thousands. ``time``:
        the wire text of its time when the caller has it already (a batch's ``now``)."""
        out: dict[str, Any] = {
            "id": guid_text(self.uid),
            "time": time_text(self.key >> SEQ_BITS) if time is None else time,
            "type": self.type,
            "source": self.source,
            "tag": self.tag,
            "datatype": self.datatype,
        }
        if include_data and self.data is not None:
            out["data"] = orjson.Fragment(self.data)
        return out

    def to_event(self) -> Event:
        """The core :class:`xprotect_events.models.Event` of this record."""
        return Event(
            id=uuid.UUID(int=self.uid),
            time=self.time,
            type=uuid.UUID(self.type),
            source=self.source,
            tag=self.tag,
            datatype=self.datatype,
            data=None if self.data is None else orjson.loads(self.data),
        )

    def __repr__(self) -> str:
        return f"Record({self.id}, {self.time.isoformat()}, type={self.type})"


def key_of(rec: Record) -> int:
    """A record's sort key (for ``sort``, ``heapq.merge``, ``bisect``)."""
    return rec.key


def seq_of(rec: Record) -> int:
    """A record's insertion number (for ``bisect`` on an insertion log)."""
    return rec.key & SEQ_MASK


class SortedIndex:
    """Records sorted by key, as parallel ``keys``/``recs`` lists.

    The live records are those from position ``head`` on: dropping the oldest record
    (:meth:`drop_oldest`, the ``max_events`` cap) moves ``head`` instead of shifting the
    lists, and the dropped prefix is cut off now and then.
    """

    __slots__ = ("head", "keys", "recs")

    def __init__(self) -> None:
        self.keys: list[int] = []
        self.recs: list[Record] = []
        self.head = 0

    def __len__(self) -> int:
        return len(self.keys) - self.head

    def live(self) -> list[Record]:
        """The live records, oldest first (a copy)."""
        return self.recs[self.head :]

    def add(self, rec: Record) -> None:
        """Append when in order (O(1)), else insert in place."""
        keys, k = self.keys, rec.key
        if len(keys) == self.head or k > keys[-1]:
            keys.append(k)
            self.recs.append(rec)
        else:
            i = bisect_right(keys, k, self.head)
            keys.insert(i, k)
            self.recs.insert(i, rec)

    def extend(self, recs: list[Record]) -> None:
        """Add many records: appended if they follow in order, else one sort (bulk loads)."""
        if not recs:
            return
        self.compact(force=True)
        keys = [r.key for r in recs]
        in_order = keys == sorted(keys) and (not self.keys or keys[0] > self.keys[-1])
        self.keys += keys
        self.recs += recs
        if not in_order:
            self.recs.sort(key=key_of)
            self.keys = [r.key for r in self.recs]

    def remove(self, rec: Record) -> None:
        i = bisect_left(self.keys, rec.key, self.head)
        if i < len(self.keys) and self.keys[i] == rec.key:
            del self.keys[i]
            del self.recs[i]

    def oldest(self) -> Record | None:
        return self.recs[self.head] if self.head < len(self.recs) else None

    def drop_oldest(self, rec: Record) -> None:
        """Drop ``rec``, which is the oldest live record (else it is removed in place)."""
        if self.head < len(self.recs) and self.recs[self.head] is rec:
            self.head += 1
            self.compact()
        else:
            self.remove(rec)

    def compact(self, *, force: bool = False) -> None:
        """Cut off the dropped head (when it is large enough, or ``force``)."""
        head = self.head
        if head and (force or (head >= _COMPACT_AT and head * 16 >= len(self.keys))):
            del self.keys[:head]
            del self.recs[:head]
            self.head = 0

    def purge(self) -> None:
        """Drop every deleted record in one pass (after a large retention sweep)."""
        self.recs = [r for r in self.recs[self.head :] if not r.deleted]
        self.keys = [r.key for r in self.recs]
        self.head = 0

    def window(self, lo: int, hi: int) -> tuple[int, int]:
        """The positions ``[a, b)`` of the live keys strictly between ``lo`` and ``hi``."""
        keys = self.keys
        a = bisect_right(keys, lo, self.head) if lo > KEY_MIN else self.head
        b = bisect_left(keys, hi, a) if hi < KEY_MAX else len(keys)
        return a, b
