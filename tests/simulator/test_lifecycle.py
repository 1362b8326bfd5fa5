"""Simulator lifecycle: restart, HTTPS, the clock, bulk storing, counters, the seed quickstart."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import ssl
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from xprotect_events.errors import InvalidInputError
from xprotect_events.models import EventTrigger
from xprotect_events.testing import (
    ANALYTICS_EVENT,
    CAMERA_IDS,
    UNSTORED_EVENT,
    Fault,
    SimClock,
    Simulator,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_url_and_stop() -> None:
    sim = Simulator()
    await sim.start()
    assert sim.url == f"http://127.0.0.1:{sim.port}"
    assert sim.api_url == sim.url + "/api/rest/v1"
    assert sim.ca_path is None
    await sim.stop()
    with pytest.raises(aiohttp.ClientConnectorError):
        async with aiohttp.ClientSession() as http, http.get(sim.url + "/api/.well-known/uris"):
            pass


async def test_restart_keeps_events_and_tokens_but_not_sessions(
    http: aiohttp.ClientSession,
) -> None:
    async with Simulator() as sim:
        port, token = sim.port, sim.issue_token("admin")
        body = {"type": str(ANALYTICS_EVENT), "source": None, "datatype": None}
        async with http.post(sim.api_url + "/events", json=body, headers=auth(token)) as r:
            event_id = (await r.json())["data"]["id"]
        session = {"filterBy": [], "orderBy": []}
        async with http.post(
            sim.api_url + "/eventSessions", json=session, headers=auth(token)
        ) as r:
            sid = (await r.json())["id"]
        camera = sim.add_camera("Added before restart")

        await sim.restart()

        assert sim.port == port
        async with aiohttp.ClientSession() as fresh:
            async with fresh.get(f"{sim.api_url}/events/{event_id}", headers=auth(token)) as r:
                assert r.status == 200
            async with fresh.get(f"{sim.api_url}/eventSessions/{sid}", headers=auth(token)) as r:
                assert r.status == 404
            async with fresh.get(f"{sim.api_url}/cameras/{camera}", headers=auth(token)) as r:
                assert r.status == 200
        assert sim.sessions_alive == 0


async def test_restart_cuts_open_requests(http: aiohttp.ClientSession) -> None:
    async with Simulator() as sim:
        sim.faults.add("GET /api/rest/v1/cameras", Fault.delay(30))
        request = asyncio.ensure_future(
            http.get(sim.api_url + "/cameras", headers=auth(sim.issue_token("admin")))
        )
        deadline = asyncio.get_running_loop().time() + 5
        while not sim.stats.requests["GET /api/rest/v1/cameras"]:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        await sim.restart()
        with pytest.raises(aiohttp.ClientError):
            await request


async def test_https_with_and_without_the_ca() -> None:
    async with Simulator(https=True) as sim:
        assert sim.url.startswith("https://127.0.0.1:")
        assert sim.ca_path is not None
        assert os.path.exists(sim.ca_path)
        ca_path = sim.ca_path
        async with aiohttp.ClientSession() as http:
            async with http.get(sim.url + "/api/.well-known/uris", ssl=sim.ssl_context()) as r:
                assert r.status == 200
                assert (await r.json())["SecureManagementServer"] == sim.url + "/"
            with_file = ssl.create_default_context(cafile=sim.ca_path)
            async with http.get(sim.api_url + "/cameras", ssl=with_file) as r:
                assert r.status == 401
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                async with http.get(sim.url + "/api/.well-known/uris"):
                    pass
        await sim.restart()
        assert sim.ca_path == ca_path
    assert not os.path.exists(ca_path)


def test_ssl_context_needs_https() -> None:
    with pytest.raises(RuntimeError):
        Simulator().ssl_context()


def test_clock() -> None:
    clock = SimClock(T0)
    assert abs((clock.now() - T0).total_seconds()) < 5
    clock.advance(3600)
    assert abs((clock.now() - T0).total_seconds() - 3600) < 5
    frozen = SimClock.frozen(T0)
    assert frozen.now() == T0
    assert frozen.is_frozen
    assert frozen.time() == T0.timestamp()
    frozen.advance(1.5)
    assert frozen.now() == T0 + timedelta(seconds=1.5)
    frozen.unfreeze()
    assert not frozen.is_frozen
    assert frozen.now() >= T0 + timedelta(seconds=1.5)
    frozen.freeze()
    assert frozen.now() == frozen.now()
    with pytest.raises(ValueError, match="backwards"):
        frozen.advance(-1)
    with pytest.raises(ValueError, match="naive"):
        SimClock(datetime(2024, 1, 1))
    assert SimClock().now().tzinfo is not None


async def test_store_events_accepts_dicts_and_triggers(http: aiohttp.ClientSession) -> None:
    async with Simulator(clock=SimClock.frozen(T0)) as sim:
        stored = sim.store_events(
            [
                EventTrigger(type=ANALYTICS_EVENT, source=f"cameras/{CAMERA_IDS[0]}", tag="obj"),
                {
                    "type": str(ANALYTICS_EVENT),
                    "source": str(CAMERA_IDS[1]),
                    "time": "2024-05-01T11:00:00Z",
                    "tag": "dict",
                    "data": {"x": 1},
                },
                {"type": UNSTORED_EVENT, "tag": "never"},
            ]
        )
        assert stored == 2
        assert sim.events_stored == 2
        assert sim.stats.events_stored_total == 2
        assert sim.stats.events_accepted == 0
        token = sim.issue_token("admin")
        async with http.get(sim.api_url + "/events?include=data", headers=auth(token)) as r:
            events = (await r.json())["array"]
        assert [e["tag"] for e in events] == ["dict", "obj"]
        assert events[0]["source"] == f"cameras/{CAMERA_IDS[1]}"
        assert events[0]["data"] == {"x": 1}
        assert events[1]["time"] == "2024-05-01T12:00:00.0000000Z"
        with pytest.raises(ValueError, match="unknown event type"):
            sim.store_events([{"type": "nope"}])


def test_store_a_million_events() -> None:
    sim = Simulator(clock=SimClock.frozen(T0))
    n = 1_000_000 if os.environ.get("XPROTECT_SIM_BIG") else 200_000
    sources = [f"cameras/{c}" for c in CAMERA_IDS]
    stored = sim.store_events(
        {"type": ANALYTICS_EVENT, "source": sources[i % 4], "time": T0 - timedelta(seconds=n - i)}
        for i in range(n)
    )
    assert stored == sim.events_stored == n


def test_issue_token_unknown_name() -> None:
    with pytest.raises(KeyError):
        Simulator().issue_token("mallory")


async def test_request_counters(http: aiohttp.ClientSession) -> None:
    async with Simulator() as sim:
        token = sim.issue_token("admin")
        for _ in range(2):
            async with http.get(f"{sim.api_url}/eventSessions/abc", headers=auth(token)):
                pass
        async with http.post(sim.api_url + "/events/batch", json=[], headers=auth(token)):
            pass
        assert sim.stats.requests["GET /api/rest/v1/eventSessions/{id}"] == 2
        assert sim.stats.requests["POST /api/rest/v1/events/batch"] == 1
        sim.stats.reset()
        assert sim.stats.requests == {}


# The "Python" quickstart of the seed page, verbatim but for the settings.
USERNAME = "admin"
PASSWORD = "admin"
SERVER_URL = "set by the test"
VERIFY_CERTIFICATES = True


def main() -> None:
    import requests

    session = requests.Session()

    # 1. Retrieve a token from IDP
    response = session.request(
        "POST",
        f"{SERVER_URL}/IDP/connect/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        data=f"grant_type=password"
        f"&username={USERNAME}"
        f"&password={PASSWORD}"
        f"&client_id=GrantValidatorClient",
        verify=VERIFY_CERTIFICATES,
    )
    if response.status_code != 200:
        return print(f"Unable to retrieve token: {response.status_code}")

    token = response.json()["access_token"]

    # 2. Retrieve events with the token
    response = session.request(
        "GET",
        f"{SERVER_URL}/api/rest/v1/events",
        headers={"Authorization": f"Bearer {token}"},
        verify=VERIFY_CERTIFICATES,
    )
    if response.status_code != 200:
        return print(f"Unable to retrieve events: {response.status_code}")

    events = response.json()
    print(f"GET /events response:\n{events}\n\n")
    return None


async def test_seed_python_quickstart_prints_events() -> None:
    global SERVER_URL
    async with Simulator() as sim:
        sim.store_events([{"type": ANALYTICS_EVENT, "tag": "from-the-quickstart"}])
        SERVER_URL = sim.url
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            await asyncio.to_thread(main)
    text = out.getvalue()
    assert text.startswith("GET /events response:\n{'_links': ")
    assert "from-the-quickstart" in text


@pytest.mark.parametrize("lifetime", [float("inf"), 1e300, 0, -1, float("nan")])
def test_a_token_lifetime_no_client_can_take_is_refused(lifetime: float) -> None:
    """``inf`` or ``1e300`` answered every login with HTTP 500 (an expiry out of range)."""
    with pytest.raises(InvalidInputError, match="token_lifetime"):
        Simulator(token_lifetime=lifetime)
