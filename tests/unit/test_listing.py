"""The pure parts of keyset listing: the edge of a listing, its bounds, its options."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from xprotect_events import InvalidInputError, gt, lt
from xprotect_events.listing import Edge, Pager, short_of
from xprotect_events.models import Event
from xprotect_events.options import list_query
from xprotect_events.profile import Profile

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
MS10 = timedelta(milliseconds=10)
TYPE = uuid.UUID("afbbf1ed-2068-40fa-97a3-7225149024c6")


def at(us: int, number: int) -> Event:
    return Event(id=uuid.UUID(int=number), time=T0 + us * US, type=TYPE)


def test_the_bound_stops_the_accuracy_and_a_microsecond_short() -> None:
    edge = Edge(list_query({}, 2000), MS10)
    edge.took([at(0, 1), at(5, 2), at(20_000, 3)])
    assert edge.last == T0 + 20_000 * US
    assert edge.bound == T0 + 20_000 * US - MS10 - US
    assert edge.time_filter() == "gt:'2024-05-01T12:00:00.0099990Z'"
    assert set(edge.near) == {3}  # only what a page under the bound returns again


def test_fresh_drops_what_is_behind_the_last_time_or_yielded_at_it() -> None:
    edge = Edge(list_query({}, 2000), timedelta(0))
    edge.took([at(1, 1), at(2, 2)])
    page = [at(1, 1), at(2, 2), at(2, 3), at(1, 9), at(3, 4)]
    assert [e.id.int for e in edge.fresh(page)] == [3, 4]


def test_desc_keeps_the_callers_since_and_narrows_until() -> None:
    query = list_query({"order": "desc", "since": T0, "until": T0 + 100 * US}, 2000)
    edge = Edge(query, timedelta(0))
    assert edge.bound == T0 + 100 * US
    edge.took([at(50, 1), at(40, 2)])
    assert edge.bound == T0 + 41 * US
    assert edge.time_filter() == (
        "gt:'2024-05-01T12:00:00.0000000Z',lt:'2024-05-01T12:00:00.0000410Z'"
    )


def test_a_bound_past_what_a_datetime_holds_does_not_move() -> None:
    low = datetime.min.replace(tzinfo=UTC)
    assert short_of(low, US, desc=False) is None
    edge = Edge(list_query({}, 2000), MS10)
    edge.took([Event(id=uuid.UUID(int=1), time=low, type=TYPE)])
    assert edge.bound is None
    pager = Pager(list_query({}, 2000), edge, 2000)
    pager.advance()
    assert (pager.page, pager.narrowed) == (1, False)


def test_the_pager_moves_the_bound_and_falls_back_once() -> None:
    query = list_query({"page_size": 2}, 2000)
    edge = Edge(query, timedelta(0))
    pager = Pager(query, edge, 2000)
    edge.took([at(10, 1), at(20, 2)])
    pager.advance()
    assert pager.params()["page"] == "0"
    assert pager.params()["size"] == "3"  # two new and the one at the bound again
    assert "time" in pager.params()
    assert pager.ignored([at(10, 1), at(20, 2), at(30, 3)])
    assert pager.params() == {"size": "2", "orderBy": "asc:'time'", "page": "1"}
    assert not pager.ignored([at(10, 1)])  # page numbers from now on


def test_since_and_until_are_the_tightest_of_the_time_conditions() -> None:
    query = list_query({"filters": {"time": [gt(T0), gt(T0 + US), lt(T0 + 9 * US)]}}, 2000)
    assert (query.since, query.until, query.desc) == (T0 + US, T0 + 9 * US, False)
    assert query.params["time"].count("gt:") == 2  # sent as given


@pytest.mark.parametrize("value", [-0.1, float("nan"), True, "0.01", 3600.0])
def test_the_filter_accuracy_is_checked(value: object) -> None:
    with pytest.raises(InvalidInputError, match="time_filter_accuracy"):
        Profile(time_filter_accuracy=value)  # type: ignore[arg-type]
