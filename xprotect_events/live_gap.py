"""Filling a live stream's gap from the REST store after a failed resume, and reporting it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from . import ws_wire
from .models import Event
from .positions import LivePosition
from .ws_wire import Gap, Rule

log = logging.getLogger("xprotect_events.live")

#: Hands events to the consumer, dropping those delivered before; how many were new.
Deliver = Callable[[list[Event]], Awaitable[int]]


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
