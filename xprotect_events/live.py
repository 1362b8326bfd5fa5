"""Live events over the Events and State WebSocket API: ``client.subscribe(...)``.

``async with client.subscribe(types=[...]) as live:`` connects, starts a session and
subscribes before it returns; ``async for item in live`` yields each :class:`Event` as the
server pushes it (and a :class:`Gap` where events may be missing); ``await live.state()``
reads the current state of the stateful sources the subscriptions match (``getState``).

Resume: when the connection drops (a network failure, the gateway's daily recycle), the
stream reconnects on the backoff schedule of the client's :class:`RetryPolicy` (the token
renewed when due, and once more if the upgrade is refused with 401; see :mod:`.live_retry`
for when it gives up), then ``startSession`` with the session id and the id of the last new
event received. ``200`` with the same session id: the server sends what was missed. ``201``
(or a ``200`` naming another session: the resume failed): the subscriptions are made again,
the events stored since the last delivered one are fetched from the REST store (filtered
like the subscriptions) and delivered before the new live ones; after a ``state()`` call,
``getState`` is asked again and the state changes the gap hid follow the live events that
came meanwhile (it may take minutes; a row that a live event made stale is left out). What
the store cannot have (types not in ``stored_types``) is reported as a :class:`Gap` (on the
stream, to ``on_gap``, a WARNING): on the stream after the events filled from the store and
before the new live ones (and once more, of any type, when ``getState`` fails). Nothing is
delivered twice (a repeat is known among the ids of at least the last 10,000 events). Until
a new connection's session is settled, what it pushes waits behind what the gap may bring,
so that the fill starts after the last event delivered. Only a session whose subscriptions
were all confirmed is resumed (a subscription change left without an answer makes the next
connection start a new session, filled as above). With ``checkpoint=`` a restarted stream
resumes the same way from the last event the consumer processed (see
:mod:`.live_checkpoint`).

A frame the server should not have sent (not JSON, binary, invalid UTF-8 or a frame that
breaks RFC 6455, an answer that carries events, an event that does not decode) ends the
stream with :class:`ProtocolError`, raised where the consumer iterates (a server would send
it again on every resume); a malformed answer to a command fails only that command. No error
or log record shows the token, whatever escaping the server echoed it in.

Back-pressure: at most ``buffer`` items wait for the consumer (and as many live events
behind a gap fill); while full, the socket is not read (TCP back-pressure reaches the
server; a connection it then drops is resumed). See :mod:`.live_buffer` for the one
exception (a command waiting) and its bound.

Every exit of ``async with`` (the end, ``break``, an exception, cancellation) and the
client's ``close()`` close the socket cleanly (close code 1000; 1002 or 1007 after a frame
that broke the protocol) and stop the reader. The commands that start a session
(``authenticate``, ``startSession``, the ``addSubscription`` of each subscription made
again) are each answered within the client's ``connect_timeout``, as the upgrade is: a
connection that cannot start its session soon is retried. The others (``getState``,
which may take minutes on a large system, :meth:`LiveStream.add_subscription`,
:meth:`LiveStream.remove_subscription`) are bounded by ``Profile.ws_command_timeout``,
their send and answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType

from . import ws_wire
from .errors import CheckpointError, ClientClosedError, XProtectError, shown
from .live_buffer import Buffer, Item, SlowConsumerError
from .live_checkpoint import CheckpointLike, live_checkpoint
from .live_conn import Connection, connect
from .live_deliver import Delivery
from .live_link import LiveLink, StoredTypes, check_options, stored_set
from .live_retry import Reconnects, states
from .live_subs import Subscriptions
from .models import Event
from .origins import Mismatch
from .positions import LivePosition
from .redaction import scrubbed
from .ws_wire import Gap, OnGap, Rule

log = logging.getLogger("xprotect_events.live")

_NOT_ENTERED = "enter the stream first: 'async with client.subscribe(…) as live'"


class LiveStream:
    """The stream of one WebSocket session (see the module docstring)."""

    def __init__(
        self,
        link: LiveLink,
        rules: tuple[Rule, ...],
        *,
        buffer: int = 10_000,
        stored_types: StoredTypes = None,
        on_gap: OnGap | None = None,
        max_frame_size: int | None = None,
        checkpoint: CheckpointLike | None = None,
        checkpoint_interval: float = 1.0,
        checkpoint_mismatch: Mismatch = "refuse",
        close_timeout: float = 5.0,
    ) -> None:
        frame = link.profile.ws_max_frame if max_frame_size is None else max_frame_size
        check_options(buffer, frame, on_gap)
        self._checkpoint = live_checkpoint(
            checkpoint,
            checkpoint_interval,
            checkpoint_mismatch,
            link.server_url,
            rules,
            close_timeout,
        )
        #: Where a checkpoint said to start, until something is delivered.
        self._resumed_from: LivePosition | None = None
        self._link = link
        self._subs = Subscriptions(rules, link.profile.ws_command_timeout)
        self._buffer = Buffer(buffer)
        self._out = Delivery(self._buffer, stored_set(stored_types), link.list_stored, on_gap)
        self._max_frame = frame
        self._live = asyncio.Event()
        #: Whether the stream was live (or starts from a checkpoint): a new session then
        #: has a gap to fill.
        self._was_live = False
        self._conn: Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._error: XProtectError | None = None
        self._closed = False
        self._started_at = datetime.now(UTC)
        #: The server's session id (changes when a resume fails).
        self.session_id: str | None = None
        self._sessions = 0  # started (one per connection)
        #: Connections made after the first, sessions resumed (200).
        self.reconnects = 0
        self.resumes = 0

    def __repr__(self) -> str:
        state = "closed" if self._closed else "live" if self._live.is_set() else "connecting"
        session = self.session_id and shown(scrubbed(self.session_id, self._link.secrets()), 80)
        return f"<LiveStream {state} session={session} buffered={len(self._buffer)}>"

    @property
    def gaps(self) -> list[Gap]:
        """The last gaps reported (at most :data:`~.live_deliver.MAX_GAPS`), oldest first."""
        return list(self._out.gaps)

    @property
    def gap_count(self) -> int:
        """How many gaps were reported in all."""
        return self._out.gap_count

    @property
    def buffered(self) -> int:
        """Items waiting for the consumer."""
        return len(self._buffer)

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> LiveStream:
        if self._task is not None:
            raise RuntimeError("a LiveStream is entered once")
        self._link.streams.add(self)
        try:
            await self._resume_point()
            self._task = asyncio.create_task(self._run(), name="xprotect-live")
            self._task.add_done_callback(self._ended)
            await self._first_session()
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
        if exc_type is None:  # a normal exit (or break): the event in hand is processed
            if self._checkpoint is not None:
                self._checkpoint.settle(self.session_id)
            return await self.aclose()
        try:
            await self.aclose()
        except CheckpointError as error:  # the exception that ended the block goes on
            log.warning("live: could not save the checkpoint on exit: %s", error)

    async def _resume_point(self) -> None:
        """With a checkpoint: resume its session after its event (see :mod:`.live_checkpoint`)."""
        if self._checkpoint is None:
            return
        position = await self._checkpoint.load()
        if position is not None:
            self.session_id = position.session_id
            self._out.resume_after(position.event_id)
            self._started_at, self._resumed_from = position.time, position
            self._subs.confirmed = self._checkpoint.resumable  # (else: a new session)
            self._was_live = True

    async def commit(self) -> None:
        """Save now: the event in hand (the last one yielded) counts as processed. Waits
        at most ``close_timeout`` s for the store, then :class:`CheckpointError` (the save
        goes on, and the newest position is saved once the store answers)."""
        if self._checkpoint is None:
            raise XProtectError("commit() needs a checkpoint: subscribe(checkpoint=...)")
        self._checkpoint.settle(self.session_id)
        await self._checkpoint.commit()

    async def aclose(self) -> None:
        """Close the socket and stop; iterating then ends. Safe to call twice."""
        self._closed = True
        self._link.streams.discard(self)
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
            checkpoint, self._checkpoint = self._checkpoint, None
            if checkpoint is not None:
                await checkpoint.finish()

    async def client_closed(self) -> None:
        """The client is closing: the stream closes (the socket with code 1000) and the
        consumer gets :class:`ClientClosedError` once the items buffered are taken."""
        if not self._closed and self._error is None:
            self._error = ClientClosedError("the client was closed under the live stream")
        await self.aclose()

    def _wake(self) -> None:
        self._buffer.closed = self._closed
        self._out.wake()
        self._live.set()

    # ----------------------------------------------------------------- consuming

    def __aiter__(self) -> LiveStream:
        return self

    async def __anext__(self) -> Item:
        if (checkpoint := self._checkpoint) is not None and checkpoint.settle(self.session_id):
            checkpoint.save_soon()  # in the background: a slow store stalls no delivery
        buffer = self._buffer
        if buffer.items and not buffer.room_wanted:  # the common case, without a call
            item = buffer.items.popleft()
        else:
            item = await self._wait_for_item()
        if self._checkpoint is not None and isinstance(item, Event):
            self._checkpoint.handed = item
        return item

    async def _wait_for_item(self) -> Item:
        self._check_entered()
        while (item := self._buffer.pop()) is None:
            if self._error is not None:
                raise self._error.with_traceback(None)  # (again: no growing traceback)
            if self._closed:
                raise StopAsyncIteration
            await self._buffer.readable()
        return item

    # ----------------------------------------------------------------- commands

    async def state(self) -> list[Event]:
        """``getState``: the current stateful event of every source and state group the
        subscriptions match (each with ``state_group_id``). Asked again on a new
        connection if the socket drops while it waits; :class:`RequestTimeoutError` if
        not answered within ``Profile.ws_command_timeout``."""
        self._out.state_used = True
        timeout = self._link.profile.ws_command_timeout
        return await states(self._connection, self._link.retry.attempts, timeout)

    async def add_subscription(self, rules: Iterable[Rule]) -> int:
        """Add a subscription (kept across reconnects); its handle for removing it."""
        checked = ws_wire.subscription_rules(None, None, None, rules)
        return await self._subs.add(checked, self._connection)

    async def remove_subscription(self, handle: int) -> None:
        """Remove a subscription made with :meth:`add_subscription` (or 0, the first). One
        the server does not have (``404``) is forgotten all the same, with a WARNING."""
        await self._subs.remove(handle, self._connection)

    async def _connection(self) -> Connection:
        self._check_entered()
        while True:
            if self._error is not None:
                raise self._error.with_traceback(None)  # (again: no growing traceback)
            if self._closed:
                raise XProtectError("the live stream is closed")
            if self._conn is not None and not self._conn.closed and self._live.is_set():
                return self._conn
            self._live.clear()
            await self._live.wait()

    def _check_entered(self) -> None:
        if self._task is None and not self._closed:  # nothing would ever connect
            raise RuntimeError(_NOT_ENTERED)

    async def _first_session(self) -> None:
        """Until the first session started (it may have dropped since: the stream is
        entered all the same, and resumes it)."""
        while not self._sessions:
            if self._error is not None:
                raise self._error.with_traceback(None)  # (again: no growing traceback)
            if self._closed:
                raise XProtectError("the live stream is closed")
            self._live.clear()
            await self._live.wait()

    # ----------------------------------------------------------------- the connection loop

    async def _run(self) -> None:
        retry, clock = Reconnects(self._link.retry), asyncio.get_running_loop().time
        while not self._closed:
            try:
                conn, resumed = await self._open()
                self._conn = conn
            except XProtectError as exc:
                if (delay := retry.failed(exc)) is None:
                    return self._fail(exc)
                log.info("live: cannot connect (%s); retrying", exc)
                await asyncio.sleep(delay)
                continue
            except RuntimeError as exc:  # the client was closed under the stream
                return self._fail(XProtectError(f"the client is closed: {exc}"))
            retry.opened()
            self._sessions += 1
            opened = clock()
            self._live.set()
            if self._out.hold.holding:
                try:
                    await self._settled(conn, resumed)
                except SlowConsumerError as exc:  # as the reader's: the stream's end
                    await conn.close()  # (a command waiting on it fails)
                    return self._fail(exc)
            await asyncio.wait([conn.reader])
            self._live.clear()
            if isinstance(conn.error, SlowConsumerError) or conn.fatal:
                return self._fail(conn.error or XProtectError("the connection failed"))
            log.info("live: connection lost (%s); reconnecting", conn.error)
            self.reconnects += 1
            if (delay := retry.dropped(clock() - opened, conn.received)) is None:
                return self._fail(retry.gave_up(conn.error))
            await asyncio.sleep(delay)  # a server that drops every connection is not hammered
        return None

    def _fail(self, exc: XProtectError) -> None:
        self._error = exc
        self._wake()

    def _ended(self, task: asyncio.Task[None]) -> None:
        """The connection loop ended: if by an exception it did not handle (a bug, or one
        a callback raised past it), the consumer gets an error, not a wait for ever."""
        if task.cancelled() or (exc := task.exception()) is None or self._error is not None:
            return
        text = scrubbed(shown(exc, 300), self._link.secrets())  # (repr: it never raises)
        self._fail(XProtectError(f"the live stream stopped: {text}"))

    async def _open(self) -> tuple[Connection, bool]:
        """A new connection with its session started, and whether that resumed the last."""
        link, options = self._link, self._link.socket_options(self._max_frame)
        if self._was_live:  # from the upgrade on (an authenticate command waits on it)
            self._out.hold_new()  # nothing this socket pushes passes what a gap fill may bring
        conn = await connect(
            link.session(), link.url, link.tokens, options, self._out.sink, self._out.wake
        )
        try:
            return conn, await self._start_session(conn)
        except BaseException:
            await conn.close()
            raise

    async def _start_session(self, conn: Connection) -> bool:
        """``startSession``: the session resumed (True), or a new one subscribed (False).
        Only a session whose subscriptions were all confirmed is resumed. Each command
        is answered within the connect bound (they may not take long: getState may)."""
        timeout = self._link.connect_timeout
        previous = self.session_id if self._subs.confirmed else None
        session_id, resumed = await conn.start_session(previous, self._out.last_id, timeout)
        self.session_id = session_id
        if resumed:
            self.resumes += 1
            return True
        await self._subs.make_all(conn, timeout)
        self._was_live = True
        if self._checkpoint is not None and self._checkpoint.started(session_id, self._started_at):
            self._checkpoint.save_soon(quiet=True)  # (a failed save is the consumer's)
        return False

    async def _settled(self, conn: Connection, resumed: bool) -> None:
        """The session of a new connection is settled: the held events go to the consumer
        (after what the gap held, when the session was not ``resumed``)."""
        if resumed:
            return await self._out.resumed(conn)
        rules, after = self._subs.rules(), self._resumed_from
        timeout = self._link.profile.ws_command_timeout
        return await self._out.settled(conn, rules, self._started_at, after, timeout)
