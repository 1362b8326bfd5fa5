"""The consumer's buffer of a live stream: bounded, with back-pressure on its producers.

It holds at most ``size`` items. A producer waits for room while it is full, unless it may
not wait (a connection whose reader must go on because a command waits for its answer);
then the buffer takes up to twice ``size`` and past that raises :class:`SlowConsumerError`.
The :class:`Hold` of a new connection's events takes ``size`` of them, then its producer
waits the same way until they are handed over (or a command waits).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime

from .errors import XProtectError
from .models import Event
from .ws_wire import Gap

Item = Event | Gap


class SlowConsumerError(XProtectError):
    """The consumer fell more than twice ``buffer`` items behind while the stream could not
    hold the server back (a command was waiting for its answer)."""


class Buffer:
    """Items for the consumer, oldest first; ``latest`` is the newest event time put."""

    def __init__(self, size: int) -> None:
        self.size = size
        #: The items, oldest first (the stream pops them itself while no producer waits).
        self.items: deque[Item] = deque()
        self._readable = asyncio.Event()
        self._reader = False  # whether a consumer waits in readable()
        self._room = asyncio.Event()
        #: Whether a producer waits for room (then :meth:`pop` must wake it).
        self.room_wanted = False
        self.closed = False
        self.latest: datetime | None = None

    def __len__(self) -> int:
        return len(self.items)

    def wake(self) -> None:
        """Wake every waiter (to look at the stream's state, or on close)."""
        self._readable.set()
        self._room.set()

    async def put(self, items: Sequence[Item], may_wait: Callable[[], bool]) -> None:
        """Append ``items``, waiting for room while full and ``may_wait()`` says so. A
        batch that fits goes in at once, with one wakeup (the common case)."""
        if not items:
            return
        if len(self.items) + len(items) <= self.size:
            self.items.extend(items)
            self._newest(items)
        else:
            for item in items:
                while len(self.items) >= self.size and not self.closed and may_wait():
                    self._readable.set()  # what is in goes out while we wait
                    self._room.clear()
                    self.room_wanted = True
                    await self._room.wait()
                self.items.append(item)
                self._newest((item,))
        self._readable.set()
        self.check(0)

    def _newest(self, items: Sequence[Item]) -> None:
        """``latest`` from the last event put (events arrive in time order; an earlier
        ``latest`` only makes a gap fill start earlier, and repeats are dropped by id)."""
        last = items[-1]
        if isinstance(last, Event) and (self.latest is None or last.time > self.latest):
            self.latest = last.time

    def check(self, held: int) -> None:
        """:class:`SlowConsumerError` when this and ``held`` items are more than twice the size."""
        if len(self.items) + held > 2 * self.size:
            raise SlowConsumerError(
                f"the consumer is more than {2 * self.size} items behind the server "
                "while a command waited for its answer; consume faster or raise buffer="
            )

    def pop(self) -> Item | None:
        """The oldest item, or None when empty."""
        if not self.items:
            return None
        item = self.items.popleft()
        if self.room_wanted and len(self.items) < self.size:
            self.room_wanted = False
            self._room.set()
        return item

    async def readable(self) -> None:
        """Wait until something was put (or :meth:`wake`). One consumer waits at a time: a
        second task is a ``RuntimeError`` (with two, the event one hands out would count as
        processed when the other asks for the next, and a checkpoint would skip it)."""
        if self._reader:
            raise RuntimeError("another task is already iterating this live stream")
        self._reader = True
        self._readable.clear()
        try:
            await self._readable.wait()
        finally:
            self._reader = False


class Hold:
    """Live events held back while a new connection's session is settled (a gap fill may
    bring older ones, which go first), then handed to the buffer in order. Once it holds
    the buffer's ``size``, or while they are handed over, a producer that may wait waits."""

    def __init__(self, buffer: Buffer) -> None:
        self._buffer = buffer
        self._events: list[Event] | None = None
        self._releasing = False
        self._moved = asyncio.Event()

    @property
    def holding(self) -> bool:
        return self._events is not None

    @property
    def active(self) -> bool:
        """Holding, or handing the held events over (else :meth:`take` has nothing to do)."""
        return self._events is not None or self._releasing

    def start(self) -> None:
        """Hold what comes from now on (what is held already stays held)."""
        if self._events is None:
            self._events = []

    def wake(self) -> None:
        """Wake a waiting producer (to ask ``may_wait()`` again, or on close)."""
        self._moved.set()

    def _full(self) -> bool:
        """Whether a producer that may wait must: the held events are being handed over,
        or as many as the buffer holds are held (the gap fill does not need the socket)."""
        held = self._events
        full = held is not None and len(held) >= self._buffer.size
        return (self._releasing or full) and not self._buffer.closed

    async def take(self, events: list[Event], may_wait: Callable[[], bool]) -> bool:
        """Hold ``events`` if holding (True); while the held ones are being handed over or
        fill the buffer's size, wait first, when ``may_wait()`` says so (else they join them)."""
        while self._full() and may_wait():
            self._moved.clear()
            await self._moved.wait()
        if self._events is None:
            return False
        self._events.extend(events)
        self._buffer.check(len(self._events))
        return True

    async def release(self, may_wait: Callable[[], bool]) -> None:
        """Hand every held event to the buffer, in order, and stop holding."""
        self._releasing = True
        try:
            while self._events:
                held, self._events = self._events, []
                await self._buffer.put(held, may_wait)
        finally:
            self._events, self._releasing = None, False
            self._moved.set()
