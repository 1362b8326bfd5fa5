"""GET /events and GET /events/{id} of the simulator: filters, order, paging, visibility."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from yarl import URL

from xprotect_events.testing import (
    ANALYTICS_EVENT,
    CAMERA_IDS,
    USER_DEFINED_EVENT,
    SimClock,
    Simulator,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CAM = [f"cameras/{c}" for c in CAMERA_IDS]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(clock=SimClock.frozen(T0 + timedelta(hours=1))) as s:
        yield s


async def get(
    http: aiohttp.ClientSession, url: str | URL, token: str, params: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(url, headers=headers, params=params) as r:
        return r.status, await r.json()


def q(params: dict[str, str]) -> str:
    """A query string quoted the way a careful client does (every reserved character)."""
    from urllib.parse import quote

    return "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())


async def list_events(
    http: aiohttp.ClientSession, sim: Simulator, token: str, **params: str
) -> tuple[int, Any]:
    url = URL(sim.api_url + "/events?" + q(params), encoded=True)
    return await get(http, url, token)


def seed_events(sim: Simulator, n: int = 8) -> None:
    """n events, one per second from T0, round robin over the four cameras."""
    sim.store_events(
        {
            "type": ANALYTICS_EVENT,
            "source": CAM[i % 4],
            "time": T0 + timedelta(seconds=i),
            "tag": f"t{i}",
            "datatype": "analytics",
            "data": {"i": i},
        }
        for i in range(n)
    )


def tags(body: Any) -> list[str]:
    return [e["tag"] for e in body["array"]]


async def test_list_shape_and_default_order(sim: Simulator, http: aiohttp.ClientSession) -> None:
    seed_events(sim, 3)
    status, body = await list_events(http, sim, sim.issue_token("admin"))
    assert status == 200
    assert set(body) == {"_links", "array"}
    assert tags(body) == ["t0", "t1", "t2"]
    first = body["array"][0]
    assert set(first) == {"id", "time", "type", "source", "tag", "datatype"}
    assert first["time"] == "2024-05-01T12:00:00.0000000Z"
    assert first["type"] == str(ANALYTICS_EVENT)
    assert first["source"] == CAM[0]
    assert "next" not in body["_links"]
    assert "prev" not in body["_links"]


async def test_include_data(sim: Simulator, http: aiohttp.ClientSession) -> None:
    seed_events(sim, 2)
    _, body = await list_events(http, sim, sim.issue_token("admin"), include="data")
    assert [e["data"] for e in body["array"]] == [{"i": 0}, {"i": 1}]


async def test_order_desc(sim: Simulator, http: aiohttp.ClientSession) -> None:
    seed_events(sim, 3)
    token = sim.issue_token("admin")
    assert tags((await list_events(http, sim, token, orderBy="desc:'time'"))[1]) == [
        "t2",
        "t1",
        "t0",
    ]
    assert tags((await list_events(http, sim, token, orderBy="asc:'time'"))[1]) == [
        "t0",
        "t1",
        "t2",
    ]
    assert (await list_events(http, sim, token, orderBy="up:'time'"))[0] == 400
    assert (await list_events(http, sim, token, orderBy="asc:'tag'"))[0] == 400


async def test_ties_keep_insertion_order(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.store_events(
        {"type": ANALYTICS_EVENT, "source": None, "time": T0, "tag": str(i)} for i in range(5)
    )
    sim.store_events([{"type": ANALYTICS_EVENT, "time": T0 - timedelta(seconds=1), "tag": "x"}])
    token = sim.issue_token("admin")
    assert tags((await list_events(http, sim, token))[1]) == ["x", "0", "1", "2", "3", "4"]
    desc = tags((await list_events(http, sim, token, orderBy="desc:'time'"))[1])
    assert desc == ["4", "3", "2", "1", "0", "x"]


async def test_time_filters(sim: Simulator, http: aiohttp.ClientSession) -> None:
    seed_events(sim, 6)
    token = sim.issue_token("admin")
    gt = "gt:'2024-05-01T12:00:01.0000000Z'"
    lt = "lt:'2024-05-01T12:00:04Z'"
    assert tags((await list_events(http, sim, token, time=gt))[1]) == ["t2", "t3", "t4", "t5"]
    assert tags((await list_events(http, sim, token, time=lt))[1]) == ["t0", "t1", "t2", "t3"]
    assert tags((await list_events(http, sim, token, time=f"{gt},{lt}"))[1]) == ["t2", "t3"]
    status, body = await list_events(http, sim, token, time="equals:'2024-05-01T12:00:01Z'")
    assert status == 400
    assert "time" in body["error"]["details"][0]["errorText"]
    assert (await list_events(http, sim, token, time="gt:'yesterday'"))[0] == 400


async def test_source_id_filters(sim: Simulator, http: aiohttp.ClientSession) -> None:
    seed_events(sim, 8)
    token = sim.issue_token("admin")
    cam1 = str(CAMERA_IDS[1])
    for value in (f"equals:'{cam1}'", f"equals:'cameras/{cam1}'", cam1, f"'{cam1.upper()}'"):
        assert tags((await list_events(http, sim, token, **{"source.id": value}))[1]) == [
            "t1",
            "t5",
        ], value
    not_equals = tags(
        (await list_events(http, sim, token, **{"source.id": f"notEquals:'{cam1}'"}))[1]
    )
    assert not_equals == ["t0", "t2", "t3", "t4", "t6", "t7"]
    one_of = f"oneOf:('{CAM[0]}','{CAMERA_IDS[3]}')"
    assert tags((await list_events(http, sim, token, **{"source.id": one_of}))[1]) == [
        "t0",
        "t3",
        "t4",
        "t7",
    ]
    status, body = await list_events(http, sim, token, **{"source.id": "contains:'c13f'"})
    assert status == 400
    assert "contains" in body["error"]["details"][0]["errorText"]
    assert (await list_events(http, sim, token, **{"source.id": "'not-a-guid'"}))[0] == 400


async def test_source_name_filters(sim: Simulator, http: aiohttp.ClientSession) -> None:
    seed_events(sim, 4)
    token = sim.issue_token("admin")

    async def names(value: str) -> list[str]:
        status, body = await list_events(http, sim, token, **{"source.name": value})
        assert status == 200, body
        return tags(body)

    assert await names("'Camera 2 - Parking'") == ["t1"]
    assert await names("equals:'Camera 2 - Parking'") == ["t1"]
    assert await names("notEquals:'Camera 2 - Parking'") == ["t0", "t2", "t3"]
    assert await names("contains:'room'") == ["t2"]
    assert await names("startsWith:'Camera 4'") == ["t3"]
    assert await names("oneOf:('Camera 1 - Main Entrance','Camera 4 - Loading Dock')") == [
        "t0",
        "t3",
    ]
    assert await names("containsOneOf:('Parking','Dock')") == ["t1", "t3"]
    assert await names("startsWith:'Camera',notEquals:'Camera 3 - Server Room'") == [
        "t0",
        "t1",
        "t3",
    ]


async def test_source_name_with_awkward_characters(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    name = "O'Brien's cam, (lobby): 1 + 1 = 2 & 100%"
    camera = sim.add_camera(name)
    sim.store_events([{"type": ANALYTICS_EVENT, "source": f"cameras/{camera}", "tag": "odd"}])
    seed_events(sim, 2)
    token = sim.issue_token("admin")
    quoted = "'" + name.replace("'", "''") + "'"
    for value in (quoted, f"equals:{quoted}", f"oneOf:({quoted},'x')", "contains:'(lobby):'"):
        status, body = await list_events(http, sim, token, **{"source.name": value})
        assert (status, tags(body)) == (200, ["odd"]), value


async def test_unknown_filter_property_or_operator(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token = sim.issue_token("admin")
    status, body = await list_events(http, sim, token, colour="equals:'red'")
    assert status == 400
    assert "colour" in body["error"]["details"][0]["errorText"]
    status, body = await list_events(http, sim, token, **{"source.name": "likes:'x'"})
    assert status == 400
    assert "likes" in body["error"]["details"][0]["errorText"]
    status, body = await list_events(http, sim, token, **{"source.name": "equals:'unterminated"})
    assert status == 400
    assert "source.name" in body["error"]["details"][0]["errorText"]


async def test_paging_links(sim: Simulator, http: aiohttp.ClientSession) -> None:
    seed_events(sim, 7)
    token = sim.issue_token("admin")
    status, body = await list_events(
        http, sim, token, size="3", **{"source.name": "startsWith:'Camera'"}
    )
    assert tags(body) == ["t0", "t1", "t2"]
    assert "prev" not in body["_links"]
    seen = tags(body)
    while "next" in body["_links"]:
        next_url = body["_links"]["next"]
        assert next_url.startswith(sim.api_url + "/events?")
        status, body = await get(http, URL(next_url, encoded=True), token)
        assert status == 200
        assert "prev" in body["_links"]
        seen += tags(body)
    assert seen == [f"t{i}" for i in range(7)]
    status, body = await list_events(http, sim, token, size="3", page="2")
    assert tags(body) == ["t6"]
    assert "next" not in body["_links"]
    status, body = await list_events(http, sim, token, size="3", page="9")
    assert (status, body["array"]) == (200, [])


async def test_paging_desc(sim: Simulator, http: aiohttp.ClientSession) -> None:
    seed_events(sim, 5)
    token = sim.issue_token("admin")
    pages = [
        tags((await list_events(http, sim, token, size="2", page=str(p), orderBy="desc:'time'"))[1])
        for p in range(3)
    ]
    assert pages == [["t4", "t3"], ["t2", "t1"], ["t0"]]


@pytest.mark.parametrize(
    ("size", "ok"), [("1", True), ("2000", True), ("0", False), ("2001", False), ("x", False)]
)
async def test_size_limits(
    sim: Simulator, http: aiohttp.ClientSession, size: str, ok: bool
) -> None:
    status, body = await list_events(http, sim, sim.issue_token("admin"), size=size)
    assert status == (200 if ok else 400)
    if not ok:
        assert body["error"]["httpCode"] == 400


async def test_default_page_size_is_100(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.store_events({"type": ANALYTICS_EVENT, "time": T0} for _ in range(150))
    _status, body = await list_events(http, sim, sim.issue_token("admin"))
    assert len(body["array"]) == 100
    assert "next" in body["_links"]
    assert (await list_events(http, sim, sim.issue_token("admin"), page="-1"))[0] == 400


async def test_operator_sees_only_its_sources(sim: Simulator, http: aiohttp.ClientSession) -> None:
    seed_events(sim, 8)
    sim.store_events(
        [
            {"type": ANALYTICS_EVENT, "source": None, "time": T0, "tag": "null"},
            {"type": USER_DEFINED_EVENT, "source": None, "time": T0, "tag": "ude"},
        ]
    )
    token = sim.issue_token("operator")
    _, body = await list_events(http, sim, token)
    assert sorted(tags(body)) == sorted(["null", "ude", "t0", "t1", "t4", "t5"])
    _, body = await list_events(http, sim, token, size="2", page="1")
    assert tags(body) == ["ude", "t1"]  # t0, null, ude: all at T0, in insertion order
    assert body["array"][0]["source"] == f"userDefinedEvents/{USER_DEFINED_EVENT}"
    _, body = await list_events(http, sim, token, **{"source.id": f"'{CAMERA_IDS[2]}'"})
    assert tags(body) == []
    _, body = await list_events(http, sim, sim.issue_token("service"))
    assert len(body["array"]) == 10


async def test_add_camera_visibility(sim: Simulator, http: aiohttp.ClientSession) -> None:
    public = sim.add_camera("Public")
    private = sim.add_camera("Private", visible_to=["admin"])
    sim.store_events(
        [
            {"type": ANALYTICS_EVENT, "source": f"cameras/{public}", "tag": "public"},
            {"type": ANALYTICS_EVENT, "source": f"cameras/{private}", "tag": "private"},
        ]
    )
    assert tags((await list_events(http, sim, sim.issue_token("operator")))[1]) == ["public"]
    assert tags((await list_events(http, sim, sim.issue_token("admin")))[1]) == [
        "public",
        "private",
    ]


async def test_get_event(sim: Simulator, http: aiohttp.ClientSession) -> None:
    seed_events(sim, 4)
    admin = sim.issue_token("admin")
    _, body = await list_events(http, sim, admin)
    first, third = body["array"][0], body["array"][2]
    status, got = await get(http, f"{sim.api_url}/events/{first['id']}", admin)
    assert (status, got) == (200, {"data": first})
    _, got = await get(http, f"{sim.api_url}/events/{first['id']}?include=data", admin)
    assert got["data"]["data"] == {"i": 0}
    operator = sim.issue_token("operator")
    assert (await get(http, f"{sim.api_url}/events/{first['id']}", operator))[0] == 200
    status, body = await get(http, f"{sim.api_url}/events/{third['id']}", operator)
    assert (status, body["error"]["httpCode"]) == (404, 404)
    assert (await get(http, f"{sim.api_url}/events/{uuid.uuid4()}", admin))[0] == 404
    status, body = await get(http, f"{sim.api_url}/events/not-a-guid", admin)
    assert (status, body["error"]["httpCode"]) == (400, 400)


async def test_deep_page_in_a_large_store(sim: Simulator, http: aiohttp.ClientSession) -> None:
    n = 50_000
    sim.store_events(
        {"type": ANALYTICS_EVENT, "source": CAM[i % 4], "time": T0 + timedelta(milliseconds=i)}
        for i in range(n)
    )
    assert sim.events_stored == n
    _, body = await list_events(http, sim, sim.issue_token("admin"), size="2000", page="24")
    assert len(body["array"]) == 2000
    assert "next" not in body["_links"]
    assert body["array"][-1]["time"] == "2024-05-01T12:00:49.9990000Z"
    _, body = await list_events(http, sim, sim.issue_token("operator"), size="1000", page="24")
    assert len(body["array"]) == 1000
    assert "next" not in body["_links"]
    assert body["array"][-1]["source"] == CAM[1]
    assert body["array"][-1]["time"] == "2024-05-01T12:00:49.9970000Z"
