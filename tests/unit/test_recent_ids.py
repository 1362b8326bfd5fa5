"""RecentIds: the live stream's memory of the events it delivered, for dropping repeats."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from xprotect_events.models import Event
from xprotect_events.ws_wire import RecentIds

WHEN = datetime(2024, 5, 1, tzinfo=UTC)
TYPE = uuid.UUID(int=1)


def events(*numbers: int) -> list[Event]:
    return [Event(id=uuid.UUID(int=n), time=WHEN, type=TYPE) for n in numbers]


def test_repeats_in_a_batch_and_across_batches_are_dropped_in_order() -> None:
    recent = RecentIds()
    assert recent.fresh(events(1, 2, 3)) == events(1, 2, 3)
    assert recent.fresh(events(4, 2, 4, 5, 1)) == events(4, 5)
    assert recent.fresh(events(6, 6, 7)) == events(6, 7)
    assert recent.seen(uuid.UUID(int=7))
    assert not recent.seen(uuid.UUID(int=8))
    assert recent.fresh(events(8, 9)) == events(9)


def test_between_size_and_twice_size_ids_are_remembered() -> None:
    recent = RecentIds(size=4)
    recent.fresh(events(1, 2, 3, 4))  # the newer generation is full: it becomes the older
    recent.fresh(events(5, 6, 7, 8))  # … and is dropped when this one is full
    assert recent.fresh(events(1, 5, 8, 9)) == events(1, 9)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 30), max_size=8), max_size=8))
def test_fresh_is_the_first_time_of_each_id_while_remembered(batches: list[list[int]]) -> None:
    recent, seen = RecentIds(size=1000), set()
    for batch in batches:
        expected = []
        for n in batch:
            if n not in seen:
                seen.add(n)
                expected.append(n)
        assert recent.fresh(events(*batch)) == events(*expected)
