"""Event sessions of the simulator: backlog, new events, maxSize, deletions, idle drop, owners."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from xprotect_events.testing import (
    ANALYTICS_EVENT,
    CAMERA_IDS,
    LICENSE_PLATE_EVENT,
    SHORT_RETENTION_EVENT,
    SimClock,
    Simulator,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CAM = [f"cameras/{c}" for c in CAMERA_IDS]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(clock=SimClock.frozen(T0 + timedelta(hours=1))) as s:
        yield s


@pytest.fixture
async def patient_sim() -> AsyncIterator[Simulator]:
    """Sessions idle for 5 minutes are kept: time can pass retention (60 s) between reads."""
    async with Simulator(clock=SimClock.frozen(T0), session_idle_timeout=300) as s:
        yield s


class Api:
    """Plain HTTP calls with one identity's token."""

    def __init__(self, http: aiohttp.ClientSession, sim: Simulator, who: str = "admin") -> None:
        self.http, self.sim = http, sim
        self.headers = {"Authorization": f"Bearer {sim.issue_token(who)}"}

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(
            method, self.sim.api_url + path, headers=self.headers, json=body
        ) as r:
            return r.status, await r.json()

    async def create(
        self, filter_by: list[dict[str, Any]] | None = None, order: str = "asc"
    ) -> str:
        body = {"filterBy": filter_by or [], "orderBy": [{"property": "time", "direction": order}]}
        status, got = await self.call("POST", "/eventSessions", body)
        assert status == 201, got
        return str(got["id"])

    async def read(self, sid: str, query: str = "") -> tuple[list[str], list[str]]:
        status, got = await self.call("GET", f"/eventSessions/{sid}{query}")
        assert status == 200, got
        data = got["data"]
        return [e["tag"] for e in data["newEvents"]], [e["tag"] for e in data["deletedEvents"]]

    async def trigger(self, tag: str, **over: Any) -> dict[str, Any]:
        body = {"type": str(ANALYTICS_EVENT), "source": CAM[0], "datatype": None, "tag": tag}
        body.update(over)
        status, got = await self.call("POST", "/events", body)
        assert status == 202, got
        return dict(got["data"])


def seed(sim: Simulator, n: int, *, type_id: Any = ANALYTICS_EVENT, prefix: str = "s") -> None:
    sim.store_events(
        {
            "type": type_id,
            "source": CAM[i % 4],
            "time": T0 + timedelta(seconds=i),
            "tag": f"{prefix}{i}",
        }
        for i in range(n)
    )


async def test_create_echoes_the_body(sim: Simulator, http: aiohttp.ClientSession) -> None:
    api = Api(http, sim)
    body = {
        "filterBy": [
            {"property": "type", "operator": "oneOf", "value": [str(ANALYTICS_EVENT)]},
            {"property": "time", "operator": "gt", "value": "2024-05-01T12:00:00.0000000Z"},
        ],
        "orderBy": [{"property": "time", "direction": "desc"}],
    }
    status, got = await api.call("POST", "/eventSessions", body)
    assert status == 201
    assert got == {**body, "id": got["id"]}
    assert sim.sessions_alive == 1


@pytest.mark.parametrize(
    "body",
    [
        {"filterBy": [{"property": "colour", "operator": "equals", "value": "red"}], "orderBy": []},
        {"filterBy": [{"property": "tag", "operator": "gt", "value": "x"}], "orderBy": []},
        {"filterBy": [{"property": "time", "operator": "contains", "value": "x"}], "orderBy": []},
        {"filterBy": [{"property": "tag", "operator": "oneOf", "value": "x"}], "orderBy": []},
        {"filterBy": [{"property": "tag", "operator": "equals", "value": ["x"]}], "orderBy": []},
        {"filterBy": [{"property": "time", "operator": "gt", "value": "soon"}], "orderBy": []},
        {"filterBy": [{"property": "type", "operator": "equals", "value": "x"}], "orderBy": []},
        {"filterBy": [{"property": "tag"}], "orderBy": []},
        {"filterBy": [], "orderBy": [{"property": "tag", "direction": "asc"}]},
        {"filterBy": [], "orderBy": [{"property": "time", "direction": "up"}]},
        {"orderBy": []},
        {"filterBy": []},
        [],
    ],
)
async def test_create_rejects_bad_bodies(
    sim: Simulator, http: aiohttp.ClientSession, body: Any
) -> None:
    status, got = await Api(http, sim).call("POST", "/eventSessions", body)
    assert (status, got["error"]["httpCode"]) == (400, 400)


