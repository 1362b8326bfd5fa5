"""``list_events`` against a server that repeats events in a page, answers out of order, or
ignores the page number.

Over loopback, a hostile server (:mod:`tests.hostile`) whose pages a test scripts. A
repeated id is yielded once; a page out of the order asked for is a ProtocolError before
any of its events (under a bound moved to its last event the next page would skip); a
server that answers every page with the same events is refused, not read for ever.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web

from tests.hostile import CLIENT_ID, CLIENT_SECRET, Hostile, event
from xprotect_events import Event, ProtocolError, RetryPolicy, XProtectClient
from xprotect_events.filters import parse_conditions


@pytest.fixture
async def client(hostile: Hostile) -> AsyncIterator[XProtectClient]:
    async with XProtectClient(
        hostile.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, retry=RetryPolicy(attempts=1)
    ) as c:
        yield c


async def collect(listing: AsyncIterator[Event], seen: list[str | None]) -> None:
    async for e in listing:
        seen.append(e.tag)


def at(number: int, tag: str) -> dict[str, Any]:
    """Event ``number`` (its id), at the time of event ``tag``'s number, tagged ``tag``."""
    return {**event(number), "time": event(int(tag[1:]))["time"], "tag": tag}


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_an_event_a_page_repeats_is_yielded_once(
    hostile: Hostile, client: XProtectClient, order: str
) -> None:
    a, b = event(1), event(2)
    page = [a, a, b, {**b, "tag": "b again"}]
    hostile.events = page if order == "asc" else page[::-1]
    seen = [e.tag async for e in client.list_events(order=order)]  # type: ignore[arg-type]
    assert seen == (["e1", "e2"] if order == "asc" else ["b again", "e1"])


async def test_an_event_sent_again_with_a_later_time_is_yielded_once(
    hostile: Hostile, client: XProtectClient
) -> None:
    """Page 0: e1, e2. The next page (from e2's time): e2's id again, 5 ms later, then e7."""

    async def pages(request: web.Request) -> web.StreamResponse:
        if "time" not in request.query:
            return web.json_response({"_links": {"next": "p1"}, "array": [event(1), event(2)]})
        assert [op for op, _ in parse_conditions(request.query["time"])] == ["gt"]
        return web.json_response({"_links": {}, "array": [at(2, "e7"), event(8)]})

    hostile.on("list", pages)
    assert [e.tag async for e in client.list_events(page_size=2)] == ["e1", "e2", "e8"]


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_a_page_out_of_order_is_refused_before_any_of_it(
    hostile: Hostile, client: XProtectClient, order: str
) -> None:
    """Asked oldest first, the server answers newest first (or the other way round): the
    listing would move its bound past the events it has not read yet, and skip them."""
    page = [event(5), event(4), event(3)]
    hostile.events = page if order == "asc" else page[::-1]
    seen: list[str | None] = []
    with pytest.raises(ProtocolError, match="not in time order"):
        await collect(client.list_events(order=order, page_size=3), seen)  # type: ignore[arg-type]
    assert seen == []


async def test_a_later_page_out_of_order_is_refused_before_any_of_it(
    hostile: Hostile, client: XProtectClient
) -> None:
    async def pages(request: web.Request) -> web.StreamResponse:
        if "time" not in request.query:
            return web.json_response({"_links": {"next": "p1"}, "array": [event(1), event(2)]})
        return web.json_response({"_links": {}, "array": [event(9), event(3)]})

    hostile.on("list", pages)
    seen: list[str | None] = []
    with pytest.raises(ProtocolError, match="oldest first"):
        await collect(client.list_events(page_size=2), seen)
    assert seen == ["e1", "e2"]


async def test_events_at_one_time_are_in_order_in_any_order_of_their_ids(
    hostile: Hostile, client: XProtectClient
) -> None:
    """Ties are in order whatever their ids: nothing is refused that a server may send."""
    hostile.events = [at(9, "e1"), at(3, "e1"), at(5, "e1"), event(2)]
    assert len([e async for e in client.list_events()]) == 4


def ignoring_page(pages: list[list[int]], *, cycle: bool = False) -> Any:
    """``GET /events`` answering request n with ``pages[n]`` (then the last one, or from
    the first again with ``cycle``), whatever page it asks, with a ``next`` link on every
    page: a server that ignores ``page`` (and the time filter)."""
    count = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal count
        numbers = pages[count % len(pages) if cycle else min(count, len(pages) - 1)]
        count += 1
        array = [{**event(n), "time": f"2024-05-01T12:00:{n:02d}Z"} for n in numbers]
        return web.json_response({"_links": {"next": "more"}, "array": array})

    return handler


async def test_a_server_that_ignores_the_page_number_is_refused_not_read_for_ever(
    hostile: Hostile, client: XProtectClient
) -> None:
    """Every page is the first, with a ``next`` link: the listing yielded it and asked the
    next page for ever. Two pages that repeat an earlier one, while only the page number
    moves: refused."""
    hostile.on("list", ignoring_page([[1, 2, 3]]))
    seen: list[str | None] = []
    with pytest.raises(ProtocolError, match="ignores the page parameter"):
        await collect(client.list_events(page_size=3), seen)
    assert seen == ["e1", "e2", "e3"]
    pages = [parse_qs(urlsplit(s.url).query).get("page") for s in hostile.requests("list")]
    # the first; the one that found the time filter ignored; then by number, three alike
    assert pages == [["0"], ["0"], ["1"], ["2"], ["3"]]


async def test_one_page_repeated_is_let_pass(hostile: Hostile, client: XProtectClient) -> None:
    """A page that comes back once the same (the store moved under the page numbers) is no
    proof the server ignores ``page``: the listing reads on, and yields each event once."""
    hostile.on("list", ignoring_page([[1, 2], [3, 4], [3, 4], [5, 6], []]))
    assert [e.tag async for e in client.list_events(page_size=2)] == [
        "e1", "e2", "e3", "e4", "e5", "e6"
    ]  # fmt: skip


async def test_a_server_cycling_through_pages_is_refused_not_read_for_ever(
    hostile: Hostile, client: XProtectClient
) -> None:
    """Pages A, B, A, B, … whatever page is asked: no two in a row alike, each event new once.
    Two pages that repeat an earlier one whole: refused."""
    hostile.on("list", ignoring_page([[1, 2], [3, 4]], cycle=True))
    seen: list[str | None] = []
    with pytest.raises(ProtocolError, match="ignores the page parameter"):
        await collect(client.list_events(page_size=2), seen)
    assert seen == ["e1", "e2", "e3", "e4"]
