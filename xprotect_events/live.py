"""Live events over the Events and State WebSocket API: ``client.subscribe(...)``.

``async with client.subscribe(types=[...]) as live:`` connects, starts a session and
subscribes before it returns; ``async for item in live`` yields each :class:`Event` as the
server pushes it (and a :class:`Gap` where events may be missing); ``await live.state()``
reads the current state of the stateful sources the subscriptions match (``getState``).

Resume: when the connection drops (a network failure, the gateway's daily recycle), the
stream reconnects with backoff from the client's :class:`RetryPolicy` (the token is renewed
first when it is due, and once more if the upgrade is refused with 401), then
``startSession`` with the session id and the id of the last event received. ``200``: the
server sends what was missed. ``201`` (the resume failed): the subscriptions are made
again, the events stored between the last delivered event and now are fetched from the
REST store (``list_events``, filtered like the subscriptions) and delivered before the new
live ones; after a ``state()`` call the state is read again and the state changes the gap
hid are delivered too. What the store cannot have (types not in ``stored_types``) is
reported as a :class:`Gap` on the stream, to ``on_gap`` and as a WARNING. Events are
de-duplicated by id: nothing is delivered twice.

Back-pressure: at most ``buffer`` items wait for the consumer; while full, the socket is
not read (TCP back-pressure reaches the server; a connection it then drops is resumed).
See :mod:`.live_buffer` for the one exception (a command waiting) and its bound.

Every exit of ``async with`` (the end, ``break``, an exception, cancellation) closes the
socket cleanly (close code 1000) and stops the reader.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Literal

import aiohttp
import attrs
from yarl import URL

from . import ws_wire
from .errors import (
    InvalidInputError,
    ProtocolError,
    TransportError,
    XProtectError,
    shown,
)
from .live_buffer import Buffer, Item, SlowConsumerError
from .live_conn import Connection, SocketOptions, TokenSource, cannot_retry, connect, ws_url
from .models import Event
from .policy import RetryPolicy
from .profile import Profile
from .ws_wire import Gap, Rule

log = logging.getLogger("xprotect_events.live")

#: Event times are accurate to 10 ms [seed]: a gap is filled from this much earlier.
ACCURACY = timedelta(milliseconds=10)

#: A connection that ends sooner than this after it opened backs the next one off.
_SHORT_LIVED = 1.0

ListStored = Callable[[datetime], AsyncIterator[Event]]
StoredTypes = Iterable[uuid.UUID | str] | Literal["all"] | None


@attrs.frozen(kw_only=True)
class LiveLink:
    """What a live stream needs of the client, and nothing more."""

    session: Callable[[], aiohttp.ClientSession]
    server_url: URL
    tokens: TokenSource
    retry: RetryPolicy
    profile: Profile
    ssl: ssl.SSLContext | bool
    #: Stored events after a time (aware), oldest first, with their data: the gap filler.
    list_stored: ListStored
    connect_timeout: float = 10.0


def _stored(value: StoredTypes) -> frozenset[uuid.UUID] | Literal["all"] | None:
    if value is None or value == "all":
        return value
    rule = Rule.include(types=value)  # checks the GUIDs
    return frozenset(rule.types or ())


class LiveStream:
    """The stream of one WebSocket session (see the module docstring)."""

    def __init__(
        self,
        link: LiveLink,
        rules: tuple[Rule, ...],
        *,
        buffer: int = 10_000,
        stored_types: StoredTypes = None,
        on_gap: Callable[[Gap], None] | None = None,
        max_frame_size: int | None = None,
    ) -> None:
        frame = link.profile.ws_max_frame if max_frame_size is None else max_frame_size
        for name, value in (("buffer", buffer), ("max_frame_size", frame)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInputError(f"{name} must be an int >= 1, got {shown(value)}")
        if on_gap is not None and not callable(on_gap):
            raise InvalidInputError(f"on_gap must be callable, got {shown(on_gap)}")
        self._link = link
        self._subs: dict[int, tuple[Rule, ...]] = {0: rules}
        self._sub_ids: dict[int, str] = {}
        self._buffer = Buffer(buffer)
        self._stored = _stored(stored_types)
        self._on_gap = on_gap
        self._max_frame = frame
        self._live = asyncio.Event()
        self._recent = ws_wire.RecentIds()
        self._hold: list[Event] | None = None
        self._conn: Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._error: XProtectError | None = None
        self._closed = False
        self._state_used = False
        self._started_at = datetime.now(UTC)
        self._last_id: uuid.UUID | None = None
        #: The server's session id (changes when a resume fails).
        self.session_id: str | None = None
        #: Connections made after the first, sessions resumed (200), gaps reported.
        self.reconnects = 0
        self.resumes = 0
        self.gaps: list[Gap] = []

    def __repr__(self) -> str:
        state = "closed" if self._closed else "live" if self._live.is_set() else "connecting"
        return f"<LiveStream {state} session={self.session_id} buffered={len(self._buffer)}>"

    @property
    def buffered(self) -> int:
        """Items waiting for the consumer."""
        return len(self._buffer)

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> LiveStream:
        if self._task is not None:
            raise RuntimeError("a LiveStream is entered once")
        self._task = asyncio.create_task(self._run(), name="xprotect-live")
        try:
            await self._connection()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the socket and stop; iterating then ends. Safe to call twice."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
        try:
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
        finally:
            conn, self._conn = self._conn, None
            if conn is not None:
                await asyncio.shield(conn.close())
            self._wake()

    def _wake(self) -> None:
        self._buffer.closed = self._closed
        self._buffer.wake()
        self._live.set()

    # ----------------------------------------------------------------- consuming

    def __aiter__(self) -> LiveStream:
        return self

    async def __anext__(self) -> Item:
        while (item := self._buffer.pop()) is None:
            if self._error is not None:
                raise self._error
            if self._closed:
                raise StopAsyncIteration
            await self._buffer.readable()
        return item

    # ----------------------------------------------------------------- commands

    async def state(self) -> list[Event]:
        """``getState``: the current stateful event of every source and state group the
        subscriptions match (each with ``state_group_id``). Asked again on a new
        connection if the socket drops while it waits."""
        self._state_used = True
        timeout = self._link.profile.ws_command_timeout
        for attempt in range(self._link.retry.attempts):
            conn = await self._connection()
            try:
                return ws_wire.states_from_reply(await conn.command("getState", timeout))
            except TransportError:
                if attempt + 1 >= self._link.retry.attempts:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def add_subscription(self, rules: Iterable[Rule]) -> int:
        """Add a subscription (kept across reconnects); its handle for removing it."""
        checked = ws_wire.subscription_rules(None, None, None, rules)
        handle = max(self._subs) + 1
        conn = await self._connection()
        self._sub_ids[handle] = await self._subscribe(conn, checked)
        self._subs[handle] = checked
        return handle

    async def remove_subscription(self, handle: int) -> None:
        """Remove a subscription made with :meth:`add_subscription` (or 0, the first)."""
        if handle not in self._subs:
            raise InvalidInputError(f"no subscription {shown(handle)} in this stream")
        conn = await self._connection()
        timeout = self._link.profile.ws_command_timeout
        await conn.command("removeSubscription", timeout, subscriptionId=self._sub_ids[handle])
        del self._subs[handle], self._sub_ids[handle]

    async def _connection(self) -> Connection:
        while True:
            if self._error is not None:
                raise self._error
            if self._closed:
                raise XProtectError("the live stream is closed")
            if self._conn is not None and not self._conn.closed and self._live.is_set():
                return self._conn
            self._live.clear()
            await self._live.wait()

    async def _subscribe(self, conn: Connection, rules: tuple[Rule, ...]) -> str:
        filters = [ws_wire.rule_to_wire(r) for r in rules]
        timeout = self._link.profile.ws_command_timeout
        reply = await conn.command("addSubscription", timeout, filters=filters)
        sub_id = reply.body.get("subscriptionId")
        if not isinstance(sub_id, str):
            raise ProtocolError("addSubscription answered no 'subscriptionId'")
        return sub_id

    # ----------------------------------------------------------------- the connection loop

    async def _run(self) -> None:
        failures = drops = 0
        while not self._closed:
            try:
                conn = self._conn = await self._open()
            except XProtectError as exc:
                failures += 1
                if cannot_retry(exc) or failures >= self._link.retry.attempts:
                    return self._fail(exc)
                log.info("live: cannot connect (%s); retrying", exc)
                await asyncio.sleep(self._backoff(failures))
                continue
            except RuntimeError as exc:  # the client was closed under the stream
                return self._fail(XProtectError(f"the client is closed: {exc}"))
            failures = 0
            opened = asyncio.get_running_loop().time()
            self._live.set()
            if self._hold is not None:
                await self._fill_gap(conn)
            await asyncio.wait([conn.reader])
            self._live.clear()
            if isinstance(conn.error, SlowConsumerError) or conn.fatal:
                return self._fail(conn.error or XProtectError("the connection failed"))
            log.info("live: connection lost (%s); reconnecting", conn.error)
            self.reconnects += 1
            short = asyncio.get_running_loop().time() - opened < _SHORT_LIVED
            drops = drops + 1 if short else 0
            if drops:  # a server that drops every connection at once is not hammered
                await asyncio.sleep(self._backoff(min(drops, 8)))
        return None

    def _backoff(self, failures: int) -> float:
        policy = self._link.retry
        step = min(policy.backoff_max, policy.backoff_initial * 2.0 ** min(failures - 1, 32))
        return step + random.uniform(0, policy.jitter)

    def _fail(self, exc: XProtectError) -> None:
        self._error = exc
        self._wake()

    async def _open(self) -> Connection:
        link, profile = self._link, self._link.profile
        options = SocketOptions(
            ssl=link.ssl,
            auth=profile.ws_auth,
            heartbeat=profile.ws_heartbeat,
            max_frame=self._max_frame,
            connect_within=link.connect_timeout,
        )
        url = ws_url(link.server_url, profile.ws_path)
        conn = await connect(
            link.session(), url, link.tokens, options, self._sink, self._buffer.wake
        )
        try:
            await self._start_session(conn)
        except BaseException:
            await conn.close()
            raise
        return conn

    async def _start_session(self, conn: Connection) -> None:
        timeout = self._link.profile.ws_command_timeout
        previous = self.session_id
        last_id = "" if self._last_id is None or previous is None else str(self._last_id)
        reply = await conn.command(
            "startSession", timeout, sessionId=previous or "", eventId=last_id
        )
        session_id = reply.body.get("sessionId")
        if not isinstance(session_id, str) or not session_id:
            raise ProtocolError("startSession answered no 'sessionId'")
        self.session_id = session_id
        if reply.status == 200 and previous is not None:
            self.resumes += 1
            return
        self._hold = [] if previous is not None else None
        for handle, rules in self._subs.items():
            self._sub_ids[handle] = await self._subscribe(conn, rules)

    # ----------------------------------------------------------------- delivering

    async def _sink(self, conn: Connection, events: list[Event]) -> None:
        """The reader's batches: repeats dropped; the resume point advances."""
        if not events:
            return
        self._last_id = events[-1].id
        fresh = [e for e in events if not self._recent.seen(e.id)]
        if self._hold is not None:
            self._hold.extend(fresh)
            self._buffer.check(len(self._hold))
            return
        await self._put(fresh, conn)

    async def _put(self, items: Sequence[Item], conn: Connection | None) -> None:
        """Hand items to the consumer, waiting for room in the buffer (``conn``: unless a
        command waits for its answer on that connection: its reader must go on)."""
        await self._buffer.put(items, lambda: conn is None or not conn.commands_waiting)

    async def _fill_gap(self, conn: Connection) -> None:
        """After a failed resume, with the live events held back: the stored events since
        the last delivered one, the state changes the gap hid (if ``state()`` was used),
        the :class:`Gap`, then the held live events."""
        start = self._buffer.latest or self._started_at
        end = datetime.now(UTC)
        rules = [r for rules in self._subs.values() for r in rules]
        filled = 0
        types = ws_wire.gap_types(rules, self._stored)
        try:
            filled = await self._fill_from_store(rules, start - ACCURACY)
            if self._state_used:
                filled += await self._fill_from_state(conn, start - ACCURACY)
        except XProtectError as exc:
            log.warning("live: could not fill the gap from the store: %s", exc)
            types = None
        finally:
            held, self._hold = self._hold or [], None
        if types is not False:
            gap = Gap(start=start, end=end, types=types, filled=filled)
            self._report(gap)
            await self._put([gap], None)
        await self._put(held, conn)

    async def _fill_from_store(self, rules: list[Rule], since: datetime) -> int:
        filled = 0
        async for event in self._link.list_stored(since):
            wanted = ws_wire.delivered(rules, event.type, event.source)
            if wanted and not self._recent.seen(event.id):
                await self._put([event], None)
                filled += 1
        return filled

    async def _fill_from_state(self, conn: Connection, since: datetime) -> int:
        timeout = self._link.profile.ws_command_timeout
        rows = ws_wire.states_from_reply(await conn.command("getState", timeout))
        changed = sorted((r for r in rows if r.time > since), key=lambda e: e.time)
        fresh: list[Event] = [r for r in changed if not self._recent.seen(r.id)]
        await self._put(fresh, None)
        return len(fresh)

    def _report(self, gap: Gap) -> None:
        self.gaps.append(gap)
        log.warning(
            "live: the session could not be resumed; %d events filled from the store; "
            "events between %s and %s of types it does not keep may be missing",
            gap.filled,
            gap.start.isoformat(),
            gap.end.isoformat(),
        )
        if self._on_gap is not None:
            self._on_gap(gap)
