"""Where an event stream stands, and which events it has delivered lately: one memory. Pure.

The same memory does two jobs:

- **No event twice.** Every read is filtered against it (:meth:`Cursor.unseen`): an event
  the server returns again, in the same read, in a later one, or out of order, is dropped.
- **The resume point.** A resumed session (after a lost one, or after a restart from a
  checkpoint) asks for ``time gt (newest delivered time - 10 ms)`` (event times are
  accurate to 10 ms [seed]) and drops what the memory says it delivered: events that share
  the boundary time are neither lost nor repeated. :meth:`Cursor.position` is the memory as
  a :class:`~xprotect_events.SessionPosition` (what a checkpoint stores) and
  :meth:`Cursor.resume` puts one back. A position keeps only the part of the memory a
  resume needs, the ids within :data:`~xprotect_events.positions.DEFAULT_WINDOW` (20 ms) of
  the newest time: positions stay small, so saving one costs little whatever the rate.
  A position never passes an event of the current read that is not processed yet (a read
  out of time order): its time is at most the oldest such event's, so a restart asks for it.
  After :meth:`Cursor.resume`, events older than the position's window (those
  :meth:`~xprotect_events.SessionPosition.delivered` says were delivered, which a server that
  honours the ``time gt`` bound never returns) are dropped too, until the newest delivered
  time is :data:`DEDUP_WINDOW` past them.

The bound: the memory keeps the ids of delivered events whose time is within
:data:`DEDUP_WINDOW` (10 s) of the newest delivered time, and at most
:data:`~xprotect_events.positions.MAX_RECENT_IDS` (10 000) of them, the oldest delivered
forgotten first. An event repeated later than that (more than 10 s older than the newest
delivered event, or more than 10 000 deliveries ago) is yielded again; nothing is ever
dropped that was not delivered.

Clock skew: an event time more than :data:`MAX_SKEW` (5 min) ahead of this machine's clock
(a device with a wrong clock, a trigger with a far future ``time``) does not move the resume
point past the present: the newest delivered time counts as the local time of that read
instead, so the events stored after it, with present times, still come after a recovery or
a restart. The ids of such events are remembered like any other (the event is not repeated
by a recovery); a position keeps only ids at or before its time, so after a restart from a
checkpoint an event that was ahead of the clock when delivered may come once more, and so
may the events of the last minutes when the server's clock runs more than 5 min ahead of
this one (at least once still holds). A stored position whose time is more than
:data:`MAX_SKEW` ahead of the clock (written by a version without this rule) is refused
with :class:`~xprotect_events.CheckpointError`: resuming from it would skip every event
until then.

Times near the first representable one (year 1) are clamped there: the window and the
10 ms step back never overflow.
"""

from __future__ import annotations

import operator
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice, takewhile
from typing import Protocol, TypeVar

from .errors import CheckpointError
from .positions import ACCURACY, DEFAULT_WINDOW, MAX_RECENT_IDS, SessionPosition
from .wire import format_time

#: Ids delivered this close to the newest delivered time are remembered (see the docstring).
DEDUP_WINDOW = timedelta(seconds=10)
#: How far ahead of this machine's clock an event time still moves the resume point.
MAX_SKEW = timedelta(minutes=5)

__all__ = ["ACCURACY", "DEDUP_WINDOW", "MAX_RECENT_IDS", "MAX_SKEW", "Cursor"]

_EARLIEST = datetime.min.replace(tzinfo=UTC)


