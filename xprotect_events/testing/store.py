"""The event store: every stored event, its indexes, retention, the ``max_events`` cap and
paged listings.

Pure Python (no aiohttp). Built to stay fast with a million stored events, each in a few
hundred bytes (see :mod:`.records`):

- every index is a :class:`~.records.SortedIndex` (parallel ``keys``/``recs`` lists sorted
  by key: time order, ties in insertion order);
- one index over all events, one per source GUID, one per event type; a listing narrows the
  time range with ``bisect`` and picks page ``p`` of several source indexes with a k-th
  element search, never a scan from the start;
- retention deletes lazily: each type's oldest events are at the head of its index, so a
  sweep looks at one key per type, and at nothing when the next expiry is not due yet;
- the cap drops the oldest events first, from the heads of the indexes.

Listeners (:attr:`EventStore.on_stored`, :attr:`EventStore.on_deleted`) hear of every event
stored and every event deleted (by retention or by the cap), in batches, after the indexes
are updated: the server-side event sessions keep their logs that way.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from random import Random
from typing import Any, Protocol

from .directory import Directory
from .query import Query
from .records import SEQ_BITS, Guids, Record, SortedIndex, guid_int, key_of
from .triggers import BulkReader

#: Hears of records stored, or deleted, in one go.
RecordsListener = Callable[[Sequence[Record]], None]


class AdmitListener(Protocol):
    """Hears of every accepted event (:attr:`EventStore.on_admitted`), stored or not."""

    def wants(self, type_id: str) -> bool:
        """Whether it would do anything with an event of this type now."""

    def on_event(self, rec: Record) -> None:
        """Hear of one accepted event (numbered, stored or not)."""


_UUID4_CLEAR = ~(0xF << 76 | 0xC << 60)
_UUID4_SET = 4 << 76 | 8 << 60
_NEVER = 1 << 62


class EventStore:
    """Every stored event, its indexes, retention and the optional ``max_events`` cap."""

    def __init__(
        self, directory: Directory, *, seed: int | None = None, max_events: int | None = None
    ) -> None:
        if max_events is not None and max_events < 0:
            raise ValueError(f"max_events must be None or >= 0, got {max_events!r}")
        self.directory = directory
        #: Events stored now by their id (as an int, see :func:`~.records.guid_int`).
        self.by_id: dict[int, Record] = {}
        self.all = SortedIndex()
        self.by_source: dict[str | None, SortedIndex] = {}
        self.by_type: dict[str, SortedIndex] = {}
        #: At most this many events are kept; the oldest go first (None: no cap).
        self.max_events = max_events
        self.stored_total = 0
        #: Called with the records just stored / just deleted (retention or the cap).
        self.on_stored: list[RecordsListener] = []
        self.on_deleted: list[RecordsListener] = []
        #: Called with every accepted trigger once it is numbered, stored or not (the
        #: WebSocket room pushes events whatever their retention).
        self.on_admitted: list[AdmitListener] = []
        self._seq = 0
        self._rng = Random(seed)
        self._next_expiry = _NEVER  # no stored event expires before this (microseconds)

    def __len__(self) -> int:
        """Events stored now (retention as of the last :meth:`sweep`)."""
        return len(self.by_id)

    @property
    def last_seq(self) -> int:
        """The insertion number of the latest record numbered (0: none yet)."""
        return self._seq

    # ----------------------------------------------------------------- inserting

    def new_uid(self) -> int:
        """A random version-4 GUID as an int (from a seeded generator: fast, not secret)."""
        return self._rng.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET

    def new_uids(self, count: int) -> Guids:
        """``count`` new ids at once (a batch's), from the same generator."""
        return Guids(self._rng, count)

    def admit(self, rec: Record, now_us: int, uid: int | None = None) -> bool:
        """Number a validated record (insertion order, id: ``uid`` or a new one), then
        :meth:`insert` it."""
        self._seq += 1
        rec.key |= self._seq
        rec.uid = self.new_uid() if uid is None else uid
        stored = self.insert(rec, now_us)
        for listener in self.on_admitted:
            listener.on_event(rec)
        return stored

    def needs_record(self, type_id: str) -> bool:
        """Whether an accepted event of this type must be admitted as a record: it may be
        stored, or a listener wants it. Else :meth:`pass_by` numbers it, and that is all."""
        if self.retention_us(type_id) != -1:
            return True
        return any(listener.wants(type_id) for listener in self.on_admitted)

    def pass_by(self, count: int = 1) -> None:
        """Number ``count`` accepted events that :meth:`needs_record` says need no record."""
        self._seq += count

    def retention_us(self, type_id: str) -> int | None:
        """A type's retention in microseconds; -1: never stored; None: kept forever."""
        retention = self.directory.retention.get(type_id)
        if retention is None:
            return None
        return round(retention * 1_000_000) if retention > 0 else -1

    def insert(self, rec: Record, now_us: int) -> bool:
        """Store one record unless its type's retention or the cap says no; True if stored.

        At the cap, a record older than every stored one is not stored (it would be the
        first to go)."""
        retention = self.retention_us(rec.type)
        if retention is not None:
            if retention < 0 or rec.time_us + retention < now_us:
                return False
            self._next_expiry = min(self._next_expiry, rec.time_us + retention)
        if self.max_events is not None and len(self.by_id) >= self.max_events:
            oldest = self.all.oldest()
            if oldest is None or rec.key < oldest.key:
                return False
        self.by_id[rec.uid] = rec
        self.all.add(rec)
        _index(self.by_source, rec.source_guid).add(rec)
        _index(self.by_type, rec.type).add(rec)
        self._stored((rec,))
        return True

    def bulk(self, items: Iterable[Any], now_us: int) -> int:
        """Store many events fast (no validation beyond shape); returns how many were stored
        (those the cap dropped at once included).

        Records are built first, then each index is extended once (and sorted once if the
        times came out of order).
        """
        reader = BulkReader(self.directory, now_us)
        new: list[Record] = []
        next_expiry = self._next_expiry
        for item in items:
            self._seq += 1
            rec = reader.record(item, self._seq, self.new_uid())
            retention = reader.retention
            if retention is not None:
                us = rec.key >> SEQ_BITS
                if retention < 0 or us < now_us - retention:
                    continue
                next_expiry = min(next_expiry, us + retention)
            new.append(rec)
        self._next_expiry = next_expiry
        self._add_many(new)
        return len(new)

    def _add_many(self, new: list[Record]) -> None:
        self.by_id.update((r.uid, r) for r in new)
        self.all.extend(new)
        by_source: dict[str | None, list[Record]] = {}
        by_type: dict[str, list[Record]] = {}
        for rec in new:
            by_source.setdefault(rec.source_guid, []).append(rec)
            by_type.setdefault(rec.type, []).append(rec)
        for guid, recs in by_source.items():
            _index(self.by_source, guid).extend(recs)
        for type_id, recs in by_type.items():
            _index(self.by_type, type_id).extend(recs)
        self._stored(new)

    def _stored(self, recs: Sequence[Record]) -> None:
        self.stored_total += len(recs)
        for listener in self.on_stored:
            listener(recs)
        if self.max_events is not None and len(self.by_id) > self.max_events:
            self._cap(len(self.by_id) - self.max_events)

    def _cap(self, excess: int) -> None:
        """Drop the ``excess`` oldest events, as retention would (listeners hear of them)."""
        due: list[Record] = []
        for _ in range(excess):
            rec = self.all.oldest()
            if rec is None:
                break
            rec.deleted = True
            del self.by_id[rec.uid]
            self.all.drop_oldest(rec)
            self.by_source[rec.source_guid].drop_oldest(rec)
            self.by_type[rec.type].drop_oldest(rec)
            due.append(rec)
        for listener in self.on_deleted:
            listener(due)

    def indexes(self) -> Iterator[SortedIndex]:
        """Every index: the one over all events, then per source, then per type."""
        yield self.all
        yield from self.by_source.values()
        yield from self.by_type.values()

    # ----------------------------------------------------------------- retention

    def sweep(self, now_us: int) -> int:
        """Delete every event whose retention ran out by ``now_us``; returns how many."""
        if now_us <= self._next_expiry:
            return 0
        due: list[Record] = []
        next_expiry = _NEVER
        for type_id, index in self.by_type.items():
            retention = self.retention_us(type_id)
            if retention is None or not index:
                continue
            a = index.head
            b = bisect_left(index.keys, (now_us - retention) << SEQ_BITS, a)
            due.extend(index.recs[a:b])
            if b < len(index.keys):
                next_expiry = min(next_expiry, (index.keys[b] >> SEQ_BITS) + retention)
        self._next_expiry = next_expiry
        for rec in due:
            rec.deleted = True
        self._remove(due)
        return len(due)

    def _remove(self, due: list[Record]) -> None:
        if not due:
            return
        for rec in due:
            del self.by_id[rec.uid]
        if len(due) > 64:
            for index in self.indexes():
                index.purge()
        else:
            for rec in due:
                self.all.remove(rec)
                self.by_source[rec.source_guid].remove(rec)
                self.by_type[rec.type].remove(rec)
        for listener in self.on_deleted:
            listener(due)

    # ----------------------------------------------------------------- reading

    def get(self, event_id: str) -> Record | None:
        """The stored event of a canonical GUID text, if any."""
        uid = guid_int(event_id)
        return None if uid is None else self.by_id.get(uid)

    def list_candidates(self, query: Query) -> list[SortedIndex]:
        """The indexes whose every event passes the source filters and visibility."""
        if query.source_unfiltered:
            return [self.all]
        return [idx for guid, idx in self.by_source.items() if idx and query.source_ok(guid)]

    def page(self, query: Query, desc: bool, page: int, size: int) -> tuple[list[Record], bool]:
        """Page ``page`` of ``size`` events (time and source filters only); True if more."""
        windows = []
        for index in self.list_candidates(query):
            a, b = index.window(query.lo, query.hi)
            if a < b:
                windows.append((index, a, b))
        total = sum(b - a for _, a, b in windows)
        start = page * size
        if start >= total:
            return [], False
        count = min(size, total - start)
        recs = _select(windows, total - start - count if desc else start, count)
        if desc:
            recs.reverse()
        return recs, start + count < total


def _index(table: dict[Any, SortedIndex], key: Any) -> SortedIndex:
    """The index of ``key`` in ``table``, created empty when missing."""
    index = table.get(key)
    if index is None:
        index = table[key] = SortedIndex()
    return index


def _select(windows: list[tuple[SortedIndex, int, int]], start: int, count: int) -> list[Record]:
    """Events ``start .. start+count`` (ascending) of the union of sorted windows.

    One window is a slice. Several: binary search on the key for the ``start``-th smallest
    (each probe is one ``bisect`` per window), then a merge of ``count`` from there.
    """
    if len(windows) == 1:
        index, a, _ = windows[0]
        return index.recs[a + start : a + start + count]

    def below(v: int) -> int:
        return sum(bisect_left(i.keys, v, a, b) - a for i, a, b in windows)

    lo = min(i.keys[a] for i, a, _ in windows)
    hi = max(i.keys[b - 1] for i, _, b in windows) + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if below(mid) > start:
            hi = mid
        else:
            lo = mid + 1
    kth = lo - 1
    slices = []
    for index, a, b in windows:
        p = bisect_left(index.keys, kth, a, b)
        slices.append(index.recs[p : min(b, p + count)])
    return list(islice(heapq.merge(*slices, key=key_of), count))
