"""The API Gateway's CORS (``Simulator(cors=…)``), over real loopback HTTP: what a browser
on another origin sends and reads (facts and choices: ``xprotect_events/testing/cors.py``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from xprotect_events import InvalidInputError
from xprotect_events.testing import CorsPolicy, Fault, Simulator, seed

PAGE = "http://127.0.0.1:8000"  # the page's origin: another port, so another origin
ALLOW_ORIGIN = "Access-Control-Allow-Origin"
CORS_HEADERS = {
    ALLOW_ORIGIN,
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Credentials",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
}
TOKEN_FORM = {
    "grant_type": "password",
    "username": "admin",
    "password": "admin",
    "client_id": "GrantValidatorClient",
}
#: What the JavaScript sample subscribes to (written from WIRE-WS.md).
EVERYTHING = {
    "modifier": "Include",
    "resourceTypes": ["*"],
    "sourceIds": ["*"],
    "eventTypes": ["*"],
}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(cors=True) as s:
        yield s


def cors_of(headers: CIMultiDictProxy[str]) -> dict[str, str]:
    return {name: headers[name] for name in CORS_HEADERS if name in headers}


def preflight(method: str = "GET", headers: str = "authorization") -> dict[str, str]:
    return {
        "Origin": PAGE,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


def bearer(sim: Simulator, token: str | None = None) -> dict[str, str]:
    return {"Origin": PAGE, "Authorization": f"Bearer {token or sim.issue_token('admin')}"}


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/rest/v1/events", "GET"),
        ("/api/rest/v1/events/batch", "POST"),
        ("/api/rest/v1/eventSessions/0b5f3a52-0000-4000-8000-000000000000", "DELETE"),
        ("/api/IDP/connect/token", "POST"),
        ("/API/IDP/connect/token", "POST"),
        ("/api/.well-known/uris", "GET"),
        ("/API/rest/v1/cameras", "GET"),
    ],
)
async def test_preflight_on_gateway_paths(
    sim: Simulator, http: aiohttp.ClientSession, path: str, method: str
) -> None:
    async with http.options(sim.url + path, headers=preflight(method)) as r:
        assert r.status == 204
        assert await r.read() == b""
        assert cors_of(r.headers) == {
            ALLOW_ORIGIN: "*",
            "Access-Control-Allow-Headers": "*",
            "Access-Control-Allow-Methods": "*",
        }
    assert sum(sim.stats.requests.values()) == 0  # the gateway answered it, not a route


async def test_preflight_is_the_same_off_as_before_and_answered_when_on(
    http: aiohttp.ClientSession,
) -> None:
    async with Simulator() as off, Simulator(cors=False) as false, Simulator(cors="*") as on:
        answers = []
        for s in (off, false, on):
            async with http.options(s.api_url + "/events", headers=preflight()) as r:
                answers.append((r.status, cors_of(r.headers), await r.json(content_type=None)))
    for status, cors, body in answers[:2]:
        assert status == 405
        assert cors == {}
        assert body["error"]["httpCode"] == 405
    assert answers[2][0] == 204
    assert answers[2][1][ALLOW_ORIGIN] == "*"


async def test_off_by_default_no_header_anywhere(http: aiohttp.ClientSession) -> None:
    async with Simulator() as off, Simulator(cors=True) as on:
        seen = []
        for s in (off, on):
            headers = {"Origin": PAGE}
            async with http.post(
                s.url + "/api/IDP/connect/token", data=TOKEN_FORM, headers=headers
            ) as r:
                assert r.status == 200
                seen.append(cors_of(r.headers))
    assert seen == [{}, {ALLOW_ORIGIN: "*"}]


async def test_token_post_from_a_foreign_origin(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    headers = {"Origin": PAGE}  # form-urlencoded: a "simple" request, no preflight
    async with http.post(sim.url + "/api/IDP/connect/token", data=TOKEN_FORM, headers=headers) as r:
        assert r.status == 200
        assert cors_of(r.headers) == {ALLOW_ORIGIN: "*"}
        assert (await r.json())["access_token"]
        assert r.headers["Cache-Control"] == "no-store"  # the answer is otherwise the same


async def test_rest_get_with_a_bearer_token(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.get(sim.api_url + "/events", headers=bearer(sim)) as r:
        assert r.status == 200
        assert cors_of(r.headers) == {ALLOW_ORIGIN: "*"}
        assert "array" in await r.json()


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/rest/v1/events", 401),  # a token that is not valid
        ("/api/rest/v1/events/not-a-guid", 400),
        ("/api/rest/v1/nothingHere", 404),
    ],
)
async def test_errors_carry_the_header_so_the_page_can_read_them(
    sim: Simulator, http: aiohttp.ClientSession, path: str, status: int
) -> None:
    token = "nope" if status == 401 else None
    async with http.get(sim.url + path, headers=bearer(sim, token)) as r:
        assert r.status == status
        assert cors_of(r.headers) == {ALLOW_ORIGIN: "*"}
        assert (await r.json())["error"]["httpCode"] == status
        if status == 401:
            assert r.headers["WWW-Authenticate"].startswith("Bearer")


async def test_identity_provider_errors_and_faults_carry_it_too(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    wrong = {**TOKEN_FORM, "password": "wrong"}
    headers = {"Origin": PAGE}
    async with http.post(sim.url + "/api/IDP/connect/token", data=wrong, headers=headers) as r:
        assert r.status == 400
        assert cors_of(r.headers) == {ALLOW_ORIGIN: "*"}
    sim.faults.add("GET /api/rest/v1/events", Fault.status(503, retry_after=1))
    async with http.get(sim.api_url + "/events", headers=bearer(sim)) as r:
        assert r.status == 503
        assert cors_of(r.headers) == {ALLOW_ORIGIN: "*"}


async def test_options_without_a_request_method_is_an_ordinary_request(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with http.options(sim.api_url + "/events", headers={"Origin": PAGE}) as r:
        assert r.status == 405
        assert cors_of(r.headers) == {ALLOW_ORIGIN: "*"}
    assert sim.stats.requests["OPTIONS /api/rest/v1/events"] == 1


@pytest.mark.parametrize("path", ["/IDP/connect/token", "/simulator/eventTypes"])
async def test_only_the_gateway_paths(
    sim: Simulator, http: aiohttp.ClientSession, path: str
) -> None:
    async with http.options(sim.url + path, headers=preflight("POST")) as r:
        assert r.status == 405
        assert cors_of(r.headers) == {}


async def test_no_origin_no_headers(sim: Simulator, http: aiohttp.ClientSession) -> None:
    headers = {"Authorization": f"Bearer {sim.issue_token('admin')}"}
    async with http.get(sim.api_url + "/events", headers=headers) as r:
        assert r.status == 200
        assert cors_of(r.headers) == {}


async def test_values_are_sent_as_configured(http: aiohttp.ClientSession) -> None:
    policy = CorsPolicy(
        allow_origin=PAGE, allow_headers="authorization, content-type", allow_methods="GET, POST"
    )
    async with Simulator(cors=policy) as s, Simulator(cors=PAGE) as origin_only:
        async with http.options(s.api_url + "/events", headers=preflight("DELETE", "x-a")) as r:
            assert r.status == 204
            assert cors_of(r.headers) == {
                ALLOW_ORIGIN: PAGE,
                "Access-Control-Allow-Headers": "authorization, content-type",
                "Access-Control-Allow-Methods": "GET, POST",
            }
        other = {**bearer(origin_only), "Origin": "http://elsewhere.example"}
        async with http.get(origin_only.api_url + "/events", headers=other) as r:
            assert r.status == 200
            assert cors_of(r.headers) == {ALLOW_ORIGIN: PAGE}  # the browser refuses it


async def command(ws: aiohttp.ClientWebSocketResponse, cmd: dict[str, Any]) -> dict[str, Any]:
    await ws.send_str(json.dumps(cmd))
    while True:
        frame = await ws.receive_json()
        if frame.get("commandId") == cmd["commandId"]:
            return frame  # type: ignore[no-any-return]


async def test_what_the_javascript_sample_does(sim: Simulator, http: aiohttp.ClientSession) -> None:
    """Token by a simple POST, then the WebSocket with no header but Origin, the token in
    ``authenticate``, command ids from 0 and an empty ``subscriptionId``."""
    headers = {"Origin": PAGE}
    async with http.post(sim.url + "/api/IDP/connect/token", data=TOKEN_FORM, headers=headers) as r:
        assert r.headers[ALLOW_ORIGIN] == "*"
        token = (await r.json())["access_token"]
    async with http.ws_connect(sim.ws_url, headers=headers) as ws:
        auth = {"command": "authenticate", "commandId": 0, "token": f"Bearer {token}"}
        assert (await command(ws, auth))["status"] == 200
        start = {"command": "startSession", "commandId": 1, "sessionId": "", "eventId": ""}
        assert (await command(ws, start))["status"] == 201
        sub = {
            "command": "addSubscription",
            "commandId": 2,
            "subscriptionId": "",
            "filters": [EVERYTHING],
        }
        assert (await command(ws, sub))["status"] == 200
        camera = f"cameras/{seed.CAMERA_IDS[0]}"
        body = {"type": str(seed.USER_DEFINED_EVENT), "source": camera}
        async with http.post(sim.api_url + "/events", json=body, headers=bearer(sim, token)) as r:
            assert r.status == 202
            assert r.headers[ALLOW_ORIGIN] == "*"
        frame = await ws.receive_json()
        assert [(e["source"], e["type"]) for e in frame["events"]] == [
            (camera, str(seed.USER_DEFINED_EVENT))
        ]


@pytest.mark.parametrize("bad", [5, "", "a\r\nX-Evil: 1", CorsPolicy(allow_methods="\n")])
def test_a_cors_setting_no_header_can_carry_is_refused(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="cors"):
        Simulator(cors=bad)  # type: ignore[arg-type]
