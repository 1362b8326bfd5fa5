"""POST /events and POST /events/batch of the simulator: validation, permissions, retention."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from xprotect_events.testing import (
    ANALYTICS_EVENT,
    CAMERA_IDS,
    GENERIC_EVENT,
    MOTION_STARTED,
    SHORT_RETENTION_EVENT,
    UNSTORED_EVENT,
    USER_DEFINED_EVENT,
    SimClock,
    Simulator,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CAM = [f"cameras/{c}" for c in CAMERA_IDS]
FORBIDDEN = {
    "error": {
        "httpCode": 403,
        "details": [
            {
                "errorText": "You do not have sufficient permissions to complete the operation.",
                "errorTextId": "VMO61008",
            }
        ],
    }
}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(clock=SimClock.frozen(NOW)) as s:
        yield s


async def post(
    http: aiohttp.ClientSession,
    url: str,
    token: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    data = raw if raw is not None else None
    async with http.post(url, headers=headers, json=None if raw else body, data=data) as r:
        return r.status, await r.json()


async def trigger(
    http: aiohttp.ClientSession, sim: Simulator, body: Any, who: str = "admin"
) -> tuple[int, Any]:
    return await post(http, sim.api_url + "/events?triggerRules=true", sim.issue_token(who), body)


def analytics(**over: Any) -> dict[str, Any]:
    body = {"type": str(ANALYTICS_EVENT), "source": CAM[0], "datatype": "analytics"}
    body.update(over)
    return body


def error_text(body: Any) -> str:
    return str(body["error"]["details"][0]["errorText"])


async def test_trigger_returns_202_with_the_event(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    status, body = await trigger(
        http, sim, analytics(tag="my tag", data={"objectList": [{"name": "person"}]})
    )
    assert status == 202
    event = body["data"]
    uuid.UUID(event["id"])
    assert event["time"] == "2024-05-01T12:00:00.0000000Z"  # the server's clock
    assert event["type"] == str(ANALYTICS_EVENT)
    assert event["source"] == CAM[0]
    assert event["tag"] == "my tag"
    assert event["data"] == {"objectList": [{"name": "person"}]}
    assert (sim.events_stored, sim.stats.events_accepted, sim.stats.events_stored_total) == (
        1,
        1,
        1,
    )


async def test_trigger_keeps_given_time_and_bare_guid_source(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    body = analytics(source=str(CAMERA_IDS[1]).upper(), time="2009-02-15T00:00:00.1234567Z")
    sim.clock.advance(0)
    status, got = await trigger(http, sim, body)
    assert status == 202
    assert got["data"]["time"] == "2009-02-15T00:00:00.1234570Z"
    assert got["data"]["source"] == CAM[1]
    status, got = await trigger(http, sim, analytics(time="2024-05-01T14:00:00+02:00"))
    assert got["data"]["time"] == "2024-05-01T12:00:00.0000000Z"


async def test_trigger_rules_parameter_is_optional(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token = sim.issue_token("admin")
    assert (await post(http, sim.api_url + "/events", token, analytics()))[0] == 202
    url = sim.api_url + "/events?triggerRules=false"
    assert (await post(http, url, token, analytics()))[0] == 202
    url = sim.api_url + "/events?triggerRules=maybe"
    assert (await post(http, url, token, analytics()))[0] == 400


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"source": CAM[0], "datatype": None}, "type"),
        (analytics(type="not-a-guid"), "type"),
        (analytics(type=str(uuid.UUID(int=7))), "Event type not found."),
        (analytics(source="cameras/f0f31f69-36a2-46a3-80b6-48e4bf617db9"), "Device not found."),
        (analytics(source="microphones/f0f31f69-36a2-46a3-80b6-48e4bf617db9"), "not found"),
        (analytics(source="garbage"), "source"),
        (analytics(time="noon"), "time"),
        (analytics(data=[1, 2]), "data"),
        (analytics(tag=5), "tag"),
        (analytics(tag="x" * 1025), "tag"),
        (analytics(datatype=3), "datatype"),
        ({"type": str(USER_DEFINED_EVENT), "source": None, "datatype": "x"}, "User defined"),
        (
            {"type": str(USER_DEFINED_EVENT), "source": None, "datatype": None, "data": {}},
            "User defined",
        ),
        ([analytics()], "object"),
    ],
)
async def test_trigger_validation(
    sim: Simulator, http: aiohttp.ClientSession, body: Any, text: str
) -> None:
    status, got = await trigger(http, sim, body)
    assert (status, got["error"]["httpCode"]) == (400, 400)
    assert text in error_text(got)
    assert sim.events_stored == 0
    assert sim.stats.events_accepted == 0


async def test_device_not_found_text_matches_the_real_server(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    source = "cameras/f0f31f69-36a2-46a3-80b6-48e4bf617db9"
    _, got = await trigger(http, sim, analytics(source=source))
    assert error_text(got) == f"Device not found. {source}"


async def test_malformed_json(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, got = await post(
        http, sim.api_url + "/events", sim.issue_token("admin"), raw=b'{"type": '
    )
    assert (status, got["error"]["httpCode"]) == (400, 400)


async def test_user_defined_event_is_its_own_source(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    body = {"type": str(USER_DEFINED_EVENT), "source": None, "datatype": None}
    status, got = await trigger(http, sim, body, who="operator")
    assert status == 202
    assert got["data"]["source"] == f"userDefinedEvents/{USER_DEFINED_EVENT}"
    body["source"] = CAM[1]
    assert (await trigger(http, sim, body, who="operator"))[1]["data"]["source"] == CAM[1]


async def test_analytics_event_may_have_no_source(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    status, got = await trigger(http, sim, analytics(source=None))
    assert (status, got["data"]["source"]) == (202, None)


@pytest.mark.parametrize("event_type", [GENERIC_EVENT, MOTION_STARTED])
async def test_users_may_not_trigger_generic_or_recorder_types(
    sim: Simulator, http: aiohttp.ClientSession, event_type: uuid.UUID
) -> None:
    body = analytics(type=str(event_type))
    assert await trigger(http, sim, body, who="admin") == (403, FORBIDDEN)
    status, got = await trigger(http, sim, body, who="service")
    assert status == 202
    assert got["data"]["type"] == str(event_type)


async def test_user_may_not_trigger_on_an_invisible_source(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    assert await trigger(http, sim, analytics(source=CAM[2]), who="operator") == (403, FORBIDDEN)
    assert (await trigger(http, sim, analytics(source=CAM[1]), who="operator"))[0] == 202
    assert (await trigger(http, sim, analytics(source=CAM[2]), who="admin"))[0] == 202


async def test_retention_zero_is_accepted_but_not_stored(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    body = {"type": str(UNSTORED_EVENT), "source": None, "datatype": None}
    status, got = await trigger(http, sim, body)
    assert status == 202
    assert sim.events_stored == 0
    assert (sim.stats.events_accepted, sim.stats.events_stored_total) == (1, 0)
    token = sim.issue_token("admin")
    async with http.get(
        f"{sim.api_url}/events/{got['data']['id']}", headers={"Authorization": f"Bearer {token}"}
    ) as r:
        assert r.status == 404


async def test_retention_expiry(sim: Simulator, http: aiohttp.ClientSession) -> None:
    _, short = await trigger(http, sim, analytics(type=str(SHORT_RETENTION_EVENT)))
    _, keep = await trigger(http, sim, analytics())
    token = sim.issue_token("admin")
    headers = {"Authorization": f"Bearer {token}"}
    sim.clock.advance(60)
    assert sim.events_stored == 2
    sim.clock.advance(0.001)
    async with http.get(f"{sim.api_url}/events/{short['data']['id']}", headers=headers) as r:
        assert r.status == 404
    async with http.get(f"{sim.api_url}/events", headers=headers) as r:
        assert [e["id"] for e in (await r.json())["array"]] == [keep["data"]["id"]]
    assert sim.events_stored == 1


async def test_old_event_past_its_retention_is_not_stored(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    old = (NOW - timedelta(minutes=5)).isoformat()
    status, _ = await trigger(http, sim, analytics(type=str(SHORT_RETENTION_EVENT), time=old))
    assert status == 202
    assert sim.events_stored == 0


async def test_batch_results_in_order(sim: Simulator, http: aiohttp.ClientSession) -> None:
    bodies = [
        analytics(tag="a"),
        analytics(type="nope"),
        analytics(type=str(GENERIC_EVENT)),
        {"type": str(UNSTORED_EVENT), "source": None, "datatype": None},
        analytics(tag="b", data={"k": 1}),
    ]
    status, got = await post(
        http, sim.api_url + "/events/batch?triggerRules=true", sim.issue_token("admin"), bodies
    )
    assert status == 200
    items = got["array"]
    assert len(items) == 5
    assert items[0]["tag"] == "a"
    assert items[1]["error"]["httpCode"] == 400
    assert items[2] == FORBIDDEN
    assert items[3]["type"] == str(UNSTORED_EVENT)
    assert items[4]["tag"] == "b"
    assert items[4]["data"] == {"k": 1}
    assert sim.events_stored == 2
    assert sim.stats.events_accepted == 3
    assert sim.stats.requests["POST /api/rest/v1/events/batch"] == 1


async def test_batch_limits(sim: Simulator, http: aiohttp.ClientSession) -> None:
    token = sim.issue_token("admin")
    url = sim.api_url + "/events/batch"
    assert await post(http, url, token, []) == (200, {"array": []})
    status, got = await post(http, url, token, [analytics()] * 101)
    assert (status, got["error"]["httpCode"]) == (400, 400)
    assert sim.events_stored == 0
    status, got = await post(http, url, token, [analytics()] * 100)
    assert (status, len(got["array"]), sim.events_stored) == (200, 100, 100)
    status, got = await post(http, url, token, analytics())
    assert (status, got["error"]["httpCode"]) == (400, 400)
    assert (await post(http, url, token, raw=b"[{"))[0] == 400


async def test_max_batch_is_configurable(http: aiohttp.ClientSession) -> None:
    async with Simulator(max_batch=3) as sim:
        token = sim.issue_token("service")
        status, _ = await post(http, sim.api_url + "/events/batch", token, [analytics()] * 4)
        assert status == 400


async def test_batch_events_are_listed(sim: Simulator, http: aiohttp.ClientSession) -> None:
    token = sim.issue_token("admin")
    bodies = [
        analytics(tag=str(i), time=(NOW + timedelta(seconds=-i)).isoformat()) for i in range(5)
    ]
    await post(http, sim.api_url + "/events/batch", token, bodies)
    async with http.get(sim.api_url + "/events", headers={"Authorization": f"Bearer {token}"}) as r:
        assert [e["tag"] for e in (await r.json())["array"]] == ["4", "3", "2", "1", "0"]
