"""The event-session poller: server-side sessions as an async iterator of changes.

``async with client.event_session(types=[...]) as session: async for change in session:``
creates a session (``POST /eventSessions``) on entry, reads it (``GET /eventSessions/{id}``)
as the consumer asks for changes, and deletes it (``DELETE /eventSessions/{id}``) on every
exit: normal end, ``break``, an exception, or cancellation (the delete is bounded in time,
shielded from a second cancellation, and its failure is logged, never raised over the
original exception). A create cut short by cancellation (on entry, or when resuming) is
waited for in the same bounded, shielded way, and the session it made is deleted: the
server may create it whether or not anyone waits. Only a create whose answer never comes
(a timeout) can leave a session behind, until the server drops it as idle.

Delivery guarantee (``order="asc"``, the default): every matching event is yielded exactly
once, in time order, also across the server dropping an idle session, a server restart, an
expired token or a failed read. The position advances only when :meth:`__anext__` hands an
event to the consumer; one page is buffered at a time and yielded item by item.

Pacing: a read that returns a full page (``max_size`` new events) is followed by the next
read at once, so a backlog drains at full speed; after a shorter page the next read waits
until ``poll_interval`` has passed since the previous one.

Recovery: a read that fails for a transient reason (connection error, 5xx, 429) or that the
server answers with 404 (the session was dropped or lost in a restart) ends that session.
It is *not* read again, because the server may already have counted the events of the
failed read as returned. A new session is created with the same filters plus
``time gt (last delivered time - 10 ms)`` (event times are accurate to 10 ms [seed]), and the
ids delivered in the last 20 ms are remembered so that the events the new session returns
again are dropped: events that share the last delivered time are neither lost nor
repeated, and events the old session buffered but never returned come through the new
one. Transient failures back off (exponential, jittered, capped by the client's
:class:`~xprotect_events.transport.RetryPolicy`), and the backoff resets after a good
read; a first 404 is resumed at once. Errors that retrying cannot fix (400, 403, a second
401, a malformed answer) are raised to the consumer; the session is then marked lost, so
iterating again resumes from the same position.

Limits: the resume point is a time. An event more than 10 ms older than the last delivered
one (a late trigger with an explicit old ``time``) that is stored between the lost
session's last read and the new session is not seen. ``deleted`` changes come only for
events in the current session's view: after a recovery, the deletions the lost session had
not yet reported, and those of events delivered before the resume point, do not come.
``order="desc"`` has no resume point by time (the backlog comes newest first, live events
after it), so a ``desc`` stream is not resumed: a lost session or a failed read raises
:class:`SessionLostError`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from . import wire
from .errors import (
    APIError,
    InvalidInputError,
    NotFoundError,
    ProtocolError,
    SessionLostError,
    TLSError,
    TransportError,
    XProtectError,
    shown,
)
from .filters import SessionFilter, SessionOrder
from .models import Event, SessionChange, SessionRead, to_source, to_uuid

if TYPE_CHECKING:
    from .client import XProtectClient
    from .transport import Response

log = logging.getLogger("xprotect_events.sessions")

#: Event times are accurate to 10 ms [seed]: a resumed session starts this much earlier.
ACCURACY = timedelta(milliseconds=10)
#: Ids delivered this close to the newest delivered time are remembered for deduplication.
DEDUP_WINDOW = 2 * ACCURACY
#: Longest wait for the best-effort delete of a session abandoned during recovery.
DISCARD_TIMEOUT = 1.0

Order = Literal["asc", "desc"]
_NOTHING: Iterator[Event] = iter(())


class Cursor:
    """The resume point: the newest delivered event time and the ids delivered near it."""

    def __init__(self, since: datetime | None) -> None:
        self.since = since
        self.last: datetime | None = None
        self._recent: dict[uuid.UUID, datetime] = {}

    def __len__(self) -> int:
        """How many delivered ids are remembered (stays small: the last 20 ms)."""
        return len(self._recent)

    def seen(self, event: Event) -> bool:
        """Whether this event was delivered lately (a repeat from a resumed session)."""
        return event.id in self._recent

    def unseen(self, events: list[Event]) -> list[Event]:
        """``events`` without the ones delivered lately."""
        recent = self._recent
        return [e for e in events if e.id not in recent] if recent else events

    def advance(self, events: Sequence[Event]) -> None:
        """Record that ``events`` were handed to the consumer."""
        if not events:
            return
        newest = max(e.time for e in events)
        last = self.last
        if last is None or newest > last:
            self.last = last = newest
            cutoff = last - DEDUP_WINDOW
            self._recent = {i: t for i, t in self._recent.items() if t >= cutoff}
        cutoff = last - DEDUP_WINDOW
        recent = self._recent
        for event in events:
            if event.time >= cutoff:
                recent[event.id] = event.time

    def resume_after(self) -> datetime | None:
        """The ``time gt`` bound of a resumed session (None: no time bound)."""
        if self.last is None:
            return self.since
        start = self.last - ACCURACY
        return start if self.since is None or start > self.since else self.since


class Backoff:
    """Exponential backoff with jitter, capped; :meth:`reset` after a success."""

    def __init__(self, initial: float, cap: float) -> None:
        self.initial = initial
        self.cap = cap
        self.failures = 0

    def reset(self) -> None:
        self.failures = 0

    def next_delay(self, retry_after: float | None = None) -> float:
        """The wait before the next attempt: half fixed, half random; at least Retry-After."""
        step = min(self.cap, self.initial * 2.0 ** min(self.failures, 32))
        self.failures += 1
        delay = step / 2 + random.uniform(0, step / 2)
        return max(delay, retry_after) if retry_after is not None else delay


class EventSession:
    """``async with client.event_session(...) as session: async for change in session``.

    The options are checked here, before anything is sent (:class:`InvalidInputError`).
    ``id`` is the current server-side session id; ``recoveries`` counts the sessions
    created to resume after a lost one. ``close_timeout`` bounds the delete on exit.
    """

    def __init__(
        self,
        client: XProtectClient,
        *,
        types: Iterable[uuid.UUID | str] | None,
        sources: Iterable[uuid.UUID | str] | None,
        source_names: Iterable[str] | None,
        filters: Iterable[SessionFilter] | None,
        since: datetime | None,
        order: Literal["asc", "desc"],
        include_data: bool,
        max_size: int,
        poll_interval: float,
        close_timeout: float = 5.0,
    ) -> None:
        self._client = client
        self._filters = _base_filters(types, sources, source_names, filters)
        self._order: Order = _check_order(order)
        self._max_size = _check_max_size(max_size, client.profile.max_session_read)
        self._params = _read_params(max_size, include_data)
        self._poll_interval = _check_seconds("poll_interval", poll_interval)
        self._close_timeout = _check_seconds("close_timeout", close_timeout)
        self._cursor = Cursor(_check_since(since))
        policy = client.transport.retry
        self._backoff = Backoff(policy.backoff_initial, policy.backoff_max)
        self.id: str | None = None
        self.recoveries = 0
        self._state: Literal["new", "open", "closed"] = "new"
        self._stale: str | None = None
        self._page: list[Event] = []  # the new events of the last read, handed out in order
        self._taken = 0  # how many of them the consumer has taken
        self._deleted: Iterator[Event] = _NOTHING
        self._repeats_until: datetime | None = None
        self._next_read = 0.0
        self._busy = False

    def __repr__(self) -> str:
        return f"<EventSession {self._state} id={self.id} order={self._order}>"

    @property
    def position(self) -> datetime | None:
        """The time of the newest event delivered so far (None before the first)."""
        times = [e.time for e in self._page[: self._taken]]
        if self._cursor.last is not None:
            times.append(self._cursor.last)
        return max(times, default=None)

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> EventSession:
        if self._state != "new":
            raise RuntimeError("an EventSession can be entered only once")
        self.id = await self._create()
        self._state = "open"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Delete the server-side session (bounded in time; failures are only logged).

        ``async with`` calls this on exit. Another task may call it to stop a consumer:
        the consumer's ``async for`` then ends after the changes already buffered.
        """
        self._state = "closed"
        ids = [i for i in (self.id, self._stale) if i is not None]
        self.id = self._stale = None
        self._page, self._taken, self._deleted = [], 0, _NOTHING
        if ids:
            await _finish_even_if_cancelled(self._discard_all(ids))

    async def _discard_all(self, ids: list[str]) -> None:
        for session_id in ids:
            await self._discard(session_id, self._close_timeout)

    async def _discard(self, session_id: str, seconds: float) -> None:
        path = f"/eventSessions/{session_id}"
        try:
            async with asyncio.timeout(seconds):
                await self._client.request("DELETE", path)
        except NotFoundError:
            pass  # already gone: dropped as idle or lost in a restart
        except Exception as exc:  # cleanup never masks what the consumer is handling
            log.warning("could not delete event session %s: %s", session_id, _describe(exc))

    # ------------------------------------------------------------------ iteration

    def __aiter__(self) -> AsyncIterator[SessionChange]:
        return self

    async def __anext__(self) -> SessionChange:
        if self._state != "open":
            if self._state == "closed":
                raise StopAsyncIteration
            raise RuntimeError("enter the session first: 'async with client.event_session(…)'")
        while True:
            taken = self._taken
            if taken < len(self._page):
                self._taken = taken + 1
                return SessionChange(kind="new", event=self._page[taken])
            for event in self._deleted:
                return SessionChange(kind="deleted", event=event)
            await self._fill()

    async def _fill(self) -> None:
        """Read the next page into the buffer, pacing reads by ``poll_interval``.

        Called only once the consumer has taken every buffered change: the whole page
        moves the cursor here, in one step rather than one per event.
        """
        if self._busy:
            raise RuntimeError("another task is already reading this event session")
        self._busy = True
        self._cursor.advance(self._page)
        self._page, self._taken = [], 0
        try:
            loop = asyncio.get_running_loop()
            wait = self._next_read - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            read = await self._read()
            full = len(read.new_events) >= self._max_size
            self._next_read = 0.0 if full else loop.time() + self._poll_interval
            self._page = self._without_repeats(read.new_events)
            self._deleted = iter(read.deleted_events)
        finally:
            self._busy = False

    def _without_repeats(self, events: list[Event]) -> list[Event]:
        """Drop what a resumed session returns again; it does so only before newer events."""
        until = self._repeats_until
        if until is None:
            return events
        if any(e.time > until for e in events):
            self._repeats_until = None
        return self._cursor.unseen(events)

    async def _read(self) -> SessionRead:
        """One read, recovering (new session, same position) from what recovery can fix."""
        while True:
            if self._state == "closed":  # closed by another task meanwhile: no new session
                raise StopAsyncIteration
            # A 404 means "dropped or lost" only on a read; on the create it means the
            # server has no event sessions. So this is set once the create is behind us,
            # also when the session was created just now by _reopen.
            reading = False
            try:
                session_id = self.id or await self._reopen()
                reading = True
                read = await self._get(session_id)
            except XProtectError as exc:
                self._abandon(stale=not isinstance(exc, NotFoundError))
                if not _recoverable(exc, reading):
                    raise
                if self._order == "desc":
                    raise SessionLostError(
                        f"the event session (order='desc') was lost and cannot be resumed: {exc}"
                    ) from exc
                await self._pause(exc, immediate=reading and isinstance(exc, NotFoundError))
                continue
            except asyncio.CancelledError:
                # Cancelled mid-read (e.g. asyncio.timeout around anext): the server may
                # have counted the page as returned, so a later read resumes elsewhere.
                self._abandon(stale=True)
                raise
            self._backoff.reset()
            return read

    def _abandon(self, *, stale: bool) -> None:
        """Stop using the current session; a stale one is deleted before the next is made."""
        if self.id is not None and stale:
            self._stale = self.id
        self.id = None

    async def _pause(self, exc: XProtectError, *, immediate: bool) -> None:
        if immediate and self._backoff.failures == 0:
            self._backoff.failures = 1
            log.info("event session lost (%s); resuming after %s", exc, self._cursor.last)
            return
        delay = self._backoff.next_delay(getattr(exc, "retry_after", None))
        log.warning("event session read failed (%s); resuming in %.2f s", exc, delay)
        await asyncio.sleep(delay)

    async def _reopen(self) -> str:
        stale, self._stale = self._stale, None
        if stale is not None:
            await self._discard(stale, min(DISCARD_TIMEOUT, self._close_timeout))
        session_id = await self._create()
        self.id = session_id
        self.recoveries += 1
        self._repeats_until = self._cursor.last
        return session_id

    # ------------------------------------------------------------------ the wire

    async def _create(self) -> str:
        body = {
            "filterBy": [f.to_wire() for f in self._filter_by()],
            "orderBy": [SessionOrder("time", self._order).to_wire()],
        }
        # Retried like a GET: a create that happened twice leaves only an unused session,
        # which the server drops when idle; no event happens twice.
        creating = asyncio.ensure_future(
            self._client.request("POST", "/eventSessions", json=body, retry="safe")
        )
        try:
            response = await asyncio.shield(creating)
        except asyncio.CancelledError:
            # The POST may have reached the server, which then creates the session whether
            # or not we wait: wait for its answer (bounded) and delete what it made.
            await _finish_even_if_cancelled(self._forget(creating))
            raise
        return self._client.decode(response, _session_id, "POST", "/eventSessions")

    async def _forget(self, creating: asyncio.Future[Response]) -> None:
        """Delete the session a create abandoned by cancellation made, if it made one."""
        try:
            async with asyncio.timeout(self._close_timeout):
                response = await creating
            session_id = self._client.decode(response, _session_id, "POST", "/eventSessions")
        except Exception as exc:  # it failed, or took too long: nothing we know to delete
            log.info("an event session create abandoned on cancellation: %s", _describe(exc))
            return
        await self._discard(session_id, self._close_timeout)

    def _filter_by(self) -> list[SessionFilter]:
        start = self._cursor.resume_after()
        if start is None:
            return self._filters
        return [*self._filters, SessionFilter("time", "gt", start)]

    async def _get(self, session_id: str) -> SessionRead:
        # "unsent": a read that may have reached the server is never resent on the same
        # session (the server may have counted its events as returned); _read resumes.
        path = f"/eventSessions/{session_id}"
        response = await self._client.request("GET", path, params=self._params, retry="unsent")
        return self._client.decode(response, wire.session_read_from_wire, "GET", path)


