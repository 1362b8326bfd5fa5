"""Filling a live stream's gap from the REST store after a failed resume, and reporting it."""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Literal

import attrs

from . import ws_wire
from .errors import XProtectError
from .live_link import ListStored
from .models import Event
from .positions import ACCURACY, LivePosition
from .ws_wire import Gap, OnGap, Rule

log = logging.getLogger("xprotect_events.live")

#: Hands events to the consumer, dropping those delivered before; how many were new.
Deliver = Callable[[list[Event]], Awaitable[int]]
#: ``getState``'s answer on the new connection.
States = Callable[[], Awaitable[list[Event]]]


@attrs.define
class Fill:
    """A gap being filled: from when, until when, what it may lack (see
    :func:`.ws_wire.gap_types`; None once a fill failed) and how many events came."""

    start: datetime
    end: datetime
    types: tuple[uuid.UUID, ...] | Literal[False] | None
    filled: int = 0

    def failed(self, exc: XProtectError) -> None:
        log.warning("live: could not fill the gap from the store: %s", exc)
        self.types = None

    def gap(self) -> Gap | None:
        """The :class:`Gap` to report, None when the store keeps every type and no step failed."""
        if self.types is False:
            return None
        return Gap(start=self.start, end=self.end, types=self.types, filled=self.filled)


async def fill_gap(
    start: datetime,
    rules: list[Rule],
    stored_types: frozenset[uuid.UUID] | Literal["all"] | None,
    list_stored: ListStored,
    *,
    after: LivePosition | None,
    deliver: Deliver,
) -> Fill:
    """Deliver the stored events since ``start`` (the last delivered event's time; the fill
    starts :data:`~xprotect_events.positions.ACCURACY` before it) that the ``rules`` match.
    A fill that fails is logged; its gap's ``types`` are then unknown (None)."""
    fill = Fill(start, datetime.now(UTC), ws_wire.gap_types(rules, stored_types))
    try:
        fill.filled = await fill_from_store(list_stored(start - ACCURACY), rules, after, deliver)
    except XProtectError as exc:
        fill.failed(exc)
    return fill


async def fill_states(fill: Fill, states: States, deliver: Deliver, seen: LiveStates) -> None:
    """Deliver the state changes the gap hid: the rows of ``states()`` (``getState`` on the
    new connection) newer than the gap's start, but those that a live event already
    delivered since the new connection made stale (``seen``: the live events went to the
    consumer while the answer was awaited). A failure is logged, as in :func:`fill_gap`."""
    try:
        rows = await states()
    except XProtectError as exc:
        return fill.failed(exc)
    if seen.full:  # which rows are stale is not known: none is delivered
        return fill.failed(XProtectError(f"more than {MAX_STATE_KEYS} state groups changed"))
    since = fill.start - ACCURACY
    fresh = sorted((r for r in rows if r.time > since and not seen.newer(r)), key=_time)
    fill.filled += await deliver(fresh)
    return None


#: The most sources and state groups :class:`LiveStates` keeps (a large system has some
#: thousands); past it, the state rows of a gap are not delivered (the gap says so).
MAX_STATE_KEYS = 100_000


class LiveStates:
    """The time of the latest live event of each source and state group, from when a new
    connection starts until its gap's ``getState`` was answered (None: not watching), at
    most :data:`MAX_STATE_KEYS` of them (``full`` past that)."""

    def __init__(self) -> None:
        self._latest: dict[tuple[str | None, object], datetime] | None = None
        self.full = False

    def watch(self, on: bool) -> None:
        self._latest = {} if on else None
        self.full = False

    def saw(self, events: list[Event]) -> None:
        latest = self._latest
        if latest is None:
            return
        for event in events:
            if (group := event.extra.get("stategroupid")) is not None:
                key = (event.source, group)
                if key in latest:
                    latest[key] = max(latest[key], event.time)
                elif len(latest) < MAX_STATE_KEYS:
                    latest[key] = event.time
                else:
                    self.full = True

    def newer(self, row: Event) -> bool:
        """Whether a live event of ``row``'s source and state group, at or after its time,
        was delivered already (the row is then stale)."""
        when = (self._latest or {}).get((row.source, row.extra.get("stategroupid")))
        return when is not None and when >= row.time


async def fill_from_store(
    stored: AsyncIterator[Event],
    rules: list[Rule],
    after: LivePosition | None,
    deliver: Deliver,
) -> int:
    """Deliver the ``stored`` events the rules match; how many were new. ``after``: the
    checkpoint a restarted stream began from, before it delivered anything. The events
    listed up to its event (at or before its time) were processed in the previous run.
    ``stored`` is closed on every exit (the stream stopped mid-fill, an error, the end)."""
    try:
        return await _fill(stored, rules, after, deliver)
    finally:
        if (close := getattr(stored, "aclose", None)) is not None:
            await close()


async def _fill(
    stored: AsyncIterator[Event],
    rules: list[Rule],
    after: LivePosition | None,
    deliver: Deliver,
) -> int:
    boundary: list[Event] = []  # at or before the checkpoint's time, until its event
    filled = 0
    async for event in stored:
        if not ws_wire.delivered(rules, event.type, event.source):
            continue
        if after is not None and event.time <= after.time:
            if event.id == after.event_id:
                boundary.clear()  # it, and the events listed before it, were processed
            else:
                boundary.append(event)
            continue
        boundary.append(event)
        filled += await deliver(boundary)
        boundary = []
    return filled + await deliver(boundary)


async def report(gap: Gap, on_gap: OnGap | None) -> None:
    """A WARNING, and the ``on_gap`` callback (awaited if it is a coroutine function). A
    callback that raises is logged at ERROR and the stream goes on: the gap is on it too."""
    log.warning(
        "live: the session could not be resumed; %d events filled from the store; "
        "events between %s and %s of types it does not keep may be missing",
        gap.filled,
        gap.start.isoformat(),
        gap.end.isoformat(),
    )
    if on_gap is None:
        return
    try:
        called = on_gap(gap)
        if inspect.isawaitable(called):
            await called
    except Exception:
        log.exception("live: the on_gap callback failed (the stream goes on; the gap is on it)")


def _time(event: Event) -> datetime:
    return event.time
