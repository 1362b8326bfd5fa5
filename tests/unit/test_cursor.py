"""The stream's memory (cursor.py) against a plain model of its rule, on random histories.

The model is the rule of the module's docstring written the obvious way (an OrderedDict,
one step per event): whatever the cursor does in bulk must keep exactly the same ids.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from xprotect_events.cursor import Cursor

T0 = datetime(2026, 12, 1, tzinfo=UTC)
WINDOW = timedelta(milliseconds=50)
LIMIT = 8


@attrs.frozen
class Stamp:
    id: uuid.UUID
    time: datetime


class Model:
    """Delivered ids in delivery order; drop the oldest while over LIMIT or past WINDOW."""

    def __init__(self) -> None:
        self.recent: OrderedDict[int, datetime] = OrderedDict()
        self.last: datetime | None = None

    def unseen(self, events: list[Stamp]) -> list[Stamp]:
        fresh, taken = [], set()
        for event in events:
            if event.id.int not in self.recent and event.id.int not in taken:
                taken.add(event.id.int)
                fresh.append(event)
        return fresh

    def advance(self, events: list[Stamp]) -> None:
        if not events:
            return
        for event in events:
            self.recent[event.id.int] = event.time
        newest = max(e.time for e in events)
        self.last = newest if self.last is None or newest > self.last else self.last
        floor = self.last - WINDOW
        while self.recent:
            first = next(iter(self.recent))
            if len(self.recent) <= LIMIT and self.recent[first] >= floor:
                return
            del self.recent[first]


# Few ids and times, so that repeats, ties and out-of-order times are common.
stamps = st.builds(
    Stamp,
    id=st.integers(0, 24).map(lambda i: uuid.UUID(int=i)),
    time=st.integers(0, 200).map(lambda ms: T0 + timedelta(milliseconds=ms)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.lists(stamps, max_size=12), st.booleans()), max_size=30))
def test_the_cursor_keeps_what_the_plain_rule_keeps(reads: list[tuple[list[Stamp], bool]]) -> None:
    cursor, model = Cursor(None, window=WINDOW, limit=LIMIT), Model()
    for events, filtered in reads:
        assert cursor.unseen(events) == model.unseen(events)
        delivered = model.unseen(events) if filtered else events
        cursor.advance(delivered, unseen=filtered)
        model.advance(delivered)
        assert len(cursor) == len(model.recent)
        assert [cursor.seen(Stamp(uuid.UUID(int=i), T0)) for i in range(25)] == [
            i in model.recent for i in range(25)
        ]
        assert cursor.last == model.last


def test_a_long_stream_keeps_the_count_bound_and_forgets_in_order() -> None:
    cursor = Cursor(None, window=timedelta(days=1), limit=1000)
    ids = [uuid.UUID(int=i) for i in range(20_000)]
    for start in range(0, 20_000, 700):
        cursor.advance([Stamp(i, T0) for i in ids[start : start + 700]])
    assert len(cursor) == 1000
    assert cursor.seen(Stamp(ids[-1000], T0))
    assert not cursor.seen(Stamp(ids[-1001], T0))
