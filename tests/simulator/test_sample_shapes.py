"""Request shapes Milestone's samples send, each answered as the real server would (written
from what the samples do, not copied): the C# ServerCommandWrapper's and the Go sample's
discovery, the Go sample's analytics event types, the client ids of the WebRTC JavaScript
and C# SecurityPermission samples, the C# RestfulCommunication sample's PATCH, and what
ASP.NET Core and RFC 9110 make of methods, trailing slashes and query keys."""

from __future__ import annotations

import re

import aiohttp
import pytest

from xprotect_events.testing import Simulator, seed


def bearer(sim: Simulator, name: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {sim.issue_token(name)}"}


async def test_openid_configuration_says_the_server_version(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with http.get(sim.url + "/idp/.well-known/openid-configuration") as r:
        text = await r.text()
    # The C# sample's test, on the raw text: a major version of 21 or more is OAuth.
    match = re.search(r'"server_version":"([0-9]{1,2})\.[0-9]', text)
    assert match is not None
    assert int(match[1]) >= 21


async def test_analytics_events_as_the_go_sample_reads_them(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with http.get(sim.api_url + "/analyticsEvents", headers=bearer(sim)) as r:
        assert r.status == 200
        items = (await r.json())["array"]
    ids = {item["id"] for item in items}
    assert str(seed.ANALYTICS_EVENT) in ids
    assert str(seed.GENERIC_EVENT) not in ids  # a generic event is no analytics event
    assert str(seed.USER_DEFINED_EVENT) not in ids
    for item in items:
        assert all(isinstance(item[k], str) for k in ("displayName", "description"))
        assert isinstance(item["sourceArray"], list)
    one = f"{sim.api_url}/analyticsEvents/{seed.ANALYTICS_EVENT}"
    async with http.get(one, headers=bearer(sim)) as r:
        assert (await r.json())["data"]["displayName"] == "Person Detected"
    other = f"{sim.api_url}/analyticsEvents/{seed.USER_DEFINED_EVENT}"
    async with http.get(other, headers=bearer(sim)) as r:
        assert r.status == 404


@pytest.mark.parametrize("client_id", ["GrantValidatorClient", "VmsClient", "VmsAdminClient"])
async def test_a_user_grant_takes_milestones_clients(
    sim: Simulator, http: aiohttp.ClientSession, client_id: str
) -> None:
    form = {"grant_type": "password", "username": "admin", "password": "admin"}
    url = sim.url + "/IDP/connect/token"
    async with http.post(url, data={**form, "client_id": client_id}) as r:
        assert r.status == 200
        token = (await r.json())["access_token"]
    async with http.get(sim.api_url + "/events", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 200
    async with http.post(url, data={**form, "client_id": "x"}) as r:
        assert (r.status, await r.json()) == (400, {"error": "invalid_client"})


async def test_patch_renames_a_user_defined_event(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    url = f"{sim.api_url}/userDefinedEvents/{seed.USER_DEFINED_EVENT}"
    async with http.patch(url, json={"name": "my updated event"}, headers=bearer(sim)) as r:
        assert r.status == 200
        assert (await r.json())["data"]["name"] == "my updated event"
    async with http.get(url, headers=bearer(sim)) as r:
        assert (await r.json())["data"]["name"] == "my updated event"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/rest/v1/events", "GET, POST"),
        ("PUT", "/API/REST/v1/Events", "GET, POST"),
        ("POST", "/api/rest/v1/eventSessions/x", "DELETE, GET"),
        ("GET", "/IDP/connect/token", "POST"),
    ],
)
async def test_a_405_says_what_is_allowed(
    sim: Simulator, http: aiohttp.ClientSession, method: str, path: str, allow: str
) -> None:
    async with http.request(method, sim.url + path, headers=bearer(sim)) as r:
        assert r.status == 405  # RFC 9110 15.5.6: a 405 MUST carry Allow
        assert r.headers["Allow"] == allow
        assert (await r.json())["error"]["httpCode"] == 405


@pytest.mark.parametrize(
    "path", ["/api/rest/v1/events/", "/api/rest/v1/cameras/", "/API/rest/v1/EventTypes/"]
)
async def test_a_trailing_slash_reaches_the_route(
    sim: Simulator, http: aiohttp.ClientSession, path: str
) -> None:
    async with http.get(sim.url + path, headers=bearer(sim)) as r:
        assert r.status == 200
        assert isinstance((await r.json())["array"], list)


async def test_query_keys_ignore_case(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.store_events({"type": str(seed.ANALYTICS_EVENT), "data": {"n": i}} for i in range(3))
    url: str | None = sim.api_url + "/events?Page=0&SIZE=2&Include=data&OrderBy=desc:'time'"
    seen: list[int] = []
    while url is not None:
        async with http.get(url, headers=bearer(sim)) as r:
            assert r.status == 200, await r.text()
            body = await r.json()
        seen.extend(event["data"]["n"] for event in body["array"])
        url = body["_links"].get("next")
        assert len(seen) <= 3  # a next link that pages back would loop
    assert seen == [2, 1, 0]


async def test_trigger_body_keys_ignore_case(sim: Simulator, http: aiohttp.ClientSession) -> None:
    """ASP.NET Core binds JSON properties without regard to case: one trigger and a batch."""
    body = {"Type": str(seed.USER_DEFINED_EVENT), "TAG": "t"}
    async with http.post(sim.api_url + "/events", json=body, headers=bearer(sim)) as r:
        assert r.status == 202
        assert (await r.json())["data"]["tag"] == "t"
    url = sim.api_url + "/events/batch"
    async with http.post(url, json=[body, body], headers=bearer(sim)) as r:
        assert r.status == 200
        assert [item["tag"] for item in (await r.json())["array"]] == ["t", "t"]


async def test_session_body_keys_ignore_case(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.store_events([{"type": str(seed.ANALYTICS_EVENT)}, {"type": str(seed.LICENSE_PLATE_EVENT)}])
    item = {"Property": "type", "Operator": "equals", "Value": str(seed.ANALYTICS_EVENT)}
    body = {"FilterBy": [item], "ORDERBY": [{"property": "time", "Direction": "desc"}]}
    async with http.post(sim.api_url + "/eventSessions", json=body, headers=bearer(sim)) as r:
        assert r.status == 201, await r.text()
        created = await r.json()
    assert created["filterBy"] == [{k.lower(): v for k, v in item.items()}]  # its own spelling
    assert created["orderBy"] == [{"property": "time", "direction": "desc"}]
    url = f"{sim.api_url}/eventSessions/{created['id']}"
    async with http.get(url, headers=bearer(sim)) as r:
        new = (await r.json())["data"]["newEvents"]
    assert [e["type"] for e in new] == [str(seed.ANALYTICS_EVENT)]
