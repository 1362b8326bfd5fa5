"""The ``max_events`` cap (oldest first, reported as deleted), the size of a stored event,
and the access log (never a secret)."""

from __future__ import annotations

import logging
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from xprotect_events.testing import SimClock, Simulator, seed
from xprotect_events.testing.records import Record

CAM = f"cameras/{seed.CAMERA_IDS[0]}"
T0 = datetime(2024, 5, 1, tzinfo=UTC)


def analytics(i: int) -> dict[str, Any]:
    return {"type": str(seed.ANALYTICS_EVENT), "source": CAM, "datatype": None, "tag": str(i)}


async def read(http: aiohttp.ClientSession, sim: Simulator, sid: str, token: str) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(f"{sim.api_url}/eventSessions/{sid}", headers=headers) as r:
        assert r.status == 200
        return (await r.json())["data"]


async def test_cap_drops_the_oldest_and_sessions_see_it(http: aiohttp.ClientSession) -> None:
    async with Simulator(clock=SimClock(), max_events=5) as sim:
        heard: list[Record] = []
        sim.store.on_deleted.append(heard.extend)
        token = sim.issue_token("service")
        headers = {"Authorization": f"Bearer {token}"}
        body = {"filterBy": [], "orderBy": [{"property": "time", "direction": "asc"}]}
        async with http.post(sim.api_url + "/eventSessions", json=body, headers=headers) as r:
            sid = (await r.json())["id"]
        url = sim.api_url + "/events/batch"
        async with http.post(url, json=[analytics(i) for i in range(3)], headers=headers) as r:
            assert r.status == 200
        first = await read(http, sim, sid, token)
        assert [e["tag"] for e in first["newEvents"]] == ["0", "1", "2"]
        async with http.post(url, json=[analytics(i) for i in range(3, 7)], headers=headers) as r:
            assert r.status == 200
        assert sim.events_stored == sim.max_events == 5
        second = await read(http, sim, sid, token)
        assert [e["tag"] for e in second["newEvents"]] == ["3", "4", "5", "6"]
        assert [e["tag"] for e in second["deletedEvents"]] == ["0", "1"]
        assert [r.tag for r in heard] == ["0", "1"]
        gone = first["newEvents"][0]["id"]
        async with http.get(f"{sim.api_url}/events/{gone}", headers=headers) as r:
            assert r.status == 404


async def test_cap_on_bulk_loads_keeps_the_newest() -> None:
    async with Simulator(clock=SimClock(), max_events=100) as sim:
        items = [
            {"type": seed.ANALYTICS_EVENT, "time": T0 + timedelta(seconds=i)} for i in range(250)
        ]
        sim.store_events(reversed(items))
        assert len(sim.store) == 100
        kept = sorted(r.time for r in sim.store.by_id.values())
        assert kept[0] == T0 + timedelta(seconds=150)
        assert sum(len(i) for i in sim.store.by_type.values()) == 100
        older = sim.store_events([{"type": seed.ANALYTICS_EVENT, "time": T0}])
        assert len(sim.store) == 100
        assert older == 1  # stored, then the cap dropped it at once: it was the oldest
        assert min(r.time for r in sim.store.by_id.values()) == kept[0]


async def test_cap_keeps_indexes_consistent_across_many_drops() -> None:
    async with Simulator(clock=SimClock.frozen(T0 + timedelta(days=1)), max_events=1000) as sim:
        sources = [f"cameras/{c}" for c in seed.CAMERA_IDS]
        for batch in range(20):
            sim.store_events(
                {
                    "type": seed.ANALYTICS_EVENT,
                    "source": sources[i % 4],
                    "time": T0 + timedelta(seconds=batch * 500 + i),
                }
                for i in range(500)
            )
        store = sim.store
        assert len(store) == 1000
        live = sorted(store.by_id.values(), key=lambda r: r.key)
        assert store.all.live() == live
        assert {r.uid for i in store.by_source.values() for r in i.live()} == set(store.by_id)
        assert {r.uid for i in store.by_type.values() for r in i.live()} == set(store.by_id)
        for index in store.indexes():
            keys = index.keys[index.head :]
            assert keys == sorted(keys) == [r.key for r in index.live()]
            assert not any(r.deleted for r in index.live())
        assert sum(len(i) for i in store.by_source.values()) == 1000


def test_a_stored_event_takes_a_few_hundred_bytes() -> None:
    sim = Simulator(clock=SimClock.frozen(T0 + timedelta(days=1)))
    sources = [f"cameras/{c}" for c in seed.CAMERA_IDS]
    count = 20_000
    items = [
        {
            "type": str(seed.ANALYTICS_EVENT),
            "source": sources[i % 4],
            "time": T0 + timedelta(milliseconds=i),
            "datatype": "analytics",
        }
        for i in range(count)
    ]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        sim.store_events(items)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown / count < 400, f"{grown / count:.0f} bytes per event"


def test_max_events_must_be_a_count() -> None:
    with pytest.raises(ValueError, match="max_events"):
        Simulator(max_events=-1)


# --------------------------------------------------------------------------- access log


async def test_access_log_lines_carry_no_secret(http: aiohttp.ClientSession) -> None:
    lines: list[str] = []
    async with Simulator(access_log=lines.append) as sim:
        form = {
            "grant_type": "password",
            "username": "admin",
            "password": "admin-pass-x",
            "client_id": "GrantValidatorClient",
        }
        async with http.post(sim.url + "/IDP/connect/token", data=form) as r:
            assert r.status == 400
        token = sim.issue_token("admin")
        headers = {"Authorization": f"Bearer {token}"}
        url = sim.api_url + f"/events?size=5&access_token={token}&client_secret=s3cr3t"
        async with http.get(url, headers=headers) as r:
            assert r.status == 400  # unknown parameters
        async with http.get(sim.api_url + "/events?size=5", headers=headers) as r:
            assert r.status == 200
    text = "\n".join(lines)
    assert len(lines) == 3
    assert " POST /IDP/connect/token 400 " in lines[0]
    assert "GET /api/rest/v1/events?size=5&access_token=***&client_secret=*** 400" in lines[1]
    assert lines[2].split()[1:4] == ["GET", "/api/rest/v1/events?size=5", "200"]
    assert lines[2].endswith("ms")
    for secret in (token, "admin-pass-x", "s3cr3t"):
        assert secret not in text


async def test_access_log_is_quiet_by_default_and_can_use_logging(
    http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="xprotect_events.testing.access")
    async with Simulator() as sim:
        assert sim.access_log is None
        async with http.get(sim.url + "/api/.well-known/uris"):
            pass
        assert not caplog.records
        sim.access_log = True
        async with http.get(sim.url + "/API/.well-known/uris"):
            pass
    assert [r.getMessage().split()[1:4] for r in caplog.records] == [
        ["GET", "/API/.well-known/uris", "200"]
    ]
