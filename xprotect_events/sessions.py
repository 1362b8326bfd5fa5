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

Pacing: a read that returns a full page (``max_size`` new events, not all of them repeats)
is followed by the next read at once, so a backlog drains at full speed; after a shorter
page the next read waits until ``poll_interval`` has passed since the previous one.

Recovery: a read that fails for a reason the retry policy calls transient (connection
error, 5xx, 429 with no ``Retry-After`` longer than ``max_retry_after``) or that the
server answers with 404 (the session was dropped or lost in a restart) ends that session.
It is *not* read again, because the server may already have counted the events of the
failed read as returned. A new session is created with the same filters plus
``time gt (last delivered time - 10 ms)`` (event times are accurate to 10 ms [seed]), and the
ids delivered in the last 20 ms are remembered so that the events the new session returns
again are dropped: events that share the last delivered time are neither lost nor
repeated, and events the old session buffered but never returned come through the new
one. Transient failures back off on the client's :class:`~xprotect_events.RetryPolicy`
schedule (:mod:`.policy`: the transport's, with the server's ``Retry-After`` when it gave
one, but never sooner than the schedule), and the backoff resets after a good
read; a first 404 is resumed at once. Errors that retrying cannot fix (400, 403, a second
401, a malformed answer) are raised to the consumer; the session is then marked lost, so
iterating again resumes from the same position.

