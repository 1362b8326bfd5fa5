"""The resume point of an event stream: the newest delivered time and the ids near it. Pure.

Event times are accurate to 10 ms [seed], so a resumed session starts 10 ms before the
newest delivered time, and the ids delivered in the last 20 ms are remembered so that the
events it returns again are dropped: events that share the last delivered time are neither
lost nor repeated.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from .models import Event

#: Event times are accurate to 10 ms [seed]: a resumed session starts this much earlier.
ACCURACY = timedelta(milliseconds=10)
#: Ids delivered this close to the newest delivered time are remembered for deduplication.
DEDUP_WINDOW = 2 * ACCURACY


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