# ---------------------------------------------------------------------- helpers


async def _finish_even_if_cancelled(cleanup: Coroutine[Any, Any, None]) -> None:
    """Run ``cleanup`` to its end even if the caller is cancelled meanwhile, then re-raise."""
    task = asyncio.ensure_future(cleanup)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])  # bounded: the cleanup has its own timeout
        raise


def _recoverable(exc: XProtectError, reading: bool) -> bool:
    """Whether a new session can fix this: a lost session, or a transient failure."""
    if isinstance(exc, NotFoundError):
        return reading  # a 404 on create means the server has no event sessions at all
    if isinstance(exc, TLSError):
        return False
    if isinstance(exc, TransportError):
        return True
    return isinstance(exc, APIError) and (exc.status >= 500 or exc.status == 429)


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, XProtectError) else repr(exc)


def _session_id(body: Any) -> str:
    value = wire.member(body, "id", str)
    try:
        uuid.UUID(value)
    except ValueError:
        raise ProtocolError(f"the session id is not a GUID: {value!r}") from None
    return value


def _read_params(max_size: int, include_data: bool) -> dict[str, str]:
    if not isinstance(include_data, bool):
        raise InvalidInputError(f"include_data must be True or False, got {shown(include_data)}")
    params = {"maxSize": str(max_size)}
    if include_data:
        params["include"] = "data"
    return params


