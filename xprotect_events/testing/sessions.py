"""Server-side event sessions (``/eventSessions``): :class:`ServerSession`, one live view over
the stored events matching a query, and :class:`SessionTable`, every session of a server.

A session read costs what it returns (plus the events that arrived since its last read): the
table keeps an insertion log and a deletion log (fed by the store's listeners, and only while
sessions exist), trimmed once every session has read past their start. A log grown long
while nobody reads first drops the idle sessions (with a clock): an abandoned session does
not keep every later event alive, the ones ``max_events`` deleted included.
"""

from __future__ import annotations

import heapq
import uuid
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import attrs

from .query import Query
from .records import SEQ_MASK, Record, SortedIndex, key_of, seq_of
from .store import EventStore

#: A log longer than this is trimmed when every session has read past its first half.
_TRIM_AT = 65536


def _no_backlog(session: ServerSession) -> bool:
    return not session.candidates


def _snap(session: ServerSession) -> int:
    return session.snap


@attrs.define(eq=False)
class ServerSession:
    """A live view over the stored events matching a query, for one identity.

    Events with ``seq <= snap`` (stored when it was created) are its backlog, walked in
    order from ``cursor``; later events are read from the table's insertion log from
    ``live_seq``. That split makes "no event twice" hold by construction.
    """

    id: str
    owner: str
    query: Query = attrs.field(repr=False)
    desc: bool
    echo: dict[str, Any] = attrs.field(repr=False)
    snap: int
    candidates: list[SortedIndex] = attrs.field(repr=False)
    del_pos: int
    last_read: int
    cursor: int | None = None
    backlog_done: bool = attrs.field(default=attrs.Factory(_no_backlog, takes_self=True))
    live_seq: int = attrs.field(default=attrs.Factory(_snap, takes_self=True))

    def returned(self, rec: Record) -> bool:
        """Whether an earlier read of this session returned ``rec``."""
        if not self.query.match(rec):
            return False
        if rec.seq > self.snap:
            return rec.seq <= self.live_seq
        if self.backlog_done:
            return True
        if self.cursor is None:
            return False
        return rec.key >= self.cursor if self.desc else rec.key <= self.cursor