No repeats: every read is filtered against one bounded memory of delivered ids
(:mod:`.cursor`: events within 10 s of the newest delivered one, at most 10 000), which is
also the position a checkpoint stores. With ``checkpoint=path_or_store`` the session resumes
from the stored position (else from ``since``), which must have been saved for the same
server and filters (else a :class:`CheckpointError` on entry, before anything is sent;
``checkpoint_mismatch="resume"`` resumes all the same: :mod:`.session_checkpoint`); the
change in the consumer's hands counts as processed when the next is asked for (or the block
is left normally), and the position is saved at most every ``checkpoint_interval`` s in a
worker thread (in the background: a hung store stalls no delivery), on every exit, and by
:meth:`EventSession.commit` (those two bounded by ``close_timeout``). After a crash the stream
repeats at most the changes handed out since the last save and loses none the server still
has. A deletion comes at most once too, by a memory of its own with the same bound (an
event's ``deleted`` change never hides its ``new`` one, nor the other way round); it is not
in the checkpoint.

Limits: the resume point is a time. An event more than 10 ms older than the last delivered
one (a late trigger with an explicit old ``time``) that is stored between the lost
session's last read and the new session is not seen. ``deleted`` changes come only for
events in the current session's view: after a recovery, the deletions the lost session had
not yet reported, and those of events delivered before the resume point, do not come.
``order="desc"`` has no resume point by time (the backlog comes newest first, live events
after it), so a ``desc`` stream is not resumed: a lost session raises
:class:`SessionLostError`, and so does the next step after any other failed or cancelled read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Literal

from . import typed
from .checks import Order
from .core import Core
from .cursor import Cursor
from .errors import (
    CheckpointError,
    InvalidInputError,
    NotFoundError,
    SessionLostError,
    XProtectError,
)
from .models import SessionChange, make_change, make_changes
from .options import SessionSpec
from .policy import Backoff
from .positions import SessionPosition
from .reasons import reason
from .session_checkpoint import SessionCheckpoint
from .session_cleanup import finish_even_if_cancelled
from .session_requests import SessionRequests
from .typed import AnyEvent, FastRead

log = logging.getLogger("xprotect_events.sessions")

#: Longest wait for the best-effort delete of a session abandoned during recovery.
DISCARD_TIMEOUT = 1.0

_NOTHING: Iterator[AnyEvent] = iter(())
_NOT_ENTERED = "enter the session first: 'async with client.event_session(…)'"


class EventSession:
    """``async with client.event_session(...) as session: async for change in session``.

    Made by ``client.event_session(...)``, whose options :func:`.options.session_spec`
    checks before anything is sent (:class:`InvalidInputError`).
    ``id`` is the current server-side session id; ``recoveries`` counts the sessions
    created to resume after a lost one. ``close_timeout`` bounds each step of the exit:
    the final checkpoint save (a :class:`CheckpointError` when it does not return in time)
    and the delete.

    Each read is decoded whole when it arrives (canonical events by a fast path, anything
    else by the checked decoder): a malformed event makes that read a
    :class:`ProtocolError`, raised by the ``__anext__`` (or :meth:`pages` step) that made
    the read, before any change of it is yielded.
    """

    def __init__(self, core: Core, spec: SessionSpec) -> None:
        self._core = core
        self._requests = SessionRequests(core, spec)
        self._order: Order = spec.order
        self._max_size = spec.max_size
        self._poll_interval = spec.poll_interval
        self._close_timeout = spec.close_timeout
        self._cursor = Cursor(spec.since)
        self._gone = Cursor(None)  # the deletions handed out lately: none twice
        self._backoff = Backoff(core.policy)
        self.id: str | None = None
        self.recoveries = 0
        self._state: Literal["new", "open", "closed"] = "new"
        self._stale: str | None = None
        self._page: list[AnyEvent] = []  # the new events of the last read, handed out in order
        # Their changes, made a slice at a time (typed.SLICE: few live at once).
        self._changes: list[SessionChange] = []
        self._offset = 0  # the index in _page of _changes[0]
        self._taken = 0  # how many of them the consumer has taken
        self._deleted: Iterator[AnyEvent] = _NOTHING
        self._checkpoint = SessionCheckpoint.of(spec, core.transport.base_url)
        self._committer = None if self._checkpoint is None else self._checkpoint.committer
        self._processed = 0  # how many of the page's events the consumer has processed
        self._snapshot = self._processed_position  # bound once: no allocation per event
        self._next_read = 0.0
        self._busy = False

    def __repr__(self) -> str:
        return f"<EventSession {self._state} id={self.id} order={self._order}>"

    @property
    def position(self) -> SessionPosition | None:
        """Where the session stands: the newest delivered time and the ids delivered near
        it (None before the first event, unless resumed from a checkpoint)."""
        return self._cursor.position(self._page[: self._taken], self._page[self._taken :])

    def _processed_position(self) -> SessionPosition:
        done = self._processed
        position = self._cursor.position(self._page[:done], self._page[done:])
        assert position is not None, "marked only once something was processed"
        return position

    async def commit(self) -> None:
        """Count the change in hand as processed and save the position now, waiting at
        most ``close_timeout`` s for the store. :class:`CheckpointError` if the save fails
        or does not return in time (a save so cut short goes on in its thread, the next one
        waits for it, and the newest position is saved once it returns). After the block it
        saves the position the session stopped at, and releases the file again."""
        if self._committer is None or self._checkpoint is None:
            raise InvalidInputError("no checkpoint to commit to: event_session(checkpoint=…)")
        if self._state == "closed":  # the store may serve another stream by now
            self._checkpoint.claim.take()
        self._processed = self._taken
        if self._processed or self._cursor.last is not None:
            self._committer.mark(self._snapshot)
        try:
            await self._committer.acommit()
        finally:
            if self._state == "closed":
                self._checkpoint.close()  # a save after the exit took the file's lock again

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> EventSession:
        if self._state != "new":
            raise RuntimeError("an EventSession can be entered only once")
        try:
            if self._checkpoint is not None:
                await self._checkpoint.resume(self._cursor)
            self.id = await self._requests.create(self._cursor.reopen())
        except BaseException:
            if self._checkpoint is not None:
                self._checkpoint.close()
            raise
        self._state = "open"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None and self._committer is not None and self._taken > self._processed:
            self._processed = self._taken  # left the block normally: the change is processed
            self._committer.mark(self._snapshot)
        try:
            await self.aclose()
        except CheckpointError as failed:
            if exc_type is None:
                raise
            log.warning("could not save the event session's position: %s", failed)

    async def aclose(self) -> None:
        """Delete the server-side session (bounded in time; failures are only logged).

        ``async with`` calls this on exit. Another task may call it to stop a consumer:
        from then on the consumer's ``async for`` (or :meth:`pages`) ends at its next step.
        No change is handed out after ``aclose()``: neither those buffered nor a page that
        a read in flight brings late; they do not count as delivered, so a stream resumed
        from the checkpoint reads them again.
        """
        self._state = "closed"
        ids = [i for i in (self.id, self._stale) if i is not None]
        self.id = self._stale = None
        await finish_even_if_cancelled(self._finish(ids))

    async def _finish(self, ids: list[str]) -> None:
        """Save the position (if marked), delete the sessions, release the checkpoint; a
        failed save is raised once the rest is done."""
        checkpoint = self._checkpoint
        failed = None if checkpoint is None else await checkpoint.finish()
        # The read stays: the position (and a commit after the exit) is where it stood.
        self._changes, self._deleted = [], _NOTHING
        for session_id in ids:
            await self._requests.delete(session_id, self._close_timeout)
        if checkpoint is not None:
            checkpoint.close()
        if failed is not None:
            raise failed

    # ------------------------------------------------------------------ iteration

    def __aiter__(self) -> AsyncIterator[SessionChange]:
        return self

    async def __anext__(self) -> SessionChange:
        if self._state != "open":
            if self._state == "closed":
                raise StopAsyncIteration
            raise RuntimeError(_NOT_ENTERED)
        if self._committer is not None:
            self._settle()  # the change handed out before is processed now
        while True:
            taken = self._taken
            index = taken - self._offset
            if index < len(self._changes):
                self._taken = taken + 1
                return self._changes[index]
            if taken < len(self._page):
                self._offset = taken
                self._changes = make_changes("new", self._page[taken : taken + typed.SLICE])
                continue
            for event in self._deleted:
                return make_change("deleted", event)
            await self._fill()

    async def pages(self) -> AsyncIterator[list[SessionChange]]:
        """The same changes as ``async for change in session``, in the same order, but a
        read at a time: for consumers that hand many on at once. It saves the step per
        change, but a whole read of changes lives at once, which costs the garbage
        collector more than iterating (which keeps a hundred at a time): it is not the
        cheaper way to count or read events (``benchmarks/sessions.md``).

        The events of a page count as delivered (for :attr:`position` and resuming) when
        the page is handed over, and as processed (for the checkpoint) when the next page
        is asked for or the block is left normally. Empty reads are not yielded; the pacing,
        recovery, errors and checkpoint saves are those of iterating the session.
        """
        if self._state == "new":
            raise RuntimeError(_NOT_ENTERED)
        while self._state == "open":
            changes = self._changes[self._taken - self._offset :]
            changes += make_changes("new", self._page[self._offset + len(self._changes) :])
            self._taken = self._offset = len(self._page)
            self._changes = []
            changes += [make_change("deleted", event) for event in self._deleted]
            if changes:
                yield changes
                self._settle()  # the next page is asked for: this one is processed
                continue
            try:
                await self._fill()
            except StopAsyncIteration:  # closed by another task meanwhile
                return

    def _settle(self) -> None:
        """What was handed out is processed: mark it, and save in the background when due
        (the file is written while the consumer goes on)."""
        committer = self._committer
        if committer is not None and self._taken > self._processed:
            self._processed = self._taken
            if committer.mark(self._snapshot):
                committer.background()

    async def _fill(self) -> None:
        """Read the next page into the buffer, pacing reads by ``poll_interval``.

        Called only once the consumer has taken every buffered change: the whole page
        moves the cursor here, in one step rather than one per event.
        """
        if self._busy:
            raise RuntimeError("another task is already reading this event session")
        self._busy = True
        self._cursor.advance(self._page, unseen=True)
        self._page, self._changes, self._offset, self._taken, self._processed = [], [], 0, 0, 0
        try:
            loop = asyncio.get_running_loop()
            wait = self._next_read - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            read = await self._read()
            if self._state == "closed":  # closed by another task meanwhile: dropped, unseen
                raise StopAsyncIteration
            self._page = self._cursor.unseen(read.new_events)
            # Full, and not only repeats (a server repeating a full page would be read
            # again at once, for ever).
            full = len(read.new_events) >= self._max_size and bool(self._page)
            self._next_read = 0.0 if full else loop.time() + self._poll_interval
            self._deleted = self._gone.hand_out(read.deleted_events)
        finally:
            self._busy = False

    async def _read(self) -> FastRead:
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
                read = await self._requests.read(session_id)
            except XProtectError as exc:
                self._abandon(stale=not isinstance(exc, NotFoundError))
                if not self._recoverable(exc, reading):
                    raise
                if self._order == "desc":
                    raise SessionLostError(
                        f"the event session (order='desc') was lost and cannot be resumed: {exc}"
                    ) from exc
                immediate = reading and isinstance(exc, NotFoundError)
                await self._pause(exc, immediate=immediate, step="read" if reading else "create")
                continue
            except asyncio.CancelledError:
                # Cancelled mid-read (e.g. asyncio.timeout around anext): the server may
                # have counted the page as returned, so a later read resumes elsewhere.
                self._abandon(stale=True)
                raise
            self._backoff.reset()
            return read

    def _recoverable(self, exc: XProtectError, reading: bool) -> bool:
        """Whether a new session can fix this: a lost session, or what the retry policy
        retries for a safe request (a transient failure)."""
        if isinstance(exc, NotFoundError):
            return reading  # a 404 on create means the server has no event sessions at all
        return self._core.policy.retryable(exc, "safe")

    def _abandon(self, *, stale: bool) -> None:
        """Stop using the current session; a stale one is deleted before the next is made."""
        if self.id is not None and stale:
            self._stale = self.id
        self.id = None

    async def _pause(self, exc: XProtectError, *, immediate: bool, step: str) -> None:
        if immediate and self._backoff.failures == 0:
            self._backoff.failures = 1
            log.info("event session lost (%s); resuming after %s", reason(exc), self._cursor.last)
            return
        # The server's Retry-After, but never sooner than the schedule: "Retry-After: 0"
        # on every read would make a new session at once, for ever.
        delay = self._backoff.next_delay()
        wait = getattr(exc, "retry_after", None)
        if wait is not None:
            delay = max(delay, min(wait, self._core.policy.max_retry_after))
        log.warning("event session %s failed; reconnecting in %.1f s: %s", step, delay, reason(exc))
        await asyncio.sleep(delay)

    async def _reopen(self) -> str:
        if self._order == "desc":  # a failed or cancelled read left it: no resume point
            raise SessionLostError("the event session (order='desc') was lost: not resumed")
        stale, self._stale = self._stale, None
        if stale is not None:
            await self._requests.delete(stale, min(DISCARD_TIMEOUT, self._close_timeout))
        session_id = await self._requests.create(self._cursor.reopen())
        self.id = session_id
        self.recoveries += 1
        return session_id