def _check_max_size(max_size: int, most: int) -> int:
    if isinstance(max_size, bool) or not isinstance(max_size, int) or not 1 <= max_size <= most:
        raise InvalidInputError(f"max_size must be 1 to {most}, got {shown(max_size)}")
    return max_size


def _check_seconds(name: str, value: float) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not 0 < value < 1e300:  # not isfinite(): an int too large for a float
        raise InvalidInputError(f"{name} must be a number of seconds > 0, got {shown(value)}")
    return float(value)


def _check_order(order: str) -> Order:
    if order == "asc":
        return "asc"
    if order == "desc":
        return "desc"
    raise InvalidInputError(f"order must be 'asc' or 'desc', got {shown(order)}")


def _check_since(since: datetime | None) -> datetime | None:
    if since is None:
        return None
    if not isinstance(since, datetime) or since.utcoffset() is None:
        raise InvalidInputError(f"since must be a timezone-aware datetime, got {shown(since)}")
    return since


def _base_filters(
    types: Iterable[uuid.UUID | str] | None,
    sources: Iterable[uuid.UUID | str] | None,
    source_names: Iterable[str] | None,
    filters: Iterable[SessionFilter] | None,
) -> list[SessionFilter]:
    out: list[SessionFilter] = []
    if types is not None:
        out.append(_any_of("type", [str(to_uuid(t, "type")) for t in _items(types, "types")]))
    if sources is not None:
        out.append(_any_of("source.id", [_source(s) for s in _items(sources, "sources")]))
    if source_names is not None:
        names = [_name(n) for n in _items(source_names, "source_names")]
        out.append(_any_of("source.name", names))
    for item in _items(filters or (), "filters"):
        if not isinstance(item, SessionFilter):
            raise InvalidInputError(f"filters must be SessionFilter objects, got {shown(item)}")
        out.append(item)
    return out


def _items(values: Iterable[Any], what: str) -> list[Any]:
    """A list from an iterable; a single string or UUID counts as a list of one."""
    if isinstance(values, str | uuid.UUID):
        return [values]
    try:
        return list(values)
    except TypeError:
        raise InvalidInputError(f"{what} must be a list, got {shown(values)}") from None


def _any_of(prop: str, values: list[str]) -> SessionFilter:
    if not values:
        raise InvalidInputError(f"an empty list of {prop!r} values matches nothing")
    if len(values) == 1:
        return SessionFilter(prop, "equals", values[0])
    return SessionFilter(prop, "oneOf", values)


def _source(value: object) -> str:
    source = to_source(value)
    if source is None:
        raise InvalidInputError("a source must be a GUID or 'cameras/<guid>', got None")
    return source


def _name(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"a source name must be a non-empty string, got {shown(value)}")
    return value
