"""Configuration listings read every page: ``GET /cameras`` and ``GET /eventTypes`` with
``page``/``size`` until a short page, against the simulator and against servers that page
wrongly (ignore the paging, repeat a page, page for ever), each bounded and without
duplicates."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from aiohttp import web
from yarl import URL

from tests.helpers import FAST_RETRY
from tests.hostile import Hostile
from xprotect_events import ProtocolError, XProtectClient, config
from xprotect_events.testing import Simulator


def camera(number: int) -> dict[str, Any]:
    guid = str(uuid.UUID(int=number + 1))
    return {"id": guid, "name": f"Camera {number}", "displayName": f"Camera {number}"}


def paging(items: list[dict[str, Any]], *, ignore: bool = False, **extra: Any) -> Any:
    """A ``/cameras`` handler that answers ``page``/``size`` slices of ``items`` (all of
    them with ``ignore``), with ``extra`` members beside ``array``."""

    async def handler(request: web.Request) -> web.StreamResponse:
        page, size = int(request.query.get("page", 0)), int(request.query.get("size", 10**9))
        chosen = items if ignore else items[page * size : (page + 1) * size]
        return web.Response(
            body=orjson.dumps({**extra, "array": chosen}), content_type="application/json"
        )

    return handler


@pytest.fixture
def page_size(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Set the listings' page size (and keep the bound on items) for one test."""
    return lambda size: monkeypatch.setattr(config, "PAGE_SIZE", size)


def hostile_client(hostile: Hostile) -> XProtectClient:
    return XProtectClient(hostile.url, username="u", password="p", retry=FAST_RETRY)


def pages_asked(hostile: Hostile) -> list[tuple[str | None, str | None]]:
    urls = [URL(seen.url) for seen in hostile.requests("cameras")]
    return [(url.query.get("page"), url.query.get("size")) for url in urls]


async def test_a_list_larger_than_one_answer_is_read_page_by_page(sim: Simulator) -> None:
    """1,200 cameras do not fit one 200 kB answer; pages of config.PAGE_SIZE do."""
    for number in range(1_200):
        sim.add_camera(f"Extra camera {number}")
    async with XProtectClient(
        sim.url,
        username="admin",
        password="admin",
        retry=FAST_RETRY,
        clock=sim.clock.time,
        max_response_bytes=200_000,
    ) as client:
        cameras = await client.list_cameras()
    assert [c.id for c in cameras] == [c.id for c in sim.cameras]
    assert sim.stats.requests["GET /api/rest/v1/cameras"] >= 3


@pytest.mark.parametrize("size", [1, 3, 7, 100])
async def test_every_page_size_gives_every_item_once(
    sim: Simulator, page_size: Callable[[int], None], size: int
) -> None:
    page_size(size)
    for number in range(20):
        sim.add_event_type(f"Extra type {number}")
    async with XProtectClient(
        sim.url,
        username="admin",
        password="admin",
        retry=FAST_RETRY,
        clock=sim.clock.time,
    ) as client:
        types = await client.list_event_types()
        cameras = await client.list_cameras()
    assert [t.id for t in types] == [t.id for t in sim.event_types]
    assert [c.id for c in cameras] == [c.id for c in sim.cameras]


async def test_pages_are_asked_by_number_and_size(
    hostile: Hostile, page_size: Callable[[int], None]
) -> None:
    hostile.on("cameras", paging([camera(n) for n in range(7)]))
    page_size(3)
    async with hostile_client(hostile) as client:
        cameras = await client.list_cameras()
    assert [c.name for c in cameras] == [f"Camera {n}" for n in range(7)]
    assert pages_asked(hostile) == [("0", "3"), ("1", "3"), ("2", "3")]


async def test_a_full_last_page_ends_with_an_empty_one(
    hostile: Hostile, page_size: Callable[[int], None]
) -> None:
    hostile.on("cameras", paging([camera(n) for n in range(6)]))
    page_size(3)
    async with hostile_client(hostile) as client:
        assert len(await client.list_cameras()) == 6
    assert pages_asked(hostile) == [("0", "3"), ("1", "3"), ("2", "3")]


