"""Fault injection in the simulator: every kind, as a plain aiohttp client sees it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from xprotect_events.testing import ANALYTICS_EVENT, CAMERA_IDS, Fault, SimClock, Simulator

EVENTS = "POST /api/rest/v1/events"
BODY = {"type": str(ANALYTICS_EVENT), "source": f"cameras/{CAMERA_IDS[0]}", "datatype": None}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(clock=SimClock.frozen()) as s:
        yield s


def auth(sim: Simulator, who: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {sim.issue_token(who)}"}


async def trigger(http: aiohttp.ClientSession, sim: Simulator, **kw: Any) -> tuple[int, Any]:
    async with http.post(sim.api_url + "/events", json=BODY, headers=auth(sim), **kw) as r:
        return r.status, await r.json(content_type=None)


async def test_reset_before(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.add(EVENTS, Fault.reset_before())
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await trigger(http, sim)
    assert sim.events_stored == 0
    assert sim.faults.injected["reset_before"] == 1
    assert (await trigger(http, sim))[0] == 202  # once only


async def test_reset_after(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.add(EVENTS, Fault.reset_after())
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await trigger(http, sim)
    assert sim.events_stored == 1  # the handler ran


async def test_status(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.add(EVENTS, Fault.status(503, retry_after=2))
    sim.faults.add(EVENTS, Fault.status(500))
    async with http.post(sim.api_url + "/events", json=BODY, headers=auth(sim)) as r:
        assert r.status == 503
        assert r.headers["Retry-After"] == "2"
        assert (await r.json())["error"]["httpCode"] == 503
    async with http.post(sim.api_url + "/events", json=BODY, headers=auth(sim)) as r:
        assert r.status == 500
        assert "Retry-After" not in r.headers
    assert sim.events_stored == 0
    assert sim.faults.injected["status"] == 2


async def test_rate_limit(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.add(EVENTS, Fault.rate_limit(retry_after=1))
    async with http.post(sim.api_url + "/events", json=BODY, headers=auth(sim)) as r:
        assert (r.status, r.headers["Retry-After"]) == (429, "1")
        assert (await r.json())["error"]["httpCode"] == 429
    assert sim.events_stored == 0


async def test_delay_lets_a_client_time_out_while_the_handler_still_runs(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.faults.add(EVENTS, Fault.delay(1.0))  # (long enough for a loaded machine's cancel)
    request = asyncio.create_task(trigger(http, sim))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not sim.faults.injected["delay"] and loop.time() < deadline:
        await asyncio.sleep(0.01)
    request.cancel()  # the client gives up while the answer is held back (its timeout)
    with pytest.raises(asyncio.CancelledError):
        await request
    while sim.events_stored == 0 and loop.time() < deadline:
        await asyncio.sleep(0.02)
    assert sim.events_stored == 1


async def test_delay_then_answer(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.add(EVENTS, Fault.delay(0.01))
    assert (await trigger(http, sim))[0] == 202
    assert sim.faults.injected["delay"] == 1


async def test_truncate(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.add(EVENTS, Fault.truncate())
    with pytest.raises(aiohttp.ClientPayloadError):
        await trigger(http, sim)
    assert sim.events_stored == 1


async def test_truncated_list(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.store_events({"type": ANALYTICS_EVENT} for _ in range(50))
    sim.faults.add("GET /api/rest/v1/events", Fault.truncate(), times=2)
    async with http.get(sim.api_url + "/events", headers=auth(sim)) as r:
        assert r.status == 200
        assert int(r.headers["Content-Length"]) > 0
        with pytest.raises(aiohttp.ClientPayloadError):
            await r.read()


async def test_html(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.add(EVENTS, Fault.html(502))
    async with http.post(sim.api_url + "/events", json=BODY, headers=auth(sim)) as r:
        assert r.status == 502
        assert r.content_type == "text/html"
        assert "Bad Gateway" in await r.text()
    assert sim.events_stored == 0


async def test_revoke_token(sim: Simulator, http: aiohttp.ClientSession) -> None:
    headers = auth(sim)
    sim.faults.add("GET /api/rest/v1/cameras", Fault.revoke_token())
    async with http.get(sim.api_url + "/cameras", headers=headers) as r:
        assert r.status == 401
    async with http.get(sim.api_url + "/cameras", headers=headers) as r:
        assert r.status == 401  # it stays revoked
    async with http.get(sim.api_url + "/cameras", headers=auth(sim)) as r:
        assert r.status == 200


async def test_drop_session(sim: Simulator, http: aiohttp.ClientSession) -> None:
    headers = auth(sim)
    body = {"filterBy": [], "orderBy": []}
    async with http.post(sim.api_url + "/eventSessions", json=body, headers=headers) as r:
        sid = (await r.json())["id"]
    sim.faults.add("GET /api/rest/v1/eventSessions/{id}", Fault.drop_session())
    async with http.get(f"{sim.api_url}/eventSessions/{sid}", headers=headers) as r:
        assert r.status == 404
    assert sim.sessions_alive == 0


async def test_times_and_forever(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.add(EVENTS, Fault.status(503), times=2)
    assert [(await trigger(http, sim))[0] for _ in range(3)] == [503, 503, 202]
    sim.faults.add(EVENTS, Fault.status(502), times=None)
    assert [(await trigger(http, sim))[0] for _ in range(4)] == [502] * 4
    assert sim.faults.pending
    sim.faults.clear()
    assert not sim.faults.pending
    assert (await trigger(http, sim))[0] == 202


async def test_script(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.script(EVENTS, [None, Fault.status(503), None, Fault.rate_limit()])
    statuses = [(await trigger(http, sim))[0] for _ in range(5)]
    assert statuses == [202, 503, 202, 429, 202]


async def test_random_is_repeatable(http: aiohttp.ClientSession) -> None:
    async def run() -> list[int]:
        async with Simulator() as sim:
            sim.faults.random("*", 0.5, [Fault.status(500), Fault.status(503)], seed=42)
            return [(await trigger(http, sim))[0] for _ in range(20)]

    first = await run()
    assert first == await run()
    assert set(first) == {202, 500, 503}


async def test_star_covers_the_api_not_the_idp(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.add("*", Fault.status(503), times=None)
    form = {
        "grant_type": "client_credentials",
        "client_id": "service",
        "client_secret": "service-secret",
    }
    async with http.post(sim.url + "/IDP/connect/token", data=form) as r:
        assert r.status == 200
    async with http.get(sim.api_url + "/cameras", headers=auth(sim)) as r:
        assert r.status == 503


async def test_idp_route_covers_every_alias(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.add("POST /IDP/connect/token", Fault.status(503), times=3)
    form = {
        "grant_type": "client_credentials",
        "client_id": "service",
        "client_secret": "service-secret",
    }
    for path in ("/IDP/connect/token", "/API/IDP/connect/token", "/idp/connect/token"):
        async with http.post(sim.url + path, data=form) as r:
            assert r.status == 503
    assert sim.stats.token_requests == 0  # the handler never ran


def test_unknown_route_is_refused() -> None:
    sim = Simulator()
    with pytest.raises(ValueError, match="unknown route"):
        sim.faults.add("POST /api/rest/v1/event", Fault.status(500))
    with pytest.raises(ValueError, match="probability"):
        sim.faults.random("*", 2.0, [Fault.status(500)], seed=1)


def test_fault_values() -> None:
    assert Fault.status(502, retry_after=3).http_status == 502
    assert Fault.delay(1.5).delay_seconds == 1.5
    assert Fault.rate_limit().retry_after == 1
    assert Fault("status", status=500) == Fault.status(500)
    with pytest.raises(ValueError, match="kind"):
        Fault("explode")
