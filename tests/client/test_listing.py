"""``list_events`` while the store changes: keyset paging on the event time (WIRE.md list
events), over loopback HTTP against the simulator and against :class:`TickServer`, a small
server that keeps times in 100 ns ticks as real servers write them.

The consumer changes the store between two pages: the listing reads the next page only
when the consumer asks for the event after the last of a page, so no race is won by timing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import attrs
import pytest
from aiohttp import web

from tests.hostile import CAMERA, CLIENT_ID, CLIENT_SECRET, TYPE_ID, Hostile
from xprotect_events import XProtectClient, gt, lt
from xprotect_events.filters import parse_conditions
from xprotect_events.policy import RetryPolicy
from xprotect_events.profile import Profile
from xprotect_events.testing import SimClock, Simulator, seed

QUICK = RetryPolicy(attempts=3, backoff_initial=0.01, backoff_max=0.02, jitter=0)
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
Order = Literal["asc", "desc"]


# --------------------------------------------------------------------------- the simulator


@pytest.fixture
async def frozen() -> AsyncIterator[Simulator]:
    """A simulator whose clock moves only when a test moves it (retention on demand)."""
    async with Simulator(clock=SimClock.frozen(NOW)) as sim:
        yield sim


@pytest.fixture
async def service(frozen: Simulator) -> AsyncIterator[XProtectClient]:
    async with XProtectClient(
        frozen.url, client_id="service", client_secret="service-secret", retry=QUICK
    ) as c:
        yield c


def store(sim: Simulator, times: list[datetime], *, type_id: uuid.UUID, first: int = 0) -> None:
    """Events tagged ``n<first>``, ``n<first+1>`` … at ``times``."""
    items = [{"type": type_id, "time": t, "tag": f"n{first + i}"} for i, t in enumerate(times)]
    assert sim.store_events(items) == len(items)


def seconds(count: int, start: datetime) -> list[datetime]:
    return [start + timedelta(seconds=i) for i in range(count)]


def tags(first: int, stop: int, step: int = 1) -> list[str]:
    return [f"n{i}" for i in range(first, stop, step)]


async def test_an_asc_listing_yields_every_event_kept_once_while_the_oldest_expire(
    frozen: Simulator, service: XProtectClient
) -> None:
    """Retention deletes the five oldest between two pages: page-number paging would shift
    the rest back by five and skip n10..n14, which stay stored throughout."""
    retention = seed.SHORT_RETENTION_SECONDS
    start = NOW - timedelta(seconds=30)
    store(frozen, seconds(30, start), type_id=seed.SHORT_RETENTION_EVENT)
    seen: list[str | None] = []
    async for event in service.list_events(page_size=10):
        seen.append(event.tag)
        if len(seen) == 10:  # the first page is taken: the five oldest expire now
            frozen.clock.advance(retention - 25 - 0.5)
            assert frozen.sweep() == 5
    assert seen == tags(0, 30)


async def test_a_desc_listing_repeats_nothing_while_more_than_a_page_arrives(
    frozen: Simulator, service: XProtectClient
) -> None:
    """Fifteen newer events arrive after the first page of ten: page numbers would shift by
    one and a half pages and repeat n20..n24."""
    store(frozen, seconds(30, NOW - timedelta(seconds=60)), type_id=seed.ANALYTICS_EVENT)
    seen: list[str | None] = []
    async for event in service.list_events(order="desc", page_size=10):
        seen.append(event.tag)
        if len(seen) == 10:
            store(frozen, seconds(15, NOW), type_id=seed.ANALYTICS_EVENT, first=30)
    assert seen == tags(29, -1, -1)


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_more_events_at_one_time_than_a_page_are_each_yielded_once(
    frozen: Simulator, service: XProtectClient, order: Order
) -> None:
    """35 events share one time between 5 before and 5 after it: the keyset cannot move past
    that time, so the listing reads on by page number until it can."""
    at = NOW - timedelta(seconds=30)
    after = at + timedelta(seconds=1)
    times = seconds(5, at - timedelta(seconds=5)) + [at] * 35 + seconds(5, after)
    store(frozen, times, type_id=seed.ANALYTICS_EVENT)
    seen = [e.tag async for e in service.list_events(order=order, page_size=10)]
    if order == "asc":
        assert seen == tags(0, 45)
    else:  # the simulator writes ties in the reverse order too
        assert seen == tags(44, -1, -1)


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_since_and_until_bound_every_page(
    frozen: Simulator, service: XProtectClient, order: Order
) -> None:
    start = NOW - timedelta(seconds=100)
    store(frozen, seconds(50, start), type_id=seed.ANALYTICS_EVENT)
    since, until = start + timedelta(seconds=5), start + timedelta(seconds=40)
    seen = [
        e.tag
        async for e in service.list_events(
            since=since,
            until=until,
            order=order,
            page_size=7,
        )
    ]
    assert seen == (tags(6, 40) if order == "asc" else tags(39, 5, -1))
    by_filter = service.list_events(filters={"time": [gt(since), lt(until)]}, page_size=7)
    assert [e.tag async for e in by_filter] == tags(6, 40)


async def test_a_limit_stops_a_keyset_listing_where_it_said(
    frozen: Simulator, service: XProtectClient
) -> None:
    store(frozen, seconds(50, NOW - timedelta(seconds=100)), type_id=seed.ANALYTICS_EVENT)
    assert [e.tag async for e in service.list_events(page_size=10, limit=23)] == tags(0, 23)
    assert frozen.stats.requests["GET /api/rest/v1/events"] == 3


# --------------------------------------------------------------------------- 100 ns times

_TIME = re.compile(r"2024-05-01T12:00:(\d\d)\.(\d{7})Z\Z")


def wire_time(ticks: int) -> str:
    """``ticks`` (100 ns) after 12:00:00 on 2024-05-01, as the server writes it."""
    whole, fraction = divmod(ticks, 10_000_000)
    return f"2024-05-01T12:00:{whole:02d}.{fraction:07d}Z"


def ticks_of(text: str) -> int:
    match = _TIME.match(text)
    assert match is not None, text
    return int(match[1]) * 10_000_000 + int(match[2])


@attrs.define
class Stored:
    ticks: int
    number: int

    def wire(self) -> dict[str, Any]:
        return {
            "id": str(uuid.UUID(int=0x0B2C9A8E_56E1_4D4E_9F3A_000000000000 + self.number)),
            "time": wire_time(self.ticks),
            "type": TYPE_ID,
            "source": CAMERA,
            "tag": f"n{self.number}",
            "datatype": None,
        }


@attrs.define
class TickServer:
    """``GET /events`` over ``events`` at 100 ns: ``time=gt:…,lt:…`` compared in ticks
    (``ignore_time``: not at all; ``rounding``: each bound first moved to the 10 ms grid,
    "tight" leaving out more, "loose" letting in more, as the API's stated accuracy
    allows), ordered by time (ties in store order, reversed for desc), paged by number, at
    most ``cap`` a page, ``next`` while more are left."""

    events: list[Stored] = attrs.Factory(list)
    ignore_time: bool = False
    rounding: str | None = None
    cap: int = 2000
    queries: list[dict[str, str]] = attrs.Factory(list)

    def add(self, *ticks: int) -> None:
        first = len(self.events)
        self.events.extend(Stored(t, first + i) for i, t in enumerate(ticks))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        self.queries.append(query)
        page, size = int(query["page"]), min(int(query["size"]), self.cap)
        desc = query["orderBy"].startswith("desc")
        bounds = [] if self.ignore_time else self.bounds(query.get("time"))
        chosen = [e for e in self.events if all(test(e.ticks) for test in bounds)]
        chosen.sort(key=lambda e: e.ticks, reverse=desc)
        items = chosen[page * size : (page + 1) * size]
        links = {"next": str(request.url.update_query(page=page + 1))}
        if (page + 1) * size >= len(chosen):
            links = {}
        return web.json_response({"_links": links, "array": [e.wire() for e in items]})

    def bounds(self, text: str | None) -> list[Callable[[int], bool]]:
        tests: list[Callable[[int], bool]] = []
        for op, value in parse_conditions(text) if text else []:
            bound = self.rounded(op, ticks_of(str(value)))
            if op == "gt":
                tests.append(lambda t, b=bound: t > b)
            else:
                tests.append(lambda t, b=bound: t < b)
        return tests

    def rounded(self, op: str, ticks: int) -> int:
        if self.rounding is None:
            return ticks
        grid = 100_000  # 10 ms
        up = (op == "gt") == (self.rounding == "tight")
        return -(-ticks // grid) * grid if up else ticks // grid * grid


@pytest.fixture
async def tick_server() -> AsyncIterator[tuple[TickServer, Hostile]]:
    server = TickServer()
    async with Hostile() as hostile:
        hostile.on("list", server.handle)
        yield server, hostile


def client_of(hostile: Hostile, accuracy: float = 0.01) -> XProtectClient:
    return XProtectClient(
        hostile.url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        retry=QUICK,
        profile=Profile(time_filter_accuracy=accuracy),
    )


@pytest.fixture
async def ticks(
    tick_server: tuple[TickServer, Hostile],
) -> AsyncIterator[tuple[TickServer, XProtectClient]]:
    server, hostile = tick_server
    async with client_of(hostile) as c:
        yield server, c


def numbers(seen: list[str | None]) -> list[int]:
    return [int(str(tag)[1:]) for tag in seen]


SECOND = 10_000_000  # ticks


@pytest.mark.parametrize("accuracy", [0.0, 0.01])
async def test_times_finer_than_a_microsecond_are_read_again_not_skipped(
    tick_server: tuple[TickServer, Hostile], accuracy: float
) -> None:
    """.1234565 and .1234567 both read as .123457 (half up): a bound 100 ns under the last
    time would skip the third; the oldest is deleted between pages, so page numbers
    would too."""
    server, hostile = tick_server
    server.add(1_234_560, 1_234_565, 1_234_566, 1_234_567, 1_234_574, 1_234_575, 1_234_580)
    seen: list[str | None] = []
    async with client_of(hostile, accuracy) as client:
        async for event in client.list_events(page_size=2):
            seen.append(event.tag)
            if len(seen) == 2:
                del server.events[0]
    assert numbers(seen) == list(range(7))


@pytest.mark.parametrize("accuracy", [0.0, 0.01])
async def test_desc_times_finer_than_a_microsecond_are_read_again_not_skipped(
    tick_server: tuple[TickServer, Hostile], accuracy: float
) -> None:
    """.1234574 reads as .123457: a bound 100 ns over it would skip .1234573; the newer
    events that arrive meanwhile are not yielded (they are behind the listing)."""
    server, hostile = tick_server
    server.add(1_234_570, 1_234_571, 1_234_573, 1_234_574, 1_234_580)
    seen: list[str | None] = []
    async with client_of(hostile, accuracy) as client:
        async for event in client.list_events(order="desc", page_size=2):
            seen.append(event.tag)
            if len(seen) == 2:
                server.add(1_234_590, 1_234_591, 1_234_592)
    assert numbers(seen) == [4, 3, 2, 1, 0]


@pytest.mark.parametrize("rounding", ["tight", "loose"])
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_a_server_that_rounds_the_bound_to_10_ms_loses_and_repeats_nothing(
    ticks: tuple[TickServer, XProtectClient], rounding: str, order: Order
) -> None:
    """Events 3 ms apart, and the oldest deleted between pages."""
    server, client = ticks
    server.rounding = rounding
    server.add(*range(0, 60 * 30_000, 30_000))
    seen: list[str | None] = []
    async for event in client.list_events(order=order, page_size=7):
        seen.append(event.tag)
        if len(seen) == 7:
            del server.events[0 if order == "asc" else -1]
    want = list(range(60)) if order == "asc" else list(range(59, -1, -1))
    assert numbers(seen) == want
    assert all("time" not in q or q["page"] == "0" for q in server.queries)


async def test_a_capped_short_page_with_a_next_link_is_not_the_last(
    ticks: tuple[TickServer, XProtectClient],
) -> None:
    server, client = ticks
    server.cap = 3
    server.add(*range(0, 20 * SECOND, SECOND))
    assert numbers([e.tag async for e in client.list_events(page_size=10)]) == list(range(20))
    assert all(q["page"] == "0" for q in server.queries)


def narrowed(query: dict[str, str]) -> list[tuple[str, int]]:
    return [(op, ticks_of(str(v))) for op, v in parse_conditions(query["time"])]


async def test_each_page_asks_for_the_tighter_of_the_bound_and_since_until(
    ticks: tuple[TickServer, XProtectClient],
) -> None:
    server, client = ticks
    server.add(*range(0, 30 * SECOND, SECOND))
    since = datetime(2024, 5, 1, 12, 0, 4, tzinfo=UTC)
    until = datetime(2024, 5, 1, 12, 0, 25, tzinfo=UTC)
    listing = client.list_events(since=since, until=until, page_size=5)
    assert numbers([e.tag async for e in listing]) == list(range(5, 25))
    step = 100_000 + 10  # 10 ms and 1 us
    asked = [narrowed(q) for q in server.queries]
    assert asked[0] == [("gt", 4 * SECOND), ("lt", 25 * SECOND)]
    assert asked[1:] == [
        [("gt", last * SECOND - step), ("lt", 25 * SECOND)] for last in (9, 14, 19)
    ]
    server.queries.clear()
    listing = client.list_events(since=since, until=until, page_size=5, order="desc")
    assert numbers([e.tag async for e in listing]) == list(range(24, 4, -1))
    asked = [narrowed(q) for q in server.queries]
    assert asked[1:] == [
        [("gt", 4 * SECOND), ("lt", last * SECOND + step)] for last in (20, 15, 10)
    ]


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_a_server_that_ignores_the_time_filter_is_read_by_page_number(
    ticks: tuple[TickServer, XProtectClient], order: Order
) -> None:
    """The first narrowed page starts before its bound: from then on the listing reads by
    page number (once each page), neither looping nor repeating nor skipping."""
    server, client = ticks
    server.ignore_time = True
    server.add(*range(0, 25 * SECOND, SECOND))
    seen = [e.tag async for e in client.list_events(order=order, page_size=10)]
    assert numbers(seen) == (list(range(25)) if order == "asc" else list(range(24, -1, -1)))
    assert [q["page"] for q in server.queries] == ["0", "0", "1", "2"]
    assert "time" in server.queries[1]
    assert all("time" not in q for q in server.queries[2:])


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_a_server_that_ignores_the_time_filter_within_its_accuracy_skips_nothing(
    ticks: tuple[TickServer, XProtectClient], order: Order
) -> None:
    """All 45 events within 10 ms, so the filter's accuracy hides that it is ignored:
    each narrowed read starts over, and still nothing repeats or is skipped."""
    server, client = ticks
    server.ignore_time = True
    server.add(*range(0, 45 * 2_000, 2_000))
    seen = [e.tag async for e in client.list_events(order=order, page_size=10)]
    assert numbers(seen) == (list(range(45)) if order == "asc" else list(range(44, -1, -1)))
    assert len(server.queries) < 45


async def test_a_server_that_ignores_the_time_filter_repeats_nothing_as_events_arrive(
    ticks: tuple[TickServer, XProtectClient],
) -> None:
    """Desc, page by page, as two pages of newer events arrive: what shifts onto the next
    page is dropped by its time (it is not older than the last event yielded)."""
    server, client = ticks
    server.ignore_time = True
    server.add(*range(0, 30 * SECOND, SECOND))
    seen: list[str | None] = []
    async for event in client.list_events(order="desc", page_size=10):
        seen.append(event.tag)
        if len(seen) == 10:
            server.add(*range(31 * SECOND, 56 * SECOND, SECOND))
    assert numbers(seen) == list(range(29, -1, -1))
