"""What real clients send, replayed against the simulator (requests written from the facts in
WIRE.md, not copied from any sample): Milestone's Python sample's trigger, the JavaScript
samples' token path, the C# samples' discovery chain, Windows logins at the gateway and at
the identity provider, and the Configuration API subset."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import requests
from requests_ntlm import HttpNtlmAuth

from xprotect_events.testing import Simulator, seed
from xprotect_events.testing.iis import UNAUTHORIZED_TITLE

BASIC_FORM = {
    "grant_type": "password",
    "username": "admin",
    "password": "admin",
    "client_id": "GrantValidatorClient",
}
WINDOWS_FORM = {"grant_type": "windows_credentials", "client_id": "GrantValidatorClient"}


async def token_of(http: aiohttp.ClientSession, url: str) -> str:
    async with http.post(url, data=BASIC_FORM) as r:
        assert r.status == 200, await r.text()
        return str((await r.json())["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_user_defined_trigger_without_datatype_is_accepted(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token = await token_of(http, sim.url + "/IDP/connect/token")
    async with http.get(sim.api_url + "/userDefinedEvents", headers=bearer(token)) as r:
        first = (await r.json())["array"][0]
    body = {"type": first["id"]}  # no datatype, no source: the sample's body
    async with http.post(sim.api_url + "/events", json=body, headers=bearer(token)) as r:
        assert r.status == 202
        event = (await r.json())["data"]
    assert event["datatype"] is None
    assert event["type"] == first["id"]


async def test_user_defined_events_still_take_no_data(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token = sim.issue_token("admin")
    for extra in ({"datatype": "analytics"}, {"data": {"a": 1}}):
        body = {"type": str(seed.USER_DEFINED_EVENT), **extra}
        async with http.post(sim.api_url + "/events", json=body, headers=bearer(token)) as r:
            assert r.status == 400


@pytest.mark.parametrize(
    "path",
    [
        "/API/IDP/connect/token",
        "/api/IDP/connect/token",
        "/IDP/connect/token",
        "/idp/connect/token",
        "/Api/Idp/Connect/Token",
        "/iDp/CONNECT/token",
    ],
)
async def test_token_at_every_spelling(
    sim: Simulator, http: aiohttp.ClientSession, path: str
) -> None:
    token = await token_of(http, sim.url + path)
    async with http.get(sim.url + "/API/rest/v1/cameras", headers=bearer(token)) as r:
        assert r.status == 200
    assert sim.stats.requests["POST /IDP/connect/token"] == 1


@pytest.mark.parametrize(
    "path", ["/api/rest/v1/eventTypes", "/API/REST/V1/EVENTTYPES", "/api/Rest/v1/eventtypes"]
)
async def test_api_paths_ignore_case(
    sim: Simulator, http: aiohttp.ClientSession, path: str
) -> None:
    async with http.get(sim.url + path, headers=bearer(sim.issue_token("admin"))) as r:
        assert r.status == 200
        assert (await r.json())["array"]
    assert sim.stats.requests["GET /api/rest/v1/eventTypes"] == 1


async def test_wrong_method_in_another_case_is_405(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with http.put(sim.url + "/API/REST/v1/Events") as r:
        assert r.status == 405


async def test_discovery_chain(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.get(sim.url + "/api/.well-known/uris") as r:
        uris = await r.json()
    assert set(uris) >= {"ProductVersion", "IdentityProvider", "ApiGateways"}
    async with http.get(uris["IdentityProvider"] + "/.well-known/openid-configuration") as r:
        assert r.status == 200
        openid = await r.json()
    token = await token_of(http, openid["token_endpoint"])
    gateway = uris["ApiGateways"][0]
    assert gateway.endswith("/")
    async with http.get(gateway + "rest/v1/eventTypes", headers=bearer(token)) as r:
        assert r.status == 200
    async with http.get(gateway + ".well-known/uris") as r:  # the samples' "gateway is up"
        assert r.status == 200


def ntlm_post(url: str, password: str = seed.WINDOWS_PASSWORD) -> requests.Response:
    auth = HttpNtlmAuth(seed.WINDOWS_USER, password)
    return requests.post(url, data=WINDOWS_FORM, auth=auth, timeout=10)


async def test_ntlm_accepted_at_the_identity_provider(sim: Simulator) -> None:
    r = await asyncio.to_thread(ntlm_post, sim.url + "/IDP/connect/token")
    assert r.status_code == 200
    assert r.json()["token_type"] == "Bearer"


async def test_ntlm_refused_at_the_gateway(sim: Simulator) -> None:
    r = await asyncio.to_thread(ntlm_post, sim.url + "/API/IDP/connect/token")
    assert r.status_code == 401
    assert r.headers["Content-Type"].startswith("text/html")
    assert UNAUTHORIZED_TITLE in r.text
    assert [h.strip() for h in r.headers["WWW-Authenticate"].split(",")] == ["Negotiate", "NTLM"]


async def test_ntlm_at_the_gateway_when_the_installation_passes_it() -> None:
    async with Simulator(ntlm_at_gateway=True) as sim:
        r = await asyncio.to_thread(ntlm_post, sim.url + "/api/idp/connect/token")
        assert r.status_code == 200


async def test_wrong_windows_password_gets_iis_page(sim: Simulator) -> None:
    r = await asyncio.to_thread(ntlm_post, sim.url + "/IDP/connect/token", "wrong")
    assert r.status_code == 401
    assert r.headers["Content-Type"].startswith("text/html")
    assert UNAUTHORIZED_TITLE in r.text


# --------------------------------------------------------------------------- configuration


async def get_json(http: aiohttp.ClientSession, url: str, token: str) -> tuple[int, Any]:
    async with http.get(url, headers=bearer(token)) as r:
        return r.status, await r.json()


async def test_event_type_state_and_state_groups(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token = sim.issue_token("admin")
    _, body = await get_json(http, f"{sim.api_url}/eventTypes/{seed.MOTION_STOPPED}", token)
    stopped = body["data"]
    assert (stopped["state"], stopped["stateGroupId"]) == (
        "No Motion",
        str(seed.MOTION_STATE_GROUP),
    )
    status, body = await get_json(http, sim.api_url + "/stateGroups", token)
    assert status == 200
    groups = {g["relations"]["self"]["id"]: g for g in body["array"]}
    motion = groups[stopped["stateGroupId"]]
    assert set(motion) == {"displayName", "name", "lastModified", "states", "relations"}
    assert stopped["state"] in motion["states"]
    assert groups[str(seed.CPU_STATE_GROUP)]["states"] == [
        "Normal",
        "Warning",
        "Critical",
        "Undefined",
    ]
    url = f"{sim.api_url}/stateGroups/{seed.CPU_STATE_GROUP}"
    assert (await get_json(http, url, token))[1]["data"]["name"] == "CPU usage"
    url = f"{sim.api_url}/stateGroups/{seed.MOTION_STARTED}"
    assert (await get_json(http, url, token))[0] == 404


async def test_user_defined_event_create_read_trigger_delete(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token = sim.issue_token("service")
    url = sim.api_url + "/userDefinedEvents"
    async with http.post(url, json={"name": "Bot Alarm"}, headers=bearer(token)) as r:
        assert r.status == 201
        item = (await r.json())["result"]
    assert set(item) == {"id", "name", "lastModified", "createdDate", "subtype", "state", "path"}
    assert (item["name"], item["subtype"], item["state"]) == ("Bot Alarm", "UserDefined", "Success")
    assert item["path"] == {"type": "userDefinedEvents", "id": item["id"]}
    status, body = await get_json(http, f"{url}/{item['id']}", token)
    assert (status, body["data"]["id"]) == (200, item["id"])
    async with http.post(
        sim.api_url + "/events", json={"type": item["id"]}, headers=bearer(token)
    ) as r:
        assert r.status == 202
    async with http.post(url, json={"name": "bot alarm"}, headers=bearer(token)) as r:
        assert r.status == 400  # the name is in use
    async with http.delete(f"{url}/{item['id']}", headers=bearer(token)) as r:
        assert r.status == 200
    assert (await get_json(http, f"{url}/{item['id']}", token))[0] == 404
    async with http.delete(f"{url}/{seed.REQUEST_PLAY_AUDIO}", headers=bearer(token)) as r:
        assert r.status == 400  # built in


async def test_user_defined_event_changes_need_rights(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token = sim.issue_token("operator")
    url = sim.api_url + "/userDefinedEvents"
    async with http.post(url, json={"name": "Mine"}, headers=bearer(token)) as r:
        assert r.status == 403
    async with http.delete(f"{url}/{seed.USER_DEFINED_EVENT}", headers=bearer(token)) as r:
        assert r.status == 403
    async with http.post(url, json={"name": ""}, headers=bearer(sim.issue_token("admin"))) as r:
        assert r.status == 400


async def test_retention_is_visible(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.get(sim.url + "/simulator/eventTypes") as r:
        items = {i["id"]: i["retention"] for i in (await r.json())["array"]}
    assert items[str(seed.UNSTORED_EVENT)] == 0
    assert items[str(seed.SHORT_RETENTION_EVENT)] == seed.SHORT_RETENTION_SECONDS
    assert items[str(seed.USER_DEFINED_EVENT)] is None
    assert sim.retention(seed.UNSTORED_EVENT) == 0
