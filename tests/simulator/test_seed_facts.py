"""The reference page's facts (``shared/seed``), each checked with a raw request over loopback
(aiohttp, not the library): what ``test_events``, ``test_trigger`` and ``test_sessions`` do
not already cover.

- Filtering: the page's own examples, as written there (no operator and no quotes, an array
  with a blank after its commas, quotes doubled inside an array, integers bare in an array,
  times with three and two fraction digits, ``lt`` before ``gt``).
- Authorization: which event types a user token and a service token may trigger, read off
  ``GET /eventTypes`` by the page's rule (generatorType ``External`` or ``MIPDevice``, not
  generatorSubtype ``Generic``).
- Event sessions: the ``{id}`` of ``GET``/``DELETE /eventSessions/{id}`` is a ``<guid>``.
- Triggering: the page's request sample, alone and in a batch.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import aiohttp
import pytest
from yarl import URL

from xprotect_events.testing import ANALYTICS_EVENT, CAMERA_IDS, SimClock, Simulator

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CAM = [f"cameras/{c}" for c in CAMERA_IDS]
#: Cameras whose names the page's string examples pick (besides the four seeded ones).
NAMED = ("with 'quote'", "more 'quotes'", "a string with 'single' quotes", "4")


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(clock=SimClock.frozen(T0 + timedelta(hours=1))) as s:
        yield s


def bearer(sim: Simulator, who: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {sim.issue_token(who)}"}


def seed_events(sim: Simulator) -> None:
    """t0..t3 on the four seeded cameras, 5 ms apart; then one event on each NAMED camera,
    tagged with its name."""
    sim.store_events(
        {"type": ANALYTICS_EVENT, "source": CAM[i], "time": T0 + i * timedelta(milliseconds=5)}
        | {"tag": f"t{i}"}
        for i in range(4)
    )
    for i, name in enumerate(NAMED):
        source = f"cameras/{sim.add_camera(name)}"
        when = T0 + timedelta(seconds=1 + i)
        sim.store_events([{"type": ANALYTICS_EVENT, "source": source, "time": when, "tag": name}])


async def tags(http: aiohttp.ClientSession, sim: Simulator, prop: str, value: str) -> list[str]:
    """The tags of ``GET /events?{prop}={value}``, the value URL-encoded."""
    url = URL(f"{sim.api_url}/events?{prop}={quote(value, safe='')}", encoded=True)
    async with http.get(url, headers=bearer(sim)) as r:
        body = await r.json()
        assert r.status == 200, body
    return [e["tag"] for e in body["array"]]


@pytest.mark.parametrize(
    ("prop", "value", "expected"),
    [
        ("source.name", "Camera 2 - Parking", ["t1"]),  # "property=value"
        ("source.name", "equals:Camera 2 - Parking", ["t1"]),  # "property=equals:value"
        (
            "source.name",
            "oneOf:('Camera 1 - Main Entrance', 'Camera 4 - Loading Dock')",
            ["t0", "t3"],
        ),
        ("source.name", "oneOf:('with ''quote''', 'more ''quotes''')", [NAMED[0], NAMED[1]]),
        ("source.name", "contains:'string with ''single'' quotes'", [NAMED[2]]),
        ("source.name", "oneOf:(1,4,8)", [NAMED[3]]),
        ("time", "lt:'2024-05-01T12:00:00.012Z'", ["t0", "t1", "t2"]),
        ("time", "gt:'2024-05-01T12:00:00Z',lt:'2024-05-01T12:00:00.01Z'", ["t1"]),
        ("time", "lt:'2024-05-01T12:00:00.013Z',gt:'2024-05-01T12:00:00.003Z'", ["t1", "t2"]),
    ],
)
async def test_the_pages_filter_examples(
    sim: Simulator, http: aiohttp.ClientSession, prop: str, value: str, expected: list[str]
) -> None:
    seed_events(sim)
    assert await tags(http, sim, prop, value) == expected


async def test_who_may_trigger_which_event_type(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    """Every type ``GET /eventTypes`` lists, triggered with a user token and a service
    token: the user only External and MIPDevice ones that are not Generic [seed]."""
    async with http.get(sim.api_url + "/eventTypes", headers=bearer(sim, "service")) as r:
        types = (await r.json())["array"]
    assert {t["generatorType"] for t in types} > {"External", "MIPDevice"}
    assert any(t["generatorSubtype"] == "Generic" for t in types)
    for who in ("admin", "service"):
        headers = bearer(sim, who)
        for item in types:
            user_may = item["generatorType"] in ("External", "MIPDevice") and (
                item["generatorSubtype"] != "Generic"
            )
            body = {"type": item["id"], "source": CAM[0], "datatype": None}
            async with http.post(sim.api_url + "/events", json=body, headers=headers) as r:
                answer = await r.json()
            expected = 202 if who == "service" or user_may else 403
            assert r.status == expected, (who, item["name"], answer)


def spellings(guid: str) -> list[str]:
    """A GUID in the spellings ``GET /events/{id}`` reads: with and without dashes, lower
    and upper case (braces never reach a route: a path parameter takes none)."""
    forms = [guid, guid.replace("-", "")]
    return forms + [f.upper() for f in forms]


async def test_a_session_id_is_a_guid_in_any_spelling(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    """``id: string <guid>`` [seed]: every spelling of the GUID names the same session."""
    headers = bearer(sim)
    body = {"filterBy": [], "orderBy": []}
    async with http.post(sim.api_url + "/eventSessions", json=body, headers=headers) as r:
        session_id = (await r.json())["id"]
    for spelled in spellings(session_id):
        async with http.get(f"{sim.api_url}/eventSessions/{spelled}", headers=headers) as r:
            assert r.status == 200, spelled
    url = f"{sim.api_url}/eventSessions/{session_id.replace('-', '').upper()}"
    async with http.delete(url, headers=headers) as r:
        assert (r.status, await r.json()) == (200, {})
    async with http.get(f"{sim.api_url}/eventSessions/{session_id}", headers=headers) as r:
        assert r.status == 404
    async with http.get(f"{sim.api_url}/eventSessions/{uuid.uuid4()}", headers=headers) as r:
        assert r.status == 404


async def test_the_pages_trigger_sample(sim: Simulator, http: aiohttp.ClientSession) -> None:
    """The page's request sample (its type and source swapped for the simulator's), to
    ``POST /events`` and, in an array, to the batch: every field comes back as sent, ``data``
    ``{}`` too, and ``GET /events/{id}?include=data`` reads the same event."""
    sample = {
        "type": str(ANALYTICS_EVENT),
        "source": CAM[0],
        "time": "2009-02-15T00:00:00.0000000Z",
        "datatype": "analytics",
        "tag": "My custom tag",
        "data": {},
    }
    headers = bearer(sim)
    async with http.post(sim.api_url + "/events", json=sample, headers=headers) as r:
        assert r.status == 202
        one = (await r.json())["data"]
    async with http.post(sim.api_url + "/events/batch", json=[sample], headers=headers) as r:
        assert r.status == 200
        [batched] = (await r.json())["array"]
    for event in (one, batched):
        assert {k: event[k] for k in sample} == sample
    assert one["id"] != batched["id"]
    async with http.get(f"{sim.api_url}/events/{one['id']}?include=data", headers=headers) as r:
        assert await r.json() == {"data": one}
