"""From a live stream's reader to its consumer: repeats dropped, what a new connection
pushes held behind the fill of its gap, the gap reported (see :mod:`.live`)."""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Literal

from . import ws_wire
from .live_buffer import Buffer, Hold, Item
from .live_conn import Connection
from .live_gap import Fill, LiveStates, fill_gap, fill_states, report
from .live_link import ListStored
from .models import Event
from .positions import LivePosition
from .ws_wire import Gap, OnGap, Rule

#: The most gaps a stream keeps for ``LiveStream.gaps`` (the last ones; each is on the
#: stream and given to ``on_gap`` too).
MAX_GAPS = 100


class Delivery:
    """The events of every connection of one stream, on their way to ``buffer``."""

    def __init__(
        self,
        buffer: Buffer,
        stored: frozenset[uuid.UUID] | Literal["all"] | None,
        list_stored: ListStored,
        on_gap: OnGap | None,
    ) -> None:
        self.buffer = buffer
        self.recent = ws_wire.RecentIds()
        self.hold = Hold(buffer)
        self.states = LiveStates()  # while a gap's getState is awaited
        self._stored = stored
        self._list_stored = list_stored
        self._on_gap = on_gap
        #: The last new event received (the resume point; a repeat never moves it back).
        self.last_id: uuid.UUID | None = None
        #: The last gaps reported, and how many in all.
        self.gaps: deque[Gap] = deque(maxlen=MAX_GAPS)
        self.gap_count = 0
        #: Whether the consumer asked for states (a gap's state changes are then delivered).
        self.state_used = False

    def wake(self) -> None:
        """Wake every producer and the consumer (a command waits now, or the stream closed)."""
        self.buffer.wake()
        self.hold.wake()

    def resume_after(self, event_id: uuid.UUID | None) -> None:
        """Start from the event ``event_id`` (a checkpoint's): the resume point, and a
        repeat of that event is dropped."""
        self.last_id = event_id
        if event_id is not None:
            self.recent.seen(event_id)

    def hold_new(self) -> None:
        """A new connection after a live one: nothing it pushes passes what a gap fill may
        bring, and the states its events change are watched if the consumer asked for states."""
        self.hold.start()
        self.states.watch(self.state_used)

    async def sink(self, conn: Connection, events: list[Event]) -> None:
        """The reader's batches: repeats dropped; the resume point advances."""
        fresh = self.recent.fresh(events)
        if not fresh:
            return
        self.last_id = fresh[-1].id
        conn.received = True
        self.states.saw(fresh)
        hold = self.hold
        if not hold.active or not await hold.take(fresh, lambda: not conn.commands_waiting):
            await self.put(fresh, conn)

    async def put(self, items: Sequence[Item], conn: Connection | None) -> None:
        """Hand items to the consumer, waiting for room in the buffer (``conn``: unless a
        command waits for its answer on that connection: its reader must go on)."""
        await self.buffer.put(items, lambda: conn is None or not conn.commands_waiting)

    async def settled(
        self,
        conn: Connection,
        rules: list[Rule],
        since: datetime,
        after: LivePosition | None,
        state_timeout: float,
    ) -> None:
        """The session of a new connection that did not resume is settled: what the gap
        since ``since`` held goes to the consumer, then the held events (``after``: the
        checkpoint the stream began from); ``getState`` is asked again (within ``state_timeout``)
        if the consumer ever asked for states."""
        latest = self.buffer.latest
        fill = await fill_gap(
            latest or since,
            rules,
            self._stored,
            self._list_stored,
            after=after if latest is None else None,
            deliver=self.deliver_new,
        )
        known = fill.types  # the gap goes where it is: after the fill, before the new events
        await self._report_gap(fill)
        await self.hold.release(lambda: not conn.commands_waiting)
        if self.state_used:  # live events flow while getState is awaited (it may take minutes)
            ask = partial(conn.states, state_timeout)
            await fill_states(fill, ask, self.deliver_new, self.states)
            if known is not None and fill.types is None:  # the state rows could not be read
                await self._report_gap(fill)
        self.states.watch(False)

    async def resumed(self, conn: Connection) -> None:
        """The session of a new connection resumed: the held events go to the consumer."""
        self.states.watch(False)
        await self.hold.release(lambda: not conn.commands_waiting)

    async def _report_gap(self, fill: Fill) -> None:
        if (gap := fill.gap()) is not None:
            self.gaps.append(gap)
            self.gap_count += 1
            await report(gap, self._on_gap)
            await self.put([gap], None)

    async def deliver_new(self, events: list[Event]) -> int:
        fresh = self.recent.fresh(events)
        await self.put(fresh, None)
        return len(fresh)
