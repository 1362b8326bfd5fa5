"""The event store: every stored event, its indexes, retention and paged listings.

Pure Python (no aiohttp). Built to stay fast with a million stored events:

- every index is a :class:`~.records.SortedIndex` (parallel ``keys``/``recs`` lists sorted
  by key: time order, ties in insertion order);
- one index over all events, one per source GUID, one per event type; a listing narrows the
  time range with ``bisect`` and picks page ``p`` of several source indexes with a k-th
  element search, never a scan from the start;
- retention deletes lazily: a heap of expiry times, checked on each request (one comparison
  when nothing is due).

Listeners (:attr:`EventStore.on_stored`, :attr:`EventStore.on_deleted`) hear of every event
stored and every event retention deleted, in batches, after the indexes are updated: the
server-side event sessions keep their logs that way.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from random import Random
from typing import Any

from .directory import Directory
from .query import Query
from .records import SEQ_BITS, Record, SortedIndex, key_of
from .triggers import BulkReader

#: Hears of records stored, or deleted, in one go.
RecordsListener = Callable[[Sequence[Record]], None]

_UUID4_CLEAR = ~(0xF << 76 | 0xC << 60)
_UUID4_SET = 4 << 76 | 8 << 60


class EventStore:
    """Every stored event, its indexes and retention."""

    def __init__(self, directory: Directory, *, seed: int | None = None) -> None:
        self.directory = directory
        self.by_id: dict[str, Record] = {}
        self.all = SortedIndex()
        self.by_source: dict[str | None, SortedIndex] = {}
        self.by_type: dict[str, SortedIndex] = {}
        self.stored_total = 0
        #: Called with the records just stored / just deleted by retention.
        self.on_stored: list[RecordsListener] = []
        self.on_deleted: list[RecordsListener] = []
        #: Called with every accepted trigger once it is numbered, stored or not (the
        #: WebSocket room pushes events whatever their retention).
        self.on_admitted: list[Callable[[Record], None]] = []
        self._seq = 0
        self._rng = Random(seed)
        self._expiry: list[tuple[int, int, Record]] = []

    def __len__(self) -> int:
        """Events stored now (retention as of the last :meth:`sweep`)."""
        return len(self.by_id)

    @property
    def last_seq(self) -> int:
        """The insertion number of the latest record numbered (0: none yet)."""
        return self._seq

    # ----------------------------------------------------------------- inserting

    def _new_id(self) -> str:
        """A random version-4 GUID string (from a seeded generator: fast, not secret)."""
        h = "%032x" % (self._rng.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def admit(self, rec: Record, now_us: int) -> bool:
        """Number a validated record (insertion order, id), then :meth:`insert` it."""
        self._seq += 1
        rec.key |= self._seq
        rec.id = self._new_id()
        stored = self.insert(rec, now_us)
        for listener in self.on_admitted:
            listener(rec)
        return stored

    def _expiry_us(self, rec: Record) -> int | None:
        """When the record is due for deletion; -1: never stored; None: kept forever."""
        retention = self.directory.retention[rec.type]
        if retention is None:
            return None
        if retention <= 0:
            return -1
        return (rec.key >> SEQ_BITS) + round(retention * 1_000_000)

    def insert(self, rec: Record, now_us: int) -> bool:
        """Store one record unless its type's retention says no [profile]; True if stored."""
        expiry = self._expiry_us(rec)
        if expiry is not None and expiry < now_us:
            return False
        self.by_id[rec.id] = rec
        self.all.add(rec)
        _index(self.by_source, rec.source_guid).add(rec)
        _index(self.by_type, rec.type).add(rec)
        if expiry is not None:
            heapq.heappush(self._expiry, (expiry, rec.seq, rec))
        self._stored((rec,))
        return True

    def bulk(self, items: Iterable[Any], now_us: int) -> int:
        """Store many events fast (no validation beyond shape); returns how many were stored.

        Records are built first, then each index is extended once (and sorted once if the
        times came out of order).
        """
        reader = BulkReader(self.directory, now_us)
        new: list[Record] = []
        expiring: list[tuple[int, int, Record]] = []
        for item in items:
            self._seq += 1
            rec = reader.record(item, self._seq, self._new_id())
            retention = reader.retention
            if retention is not None:
                us = rec.key >> SEQ_BITS
                if retention < 0 or us < now_us - retention:
                    continue
                expiring.append((us + retention, self._seq, rec))
            new.append(rec)
        self._add_many(new, expiring)
        return len(new)

    def _add_many(self, new: list[Record], expiring: list[tuple[int, int, Record]]) -> None:
        self.by_id.update((r.id, r) for r in new)
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
        if len(expiring) * 8 > len(self._expiry):
            self._expiry.extend(expiring)
            heapq.heapify(self._expiry)
        else:
            for entry in expiring:
                heapq.heappush(self._expiry, entry)
        self._stored(new)

    def _stored(self, recs: Sequence[Record]) -> None:
        self.stored_total += len(recs)
        for listener in self.on_stored:
            listener(recs)

    def indexes(self) -> Iterator[SortedIndex]:
        """Every index: the one over all events, then per source, then per type."""
        yield self.all
        yield from self.by_source.values()
        yield from self.by_type.values()

    # ----------------------------------------------------------------- retention

    def sweep(self, now_us: int) -> int:
        """Delete every event whose retention ran out by ``now_us``; returns how many."""
        heap = self._expiry
        if not heap or heap[0][0] >= now_us:
            return 0
        due: list[Record] = []
        while heap and heap[0][0] < now_us:
            rec = heapq.heappop(heap)[2]
            if not rec.deleted:
                rec.deleted = True
                due.append(rec)
        self._remove(due)
        return len(due)

    def _remove(self, due: list[Record]) -> None:
        for rec in due:
            del self.by_id[rec.id]
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
        return self.by_id.get(event_id)

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

    # ----------------------------------------------------------------- sessions


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