class SessionTable:
    """Every event session over one :class:`~.store.EventStore`, by id.

    Sessions not read for ``idle_timeout`` seconds are dropped [profile: the length],
    lazily, whenever the table is asked.
    """

    def __init__(
        self,
        store: EventStore,
        *,
        idle_timeout: float = 60.0,
        now_us: Callable[[], int] | None = None,
    ) -> None:
        self.store = store
        self.idle_us = round(idle_timeout * 1_000_000)
        self._now_us = now_us
        self._collect_at = _TRIM_AT
        self.by_id: dict[str, ServerSession] = {}
        self._log: list[Record] = []  # insertion log, kept only while sessions exist
        self._deleted: list[Record] = []  # deletion log, idem
        self._deleted_base = 0
        store.on_stored.append(self._stored)
        store.on_deleted.append(self._removed)

    def __len__(self) -> int:
        """Sessions held (as of the last :meth:`expire`)."""
        return len(self.by_id)

    def _stored(self, recs: Sequence[Record]) -> None:
        if self.by_id:
            self._log.extend(recs)
            if len(self._log) + len(self._deleted) > self._collect_at:
                self._collect()

    def _removed(self, recs: Sequence[Record]) -> None:
        if self.by_id:
            self._deleted.extend(recs)
            if len(self._log) + len(self._deleted) > self._collect_at:
                self._collect()

    def _collect(self) -> None:
        """Logs grown long while no read trims them: drop the idle sessions, then what no
        session still needs (all of it when none is left). Next time at twice what is left
        (at least ``_TRIM_AT``): a session that keeps them long costs O(1) an event."""
        if self._now_us is not None:
            self.expire(self._now_us())
        if self.by_id:
            self._trim_logs()
        else:
            self._log.clear()
            self._deleted.clear()
            self._deleted_base = 0
        self._collect_at = max(_TRIM_AT, 2 * (len(self._log) + len(self._deleted)))

    # ----------------------------------------------------------------- the table

    def create(
        self, owner: str, query: Query, desc: bool, echo: dict[str, Any], now_us: int
    ) -> ServerSession:
        """A new session of ``owner`` whose backlog is every matching event stored now."""
        self.expire(now_us)
        if not self.by_id:
            self._log.clear()
            self._deleted.clear()
            self._deleted_base = 0
        session = ServerSession(
            id=str(uuid.uuid4()),
            owner=owner,
            query=query,
            desc=desc,
            echo=echo,
            snap=self.store.last_seq,
            candidates=self._candidates(query),
            del_pos=self._deleted_base + len(self._deleted),
            last_read=now_us,
        )
        self.by_id[session.id] = session
        return session

    def _candidates(self, query: Query) -> list[SortedIndex]:
        """The fewest non-empty indexes that hold every event the query may match."""
        by_source = [i for i in self.store.list_candidates(query) if i]
        if query.type_keys is None:
            return by_source
        by_type = [self.store.by_type[t] for t in query.type_keys if self.store.by_type.get(t)]
        if sum(map(len, by_type)) < sum(map(len, by_source)):
            return by_type
        return by_source

    def find(self, session_id: str, owner: str, now_us: int) -> ServerSession | None:
        """The session if it exists, is not idle too long and belongs to ``owner``."""
        self.expire(now_us)
        session = self.by_id.get(session_id)
        return session if session is not None and session.owner == owner else None

    def delete(self, session_id: str) -> None:
        self.by_id.pop(session_id, None)

    def drop_all(self) -> None:
        """Every session is gone (a restart, or the ``drop_session`` fault)."""
        self.by_id.clear()

    def expire(self, now_us: int) -> None:
        """Drop the sessions not read for the idle timeout."""
        limit = now_us - self.idle_us
        for sid in [s.id for s in self.by_id.values() if s.last_read < limit]:
            del self.by_id[sid]

    # ----------------------------------------------------------------- reading

    def read(
        self, session: ServerSession, max_size: int, now_us: int
    ) -> tuple[list[Record], list[Record]]:
        """``(new, deleted)`` since the previous read, at most ``max_size`` new ones."""
        session.last_read = now_us
        deleted = self._deleted_since(session)
        new = [] if session.backlog_done else _backlog(session, max_size)
        if len(new) < max_size:
            live = self._live(session, max_size - len(new))
            live.sort(key=key_of, reverse=session.desc)
            new.extend(live)
        self._trim_logs()
        return new, deleted

    def _deleted_since(self, session: ServerSession) -> list[Record]:
        pending = self._deleted[session.del_pos - self._deleted_base :]
        session.del_pos = self._deleted_base + len(self._deleted)
        return [rec for rec in pending if session.returned(rec)]

    def _live(self, session: ServerSession, limit: int) -> list[Record]:
        log = self._log
        start = bisect_right(log, session.live_seq, key=seq_of)
        out: list[Record] = []
        for i in range(start, len(log)):
            rec = log[i]
            session.live_seq = rec.key & SEQ_MASK
            if not rec.deleted and session.query.match(rec):
                out.append(rec)
                if len(out) == limit:
                    break
        return out

    def _trim_logs(self) -> None:
        if len(self._log) > _TRIM_AT:
            low = min(s.live_seq for s in self.by_id.values())
            cut = bisect_right(self._log, low, key=seq_of)
            if cut > len(self._log) // 2:
                del self._log[:cut]
        if len(self._deleted) > _TRIM_AT:
            cut = min(s.del_pos for s in self.by_id.values()) - self._deleted_base
            if cut > len(self._deleted) // 2:
                del self._deleted[:cut]
                self._deleted_base += cut


def _backlog(session: ServerSession, limit: int) -> list[Record]:
    """The next ``limit`` backlog events of ``session``; marks the backlog done at its end."""
    query = session.query
    streams = [_walk(i, query, session.cursor, session.desc) for i in session.candidates]
    merged: Iterable[Record] = (
        streams[0] if len(streams) == 1 else heapq.merge(*streams, key=key_of, reverse=session.desc)
    )
    out: list[Record] = []
    for rec in merged:
        if rec.key & SEQ_MASK <= session.snap and query.match(rec):
            out.append(rec)
            if len(out) == limit:
                session.cursor = rec.key
                return out
    session.backlog_done = True
    return out


def _walk(index: SortedIndex, query: Query, cursor: int | None, desc: bool) -> Iterator[Record]:
    """The records of ``index`` after ``cursor`` in the walk's direction, within the time
    window of ``query``."""
    a, b = index.window(query.lo, query.hi)
    recs = index.recs
    if desc:
        if cursor is not None:
            b = min(b, bisect_left(index.keys, cursor))
        return (recs[i] for i in range(b - 1, a - 1, -1))
    if cursor is not None:
        a = max(a, bisect_right(index.keys, cursor))
    return (recs[i] for i in range(a, b))
