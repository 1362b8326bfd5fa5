"""Stored events: :class:`Record` (one event, its data kept as JSON bytes) and
:class:`SortedIndex` (records sorted by key, as parallel lists).

``key = time_in_microseconds << 32 | insertion_seq``: time order, ties in insertion order.
Appending in time order is O(1), an out-of-order insert is a ``bisect.insort``.
"""

from __future__ import annotations

import uuid
from bisect import bisect_left, bisect_right
from datetime import datetime
from typing import Any

import orjson

from ..models import Event
from ..wire import format_time

SEQ_BITS = 32
SEQ_MASK = (1 << SEQ_BITS) - 1
KEY_MAX = 1 << 127


class Record:
    """One stored event. ``key`` orders it: time in microseconds, then insertion order.

    ``data`` is kept as JSON bytes: a million stored events then hold few objects for
    Python's garbage collector to walk (it would otherwise slow every request down).
    """

    __slots__ = (
        "data",
        "datatype",
        "deleted",
        "id",
        "key",
        "source",
        "source_guid",
        "tag",
        "time",
        "time_text",
        "type",
    )

    def __init__(
        self,
        key: int,
        id: str,
        time: datetime,
        type: str,
        source: str | None,
        source_guid: str | None,
        tag: str | None,
        datatype: str | None,
        data: bytes | None,
        time_text: str | None = None,
    ) -> None:
        self.key = key
        self.id = id
        self.time = time
        self.type = type
        self.source = source
        self.source_guid = source_guid
        self.tag = tag
        self.datatype = datatype
        self.data = data
        self.time_text = time_text
        self.deleted = False

    @property
    def seq(self) -> int:
        return self.key & SEQ_MASK

    def to_wire(self, include_data: bool) -> dict[str, Any]:
        """The event's JSON object; the same as ``wire.event_to_wire(self.to_event())`` (a
        test holds them equal), built directly because listings send thousands."""
        text = self.time_text
        if text is None:
            text = self.time_text = format_time(self.time)
        out: dict[str, Any] = {
            "id": self.id,
            "time": text,
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
            id=uuid.UUID(self.id),
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
    """Records sorted by key, as parallel ``keys``/``recs`` lists."""

    __slots__ = ("keys", "recs")

    def __init__(self) -> None:
        self.keys: list[int] = []
        self.recs: list[Record] = []

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, rec: Record) -> None:
        """Append when in order (O(1)), else insert in place."""
        keys, k = self.keys, rec.key
        if not keys or k > keys[-1]:
            keys.append(k)
            self.recs.append(rec)
        else:
            i = bisect_right(keys, k)
            keys.insert(i, k)
            self.recs.insert(i, rec)

    def extend(self, recs: list[Record]) -> None:
        """Add many records: appended if they follow in order, else one sort (bulk loads)."""
        if not recs:
            return
        keys = [r.key for r in recs]
        in_order = keys == sorted(keys) and (not self.keys or keys[0] > self.keys[-1])
        self.keys += keys
        self.recs += recs
        if not in_order:
            self.recs.sort(key=key_of)
            self.keys = [r.key for r in self.recs]

    def remove(self, rec: Record) -> None:
        i = bisect_left(self.keys, rec.key)
        if i < len(self.keys) and self.keys[i] == rec.key:
            del self.keys[i]
            del self.recs[i]

    def purge(self) -> None:
        """Drop every deleted record in one pass (after a large retention sweep)."""
        self.recs = [r for r in self.recs if not r.deleted]
        self.keys = [r.key for r in self.recs]

    def window(self, lo: int, hi: int) -> tuple[int, int]:
        """The positions ``[a, b)`` of the keys strictly between ``lo`` and ``hi``."""
        keys = self.keys
        a = bisect_right(keys, lo) if lo >= 0 else 0
        b = bisect_left(keys, hi) if hi < KEY_MAX else len(keys)
        return a, b
