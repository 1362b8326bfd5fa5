"""Filling a live stream's gap from the REST store after a failed resume, and reporting it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Literal

from . import ws_wire
from .errors import XProtectError
from .live_link import ListStored
from .models import Event
from .positions import ACCURACY, LivePosition
from .ws_wire import Gap, Rule

log = logging.getLogger("xprotect_events.live")

#: Hands events to the consumer, dropping those delivered before; how many were new.
Deliver = Callable[[list[Event]], Awaitable[int]]
#: ``getState``'s answer on the new connection.
States = Callable[[], Awaitable[list[Event]]]


async def fill_gap(
    start: datetime,
    rules: list[Rule],
    stored_types: frozenset[uuid.UUID] | Literal["all"] | None,
    list_stored: ListStored,
    *,
    after: LivePosition | None,
    deliver: Deliver,
    states: States | None,
) -> Gap | None:
    """Deliver the stored events since ``start`` (the last delivered event's time; the fill
    starts :data:`~xprotect_events.positions.ACCURACY` before it) that the ``rules`` match,
    then with ``states`` (``state()`` was used) the state changes the gap hid. The
    :class:`Gap` to report, None when the store keeps every type the rules include. A fill
    that fails is logged; its gap's ``types`` are then unknown (None)."""
    end = datetime.now(UTC)
    filled = 0
    types = ws_wire.gap_types(rules, stored_types)
    try:
        since = start - ACCURACY
        filled = await fill_from_store(list_stored(since), rules, after, deliver)
        if states is not None:
            rows = await states()
            filled += await deliver(sorted((r for r in rows if r.time > since), key=_time))
    except XProtectError as exc:
        log.warning("live: could not fill the gap from the store: %s", exc)
        types = None
    return None if types is False else Gap(start=start, end=end, types=types, filled=filled)


async def fill_from_store(
    stored: AsyncIterator[Event],
    rules: list[Rule],
    after: LivePosition | None,
    deliver: Deliver,
) -> int:
    """Deliver the ``stored`` events the rules match; how many were new. ``after``: the
    checkpoint a restarted stream began from, before it delivered anything. The events
    listed up to its event (at or before its time) were processed in the previous run."""
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


def report(gap: Gap, on_gap: Callable[[Gap], None] | None) -> None:
    """A WARNING, and the ``on_gap`` callback."""
    log.warning(
        "live: the session could not be resumed; %d events filled from the store; "
        "events between %s and %s of types it does not keep may be missing",
        gap.filled,
        gap.start.isoformat(),
        gap.end.isoformat(),
    )
    if on_gap is not None:
        on_gap(gap)


def _time(event: Event) -> datetime:
    return event.time