class Stamped(Protocol):
    """What the memory reads of an event: its id and time (an ``Event`` or its wire form)."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def time(self) -> datetime: ...


E = TypeVar("E", bound=Stamped)

_ID_INT = operator.attrgetter("id.int")
_TIME = operator.attrgetter("time")
_SECOND = operator.itemgetter(1)


def _now() -> datetime:
    return datetime.now(UTC)


def before(time: datetime, span: timedelta) -> datetime:
    """``time - span``, clamped at the first representable time (never OverflowError)."""
    try:
        return time - span
    except OverflowError:
        return _EARLIEST


class Cursor:
    """The newest delivered event time and the ids delivered lately (the module's bound).

    The memory is a dict (id as its int, hashed in C → time) and the delivery order of
    its ids (a list read from ``_start``): a read's ids go in and the oldest come out in
    bulk, by C loops, not one Python step per event. ``clock`` is the wall clock that event
    times are checked against (the module's skew rule).
    """

    def __init__(
        self,
        since: datetime | None,
        *,
        window: timedelta = DEDUP_WINDOW,
        limit: int = MAX_RECENT_IDS,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.since = since
        self.window = window
        self.limit = limit
        self.clock = clock
        self.last: datetime | None = None
        self._resumed: datetime | None = None  # events before this were delivered (resume)
        self._recent: dict[int, datetime] = {}
        self._order: list[int] = []  # the ids of _recent in delivery order, from _start on
        self._start = 0

    def __len__(self) -> int:
        """How many delivered ids are remembered."""
        return len(self._recent)

    def seen(self, event: Stamped) -> bool:
        """Whether this event was delivered lately (a repeat)."""
        return event.id.int in self._recent

    def unseen(self, events: Sequence[E]) -> list[E]:
        """``events`` without the ones delivered lately, each id once (the first kept)."""
        resumed = self._resumed
        if resumed is not None and events and min(map(_TIME, events)) < resumed:
            events = [e for e in events if e.time >= resumed]
        recent = self._recent
        ids = list(map(_ID_INT, events))
        if len(set(ids)) == len(ids) and recent.keys().isdisjoint(ids):
            return list(events)  # the usual read: no repeat (checked in C, not per event)
        fresh: list[E] = []
        taken: set[int] = set()
        for event_id, event in zip(ids, events, strict=True):
            if event_id in recent or event_id in taken:
                continue
            taken.add(event_id)
            fresh.append(event)
        return fresh

    def advance(self, events: Sequence[Stamped], *, unseen: bool = False) -> None:
        """Record that ``events`` were handed to the consumer. ``unseen``: they are what
        :meth:`unseen` returned since the last advance (no repeat: not checked again)."""
        if not events:
            return
        ids = list(map(_ID_INT, events))
        times = list(map(_TIME, events))
        recent = self._recent
        if unseen or (len(set(ids)) == len(ids) and recent.keys().isdisjoint(ids)):
            recent.update(zip(ids, times, strict=True))
            self._order += ids
        else:  # an id delivered again keeps its place in the order and takes the new time
            for event_id, time in zip(ids, times, strict=True):
                if event_id not in recent:
                    self._order.append(event_id)
                recent[event_id] = time
        newest = self._present(max(times))
        if self.last is None or newest > self.last:
            self.last = newest
        if self._resumed is not None and before(self.last, self.window) > self._resumed:
            self._resumed = None  # the memory's own bound has passed the resume floor
        self._forget()

    def hand_out(self, events: Sequence[E]) -> Iterator[E]:
        """:meth:`unseen` of ``events``, each recorded as delivered when it is taken from
        the iterator (for changes handed out one at a time: deletions)."""
        if not events:
            return iter(())
        return self._hand_out(events)

    def _hand_out(self, events: Sequence[E]) -> Iterator[E]:
        for event in self.unseen(events):
            self.advance((event,), unseen=True)
            yield event

    def _present(self, newest: datetime) -> datetime:
        """``newest``, or the local time if it is more than :data:`MAX_SKEW` ahead of it."""
        now = self.clock()
        return now if newest - now > MAX_SKEW else newest

    def _forget(self) -> None:
        """Drop the oldest delivered ids past the count, then those past the window."""
        if self.last is None:
            return
        recent, order, start = self._recent, self._order, self._start
        floor = before(self.last, self.window)
        end = start + max(0, len(recent) - self.limit)
        rest = map(recent.__getitem__, islice(order, end, None))
        end += len(list(takewhile(floor.__gt__, rest)))
        deque(map(recent.__delitem__, islice(order, start, end)), maxlen=0)
        if end >= 2048 and 4 * end >= len(order):  # the dead head is a quarter: drop it
            del order[:end]
            end = 0
        self._start = end

    def resume_after(self) -> datetime | None:
        """The ``time gt`` bound of a resumed session (None: no time bound)."""
        if self.last is None:
            return self.since
        start = before(self.last, ACCURACY)
        return start if self.since is None or start > self.since else self.since

    def reopen(self) -> datetime | None:
        """:meth:`resume_after`, for a new session (the first, or one recreated after a
        loss), kept as a floor too: :meth:`unseen` drops older events (a server ignoring
        the bound returns them)."""
        bound = self.resume_after()
        if bound is not None and (self._resumed is None or bound > self._resumed):
            self._resumed = bound
        return bound

    def position(
        self, taken: Sequence[Stamped] = (), pending: Sequence[Stamped] = ()
    ) -> SessionPosition | None:
        """Where the stream stands once ``taken`` (delivered since the last :meth:`advance`)
        is delivered too, and ``pending`` (the rest of that read) not yet: the newest time,
        but not past the oldest pending one, and the ids within 20 ms of it; None when
        nothing was delivered."""
        newest = max((e.time for e in taken), default=self.last)
        if newest is None:
            return None
        newest = self._present(newest)
        if self.last is not None and self.last > newest:
            newest = self.last
        oldest = min(map(_TIME, pending), default=newest)
        newest = min(newest, oldest)
        floor = before(newest, DEFAULT_WINDOW)
        near = {uuid.UUID(int=i): t for i, t in self._recent.items() if floor <= t <= newest}
        near.update((e.id, e.time) for e in taken if floor <= e.time <= newest)
        if len(near) > MAX_RECENT_IDS:  # the newest kept, as SessionPosition.of does
            near = dict(sorted(near.items(), key=_SECOND)[-MAX_RECENT_IDS:])
        return SessionPosition(time=newest, recent=near)

    def resume(self, position: SessionPosition) -> None:
        """Start from a stored position: it wins over ``since``. :class:`CheckpointError`
        if its time is more than :data:`MAX_SKEW` ahead of the clock (the module's rule)."""
        if position.time - self.clock() > MAX_SKEW:
            raise CheckpointError(
                f"the stored position {format_time(position.time)} is ahead of this "
                f"machine's clock by more than {MAX_SKEW}: resuming from it would skip every "
                "event until then (delete the checkpoint, or set the clock right)"
            )
        self.since = None
        self.last = position.time
        self._resumed = before(position.time, position.window)
        ordered = sorted(position.recent.items(), key=lambda item: item[1])
        self._recent = {i.int: t for i, t in ordered}
        self._order, self._start = list(self._recent), 0
        self._forget()