def capped(items: list[dict[str, Any]], most: int) -> Any:
    """A ``/cameras`` handler that pages ``items`` by ``page`` but never answers more than
    ``most`` per page, whatever ``size`` asks (a server with its own limit)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        page = int(request.query.get("page", 0))
        chosen = items[page * most : (page + 1) * most]
        return web.Response(body=orjson.dumps({"array": chosen}), content_type="application/json")

    return handler


async def test_a_server_that_caps_the_page_size_loses_no_item(
    hostile: Hostile, page_size: Callable[[int], None]
) -> None:
    """Asked for 3, it answers 2 a page: a page shorter than asked is not the last one."""
    hostile.on("cameras", capped([camera(n) for n in range(7)], most=2))
    page_size(3)
    async with hostile_client(hostile) as client:
        cameras = await client.list_cameras()
    assert [c.name for c in cameras] == [f"Camera {n}" for n in range(7)]
    assert pages_asked(hostile) == [(str(n), "3") for n in range(4)]


async def test_a_list_that_fits_one_page_costs_one_more_empty_answer(
    hostile: Hostile, page_size: Callable[[int], None]
) -> None:
    hostile.on("cameras", paging([camera(n) for n in range(2)]))
    page_size(3)
    async with hostile_client(hostile) as client:
        assert len(await client.list_cameras()) == 2
    assert pages_asked(hostile) == [("0", "3"), ("1", "3")]


async def test_a_server_that_ignores_paging_gives_each_item_once(
    hostile: Hostile, page_size: Callable[[int], None]
) -> None:
    """The whole list on every page: the second page brings nothing new, so it ends."""
    hostile.on("cameras", paging([camera(n) for n in range(5)], ignore=True))
    page_size(3)
    async with hostile_client(hostile) as client:
        cameras = await client.list_cameras()
    assert [c.name for c in cameras] == [f"Camera {n}" for n in range(5)]
    assert len(hostile.requests("cameras")) == 2


async def test_a_repeated_page_ends_the_listing_without_duplicates(
    hostile: Hostile, page_size: Callable[[int], None]
) -> None:
    items = [camera(n) for n in range(6)]

    async def repeating(request: web.Request) -> web.StreamResponse:
        page = min(int(request.query["page"]), 1)  # page 2, 3 … repeat page 1
        body = {"array": items[page * 3 : page * 3 + 3]}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    hostile.on("cameras", repeating)
    page_size(3)
    async with hostile_client(hostile) as client:
        cameras = await client.list_cameras()
    assert [c.name for c in cameras] == [f"Camera {n}" for n in range(6)]
    assert len(hostile.requests("cameras")) == 3


async def test_an_item_shifted_onto_the_next_page_is_kept_once(
    hostile: Hostile, page_size: Callable[[int], None]
) -> None:
    """An item added before the cursor between two reads pushes the last one of a page onto
    the next: it comes twice, it is kept once, and the listing goes on."""
    pages = [[camera(0), camera(1), camera(2)], [camera(2), camera(3), camera(4)], [camera(5)]]

    async def shifting(request: web.Request) -> web.StreamResponse:
        body = {"array": pages[int(request.query["page"])]}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    hostile.on("cameras", shifting)
    page_size(3)
    async with hostile_client(hostile) as client:
        cameras = await client.list_cameras()
    assert [c.name for c in cameras] == [f"Camera {n}" for n in range(6)]


async def test_pages_that_never_end_are_a_protocol_error(
    hostile: Hostile, page_size: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Always a full page of new items (and a next link): stopped at config.MOST_ITEMS."""

    async def endless(request: web.Request) -> web.StreamResponse:
        page, size = int(request.query["page"]), int(request.query["size"])
        body = {
            "_links": {"next": f"{hostile.url}/api/rest/v1/cameras?page={page + 1}"},
            "array": [camera(page * size + n) for n in range(size)],
        }
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    hostile.on("cameras", endless)
    page_size(10)
    monkeypatch.setattr(config, "MOST_ITEMS", 50)
    async with hostile_client(hostile) as client:
        with pytest.raises(ProtocolError) as caught:
            await client.list_cameras()
    assert caught.value.method == "GET"
    assert caught.value.path == "/api/rest/v1/cameras"
    assert "50" in str(caught.value)
    assert len(hostile.requests("cameras")) == 6


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/json; charset=UTF-8"],
)
async def test_json_with_or_without_a_charset_is_read(hostile: Hostile, content_type: str) -> None:
    item = {**camera(0), "name": "Caf\u00e9 \u6771\u4eac \U0001f4f7"}

    async def answer(_: web.Request) -> web.StreamResponse:
        body = orjson.dumps({"array": [item]})
        return web.Response(body=body, headers={"Content-Type": content_type})

    hostile.on("cameras", answer)
    async with hostile_client(hostile) as client:
        cameras = await client.list_cameras()
    assert [c.name for c in cameras] == ["Caf\u00e9 \u6771\u4eac \U0001f4f7"]


async def test_an_event_type_answered_for_another_id_is_a_protocol_error(
    hostile: Hostile,
) -> None:
    """``can_trigger`` and ``event_type`` judge the type the server answered: it must be
    the one asked for."""
    other = {"id": str(uuid.UUID(int=7)), "name": "Other", "generatorType": "External"}
    hostile.on("eventType", hostile.answer(200, orjson.dumps({"data": other})))
    asked = uuid.UUID(int=8)
    async with hostile_client(hostile) as client:
        with pytest.raises(ProtocolError) as caught:
            await client.get_event_type(asked)
        with pytest.raises(ProtocolError):
            await client.can_trigger(asked)
    assert caught.value.path == f"/api/rest/v1/eventTypes/{asked}"
    assert str(asked) in str(caught.value)
