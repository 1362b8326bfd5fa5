"""The simulator's configuration subset, discovery document and unknown routes."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from xprotect_events.testing import (
    ANALYTICS_EVENT,
    CAMERA_IDS,
    GENERIC_EVENT,
    MOTION_STARTED,
    MOTION_STOPPED,
    SHORT_RETENTION_EVENT,
    UNSTORED_EVENT,
    USER_DEFINED_EVENT,
    Simulator,
    seed,
)

SPEC = Path("/work/shared/spec")


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as s:
        yield s


async def get(
    http: aiohttp.ClientSession, sim: Simulator, path: str, who: str | None = "admin"
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {sim.issue_token(who)}"} if who else {}
    async with http.get(sim.api_url + path, headers=headers) as r:
        return r.status, await r.json()


def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items}


async def test_event_types_have_the_sample_fields(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    status, body = await get(http, sim, "/eventTypes")
    assert status == 200
    types = by_id(body["array"])
    sample_file = SPEC / "milestonexprotectrestpython-1.0.5.config-rest.eventType.sample.json"
    sample = json.loads(sample_file.read_text()) if sample_file.exists() else None
    stopped = types[str(MOTION_STOPPED)]
    if sample is not None:
        assert set(stopped) == set(sample)
        for key in ("displayName", "name", "generatorType", "generatorSubtype", "generatorID"):
            assert stopped[key] == sample[key], key
    assert stopped["counterEventID"] == str(MOTION_STARTED)
    assert stopped["relations"]["self"] == {"type": "eventTypes", "id": str(MOTION_STOPPED)}
    assert types[str(USER_DEFINED_EVENT)]["generatorType"] == "External"
    assert types[str(ANALYTICS_EVENT)]["generatorSubtype"] == "AnalyticsEvent"
    assert types[str(GENERIC_EVENT)]["generatorSubtype"] == "Generic"
    assert types[str(MOTION_STARTED)]["generatorType"] == "RecorderPlugin"
    for type_id in (UNSTORED_EVENT, SHORT_RETENTION_EVENT, seed.LICENSE_PLATE_EVENT):
        assert str(type_id) in types


async def test_motion_ids_are_the_real_ones() -> None:
    ids_file = SPEC / "milestonesys-mipsdk-samples-protocol.event-type-ids.json"
    if not ids_file.exists():
        pytest.skip("the shared spec is not here")
    ids = json.loads(ids_file.read_text())
    assert str(MOTION_STARTED) == ids["motion_started"]
    assert str(MOTION_STOPPED) == ids["motion_stopped"]


async def test_get_event_type(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, body = await get(http, sim, f"/eventTypes/{ANALYTICS_EVENT}")
    assert (status, body["data"]["name"]) == (200, "Person Detected")
    assert (await get(http, sim, f"/eventTypes/{uuid.uuid4()}"))[0] == 404
    assert (await get(http, sim, "/eventTypes/nope"))[0] == 400


async def test_user_defined_events(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, body = await get(http, sim, "/userDefinedEvents")
    assert status == 200
    items = by_id(body["array"])
    assert set(items) >= {
        str(USER_DEFINED_EVENT),
        str(UNSTORED_EVENT),
        str(seed.REQUEST_PLAY_AUDIO),
    }
    assert str(ANALYTICS_EVENT) not in items
    door = items[str(USER_DEFINED_EVENT)]
    assert set(door) == {
        "displayName",
        "id",
        "name",
        "lastModified",
        "createdDate",
        "subtype",
        "relations",
    }
    assert door["relations"]["self"] == {"type": "userDefinedEvents", "id": str(USER_DEFINED_EVENT)}
    assert items[str(seed.REQUEST_PLAY_AUDIO)]["subtype"] == "System"
    status, body = await get(http, sim, f"/userDefinedEvents/{USER_DEFINED_EVENT}")
    assert body["data"]["name"] == "Door Forced Open"
    assert (await get(http, sim, f"/userDefinedEvents/{ANALYTICS_EVENT}"))[0] == 404


async def test_added_event_type(sim: Simulator, http: aiohttp.ClientSession) -> None:
    added = sim.add_event_type("Fire", generator_type="MIPDevice", retention=5)
    generic = sim.add_event_type("Other", generator_type="MIPDevice", generator_subtype="Generic")
    _, body = await get(http, sim, "/eventTypes")
    types = by_id(body["array"])
    assert types[str(added)]["name"] == "Fire"
    assert types[str(generic)]["generatorSubtype"] == "Generic"
    assert next(t for t in sim.event_types if t.id == added).retention == 5


async def test_cameras(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, body = await get(http, sim, "/cameras")
    assert status == 200
    assert [c["id"] for c in body["array"]] == [str(c) for c in CAMERA_IDS]
    assert body["array"][0]["name"] == "Camera 1 - Main Entrance"
    assert {"id", "name", "displayName", "enabled", "relations"} <= set(body["array"][0])
    _, body = await get(http, sim, "/cameras", who="operator")
    assert [c["id"] for c in body["array"]] == [str(c) for c in CAMERA_IDS[:2]]
    assert (await get(http, sim, f"/cameras/{CAMERA_IDS[3]}", who="operator"))[0] == 404
    assert (await get(http, sim, f"/cameras/{CAMERA_IDS[3]}", who="service"))[0] == 200
    new = sim.add_camera("Camera 5 - Roof", visible_to=["operator"])
    _, body = await get(http, sim, "/cameras", who="operator")
    assert str(new) in [c["id"] for c in body["array"]]
    assert [c.name for c in sim.cameras][-1] == "Camera 5 - Roof"


async def test_config_needs_a_token(sim: Simulator, http: aiohttp.ClientSession) -> None:
    for path in ("/eventTypes", "/userDefinedEvents", "/cameras"):
        status, body = await get(http, sim, path, who=None)
        assert (status, body["error"]["httpCode"]) == (401, 401)


async def test_well_known_uris(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.get(sim.url + "/api/.well-known/uris") as r:
        assert r.status == 200
        body = await r.json()
    assert body["IdentityProvider"] == sim.url + "/IDP"
    assert body["ApiGateways"] == [sim.url + "/API/"]
    assert {"ProductVersion", "UnsecureManagementServer", "SecureManagementServer"} <= set(body)


async def test_api_gateway_spelling(sim: Simulator, http: aiohttp.ClientSession) -> None:
    headers = {"Authorization": f"Bearer {sim.issue_token('admin')}"}
    async with http.get(sim.url + "/API/rest/v1/cameras", headers=headers) as r:
        assert r.status == 200
    assert sim.stats.requests["GET /api/rest/v1/cameras"] == 1


async def test_unknown_route_is_a_wrapped_404(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, body = await get(http, sim, "/nothing/here")
    assert status == 404
    assert body["error"]["httpCode"] == 404
    async with http.get(sim.url + "/elsewhere") as r:
        assert r.status == 404
        assert (await r.json())["error"]["httpCode"] == 404
    async with http.put(sim.api_url + "/events") as r:
        assert r.status == 405
        assert (await r.json())["error"]["httpCode"] == 405