async def test_backlog_then_new_events(sim: Simulator, http: aiohttp.ClientSession) -> None:
    seed(sim, 5)
    api = Api(http, sim)
    sid = await api.create()
    assert await api.read(sid, "?maxSize=3") == (["s0", "s1", "s2"], [])
    await api.trigger("n0")
    assert await api.read(sid, "?maxSize=3") == (["s3", "s4", "n0"], [])
    assert await api.read(sid) == ([], [])
    await api.trigger("n1")
    await api.trigger("n2")
    assert await api.read(sid) == (["n1", "n2"], [])
    assert await api.read(sid) == ([], [])


async def test_desc_order(sim: Simulator, http: aiohttp.ClientSession) -> None:
    seed(sim, 5)
    api = Api(http, sim)
    sid = await api.create(order="desc")
    assert await api.read(sid, "?maxSize=2") == (["s4", "s3"], [])
    assert await api.read(sid, "?maxSize=2") == (["s2", "s1"], [])
    assert await api.read(sid, "?maxSize=2") == (["s0"], [])


async def test_max_size_limits(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.store_events({"type": ANALYTICS_EVENT, "time": T0} for _ in range(150))
    api = Api(http, sim)
    sid = await api.create()
    new, _ = await api.read(sid)
    assert len(new) == 100  # the default maxSize [profile]
    for bad in ("0", "2001", "many"):
        status, got = await api.call("GET", f"/eventSessions/{sid}?maxSize={bad}")
        assert (status, got["error"]["httpCode"]) == (400, 400)
    new, _ = await api.read(sid, "?maxSize=2000")
    assert len(new) == 50


async def test_filters(sim: Simulator, http: aiohttp.ClientSession) -> None:
    seed(sim, 8)
    seed(sim, 2, type_id=LICENSE_PLATE_EVENT, prefix="lp")
    api = Api(http, sim)

    async def backlog(*filters: dict[str, Any]) -> list[str]:
        return (await api.read(await api.create(list(filters)), "?maxSize=2000"))[0]

    def f(prop: str, op: str, value: Any) -> dict[str, Any]:
        return {"property": prop, "operator": op, "value": value}

    assert await backlog(f("type", "equals", str(LICENSE_PLATE_EVENT))) == ["lp0", "lp1"]
    assert await backlog(f("type", "oneOf", [str(LICENSE_PLATE_EVENT)])) == ["lp0", "lp1"]
    assert len(await backlog(f("type", "notEquals", str(LICENSE_PLATE_EVENT)))) == 8
    assert await backlog(f("source.id", "equals", CAM[3])) == ["s3", "s7"]
    assert await backlog(f("source.name", "contains", "parking")) == ["s1", "lp1", "s5"]
    assert await backlog(f("tag", "startsWith", "lp")) == ["lp0", "lp1"]
    assert await backlog(f("tag", "containsOneOf", ["6", "7"])) == ["s6", "s7"]
    assert await backlog(f("time", "gt", "2024-05-01T12:00:05Z")) == ["s6", "s7"]
    assert await backlog(
        f("time", "gt", "2024-05-01T12:00:00Z"),
        f("time", "lt", "2024-05-01T12:00:02Z"),
        f("type", "equals", str(ANALYTICS_EVENT)),
    ) == ["s1"]
    assert await backlog(f("datatype", "equals", "analytics")) == []


async def test_filters_apply_to_new_events(sim: Simulator, http: aiohttp.ClientSession) -> None:
    api = Api(http, sim)
    sid = await api.create([{"property": "source.id", "operator": "equals", "value": CAM[1]}])
    await api.trigger("no", source=CAM[0])
    await api.trigger("yes", source=CAM[1])
    assert await api.read(sid) == (["yes"], [])


async def test_include_data(sim: Simulator, http: aiohttp.ClientSession) -> None:
    api = Api(http, sim)
    sid = await api.create()
    await api.trigger("d", data={"k": "v"}, datatype="analytics")
    _, got = await api.call("GET", f"/eventSessions/{sid}?include=data")
    assert got["data"]["newEvents"][0]["data"] == {"k": "v"}
    await api.trigger("e", data={"k": "v"}, datatype="analytics")
    _status, got = await api.call("GET", f"/eventSessions/{sid}")
    assert "data" not in got["data"]["newEvents"][0]


async def test_no_event_twice_when_inserts_interleave(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    seed(sim, 6)
    api = Api(http, sim)
    sid = await api.create()
    seen, _ = await api.read(sid, "?maxSize=2")
    await api.trigger("old", time="2024-05-01T11:00:00Z")  # before the backlog cursor
    await api.trigger("mid", time="2024-05-01T12:00:03.5Z")  # inside the unread backlog
    while True:
        new, _ = await api.read(sid, "?maxSize=2")
        if not new:
            break
        seen += new
    assert sorted(seen) == sorted(["s0", "s1", "s2", "s3", "s4", "s5", "old", "mid"])
    assert len(seen) == len(set(seen))


async def test_random_interleaving_returns_each_event_once(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    rng = random.Random(5)
    seed(sim, 40)
    api = Api(http, sim)
    sid = await api.create([{"property": "source.id", "operator": "oneOf", "value": CAM[:3]}])
    expected = {f"s{i}" for i in range(40) if i % 4 != 3}
    seen: list[str] = []
    for k in range(30):
        source = CAM[rng.randrange(4)]
        when = (T0 + timedelta(seconds=rng.uniform(-10, 50))).isoformat()
        await api.trigger(f"r{k}", source=source, time=when)
        if source != CAM[3]:
            expected.add(f"r{k}")
        seen += (await api.read(sid, f"?maxSize={rng.randint(1, 5)}"))[0]
    while new := (await api.read(sid, "?maxSize=7"))[0]:
        seen += new
    assert len(seen) == len(set(seen))
    assert set(seen) == expected


async def test_deleted_events(patient_sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim = patient_sim
    api = Api(http, sim)
    sid = await api.create()
    await api.trigger("short1", type=str(SHORT_RETENTION_EVENT))
    await api.trigger("keep")
    assert await api.read(sid) == (["short1", "keep"], [])
    await api.trigger("short2", type=str(SHORT_RETENTION_EVENT))  # never returned
    sim.clock.advance(61)
    assert await api.read(sid) == ([], ["short1"])
    assert await api.read(sid) == ([], [])


async def test_deleted_backlog_event(patient_sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim = patient_sim
    now = sim.clock.now()
    sim.store_events(
        {"type": SHORT_RETENTION_EVENT, "time": now + timedelta(seconds=i), "tag": f"b{i}"}
        for i in range(4)
    )
    api = Api(http, sim)
    sid = await api.create()
    assert await api.read(sid, "?maxSize=2") == (["b0", "b1"], [])
    sim.clock.advance(60.5)  # b0 expires (b1 at +61, ...)
    assert await api.read(sid, "?maxSize=1") == (["b2"], ["b0"])
    sim.clock.advance(10)  # everything expired; b3 was never returned
    assert await api.read(sid) == ([], ["b1", "b2"])


async def test_idle_session_is_dropped(sim: Simulator, http: aiohttp.ClientSession) -> None:
    api = Api(http, sim)
    sid = await api.create()
    sim.clock.advance(50)
    await api.read(sid)
    sim.clock.advance(50)
    await api.read(sid)
    sim.clock.advance(60.001)
    status, got = await api.call("GET", f"/eventSessions/{sid}")
    assert (status, got["error"]["httpCode"]) == (404, 404)
    assert sim.sessions_alive == 0


async def test_idle_timeout_is_configurable(http: aiohttp.ClientSession) -> None:
    async with Simulator(clock=SimClock.frozen(), session_idle_timeout=5) as sim:
        api = Api(http, sim)
        sid = await api.create()
        sim.clock.advance(6)
        assert (await api.call("GET", f"/eventSessions/{sid}"))[0] == 404


async def test_other_identity_gets_404(sim: Simulator, http: aiohttp.ClientSession) -> None:
    admin = Api(http, sim, "admin")
    sid = await admin.create()
    for other in ("operator", "service"):
        assert (await Api(http, sim, other).call("GET", f"/eventSessions/{sid}"))[0] == 404
        assert (await Api(http, sim, other).call("DELETE", f"/eventSessions/{sid}"))[0] == 404
    assert (await Api(http, sim, "admin").call("GET", f"/eventSessions/{sid}"))[0] == 200


async def test_delete(sim: Simulator, http: aiohttp.ClientSession) -> None:
    api = Api(http, sim)
    sid = await api.create()
    assert await api.call("DELETE", f"/eventSessions/{sid}") == (200, {})
    assert (await api.call("GET", f"/eventSessions/{sid}"))[0] == 404
    assert (await api.call("DELETE", f"/eventSessions/{sid}"))[0] == 404
    assert sim.sessions_alive == 0


async def test_drop_sessions(sim: Simulator, http: aiohttp.ClientSession) -> None:
    api = Api(http, sim)
    sid = await api.create()
    sim.drop_sessions()
    assert (await api.call("GET", f"/eventSessions/{sid}"))[0] == 404


async def test_session_sees_only_visible_sources(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    seed(sim, 8)
    api = Api(http, sim, "operator")
    sid = await api.create()
    assert await api.read(sid) == (["s0", "s1", "s4", "s5"], [])
    await Api(http, sim, "admin").trigger("hidden", source=CAM[3])
    await api.trigger("shown", source=CAM[1])
    assert await api.read(sid) == (["shown"], [])


async def test_public_views_of_the_state(sim: Simulator, http: aiohttp.ClientSession) -> None:
    seed(sim, 3)
    api = Api(http, sim, "operator")
    sid = await api.create()
    assert len(sim.store) == sim.events_stored == 3
    assert list(sim.sessions.by_id) == [sid]
    assert sim.sessions.by_id[sid].owner == "user:operator"
    assert "operator" in sim.directory.users
    assert len(sim.tokens) == 1
    assert sim.sweep() == 0


@pytest.mark.parametrize(
    "filter_by",
    [[], [{"property": "time", "operator": "gt", "value": "0001-01-01T00:00:00.0000000Z"}]],
    ids=["unfiltered", "since year 1"],
)
async def test_a_session_reaches_events_before_1970(
    sim: Simulator, filter_by: list[dict[str, Any]]
) -> None:
    """Their keys are negative (µs since 1970): "no lower bound" was the key -1, which left
    out every event before 1970, and a ``gt`` bound before 1970 was no tighter than it."""
    times = [datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC), datetime(1969, 12, 31, tzinfo=UTC), T0]
    sim.store_events(
        {"type": ANALYTICS_EVENT, "source": CAM[0], "time": t, "tag": str(t.year)} for t in times
    )
    async with aiohttp.ClientSession() as http:
        api = Api(http, sim)
        new, _ = await api.read(await api.create(filter_by))
    assert new == ["1", "1969", "2024"]


async def test_a_session_keeps_to_a_time_bound_before_1970(sim: Simulator) -> None:
    times = [datetime(1900, 1, 1, tzinfo=UTC), datetime(1950, 1, 1, tzinfo=UTC), T0]
    sim.store_events(
        {"type": ANALYTICS_EVENT, "source": CAM[0], "time": t, "tag": str(t.year)} for t in times
    )
    bound = {"property": "time", "operator": "gt", "value": "1920-01-01T00:00:00.0000000Z"}
    async with aiohttp.ClientSession() as http:
        api = Api(http, sim)
        new, _ = await api.read(await api.create([bound]))
    assert new == ["1950", "2024"]


async def test_a_listing_keeps_to_a_time_bound_before_1970(sim: Simulator) -> None:
    """``GET /events`` newest first with ``time gt`` 1920 returned the 1900 event too."""
    times = [datetime(1900, 1, 1, tzinfo=UTC), datetime(1950, 1, 1, tzinfo=UTC), T0]
    sim.store_events(
        {"type": ANALYTICS_EVENT, "source": CAM[0], "time": t, "tag": str(t.year)} for t in times
    )
    query = "?time=gt:'1920-01-01T00:00:00.0000000Z'&orderBy=desc:'time'"
    async with aiohttp.ClientSession() as http:
        status, got = await Api(http, sim).call("GET", "/events" + query)
    assert status == 200, got
    assert [e["tag"] for e in got["array"]] == ["2024", "1950"]
