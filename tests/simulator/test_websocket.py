"""The simulator's Events and State WebSocket API, as a raw aiohttp WebSocket client sees it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp
import attrs
import pytest

from tests.helpers import wait_until
from xprotect_events.testing import (
    ANALYTICS_EVENT,
    CAMERA_IDS,
    MOTION_STARTED,
    MOTION_STOPPED,
    UNSTORED_EVENT,
    Simulator,
)
from xprotect_events.testing.app import ROUTE_KEYS
from xprotect_events.testing.faultflags import parse_fault_flag
from xprotect_events.testing.faults import Fault, Faults
from xprotect_events.testing.seed import MOTION_STATE_GROUP
from xprotect_events.testing.websocket import WS_ROUTE

WS = aiohttp.ClientWebSocketResponse
ANY_CAMERA = {
    "modifier": "include",
    "resourceTypes": ["cameras"],
    "sourceIds": ["*"],
    "eventTypes": ["*"],
}


def bearer(sim: Simulator, who: str = "service") -> dict[str, str]:
    return {"Authorization": f"Bearer {sim.issue_token(who)}"}


async def refused_upgrade(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str]
) -> tuple[int, str | None]:
    """The refused upgrade's status and Retry-After, and nothing else of aiohttp's error.

    aiohttp's ``WSServerHandshakeError`` keeps the request's headers (a real token) in its
    ``request_info``; holding it in ``pytest.raises`` put that token where the secrets audit
    looks. The library wraps the error without them (``live_conn._upgrade_error``).
    """
    try:
        await http.ws_connect(url, headers=headers)
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status, exc.headers.get("Retry-After") if exc.headers else None
    raise AssertionError("the upgrade was not refused")


async def command(ws: WS, command_id: int, name: str, **fields: Any) -> dict[str, Any]:
    """Send a command and read frames until its answer (like the Python sample)."""
    await ws.send_str(json.dumps({"command": name, **fields, "commandId": command_id}))
    while True:
        frame = await ws.receive_json()
        if frame.get("commandId") == command_id:
            return frame  # type: ignore[no-any-return]


async def trigger(http: aiohttp.ClientSession, sim: Simulator, type_id: Any, camera: int) -> str:
    body = {"type": str(type_id), "source": f"cameras/{CAMERA_IDS[camera]}", "datatype": None}
    async with http.post(sim.api_url + "/events", json=body, headers=bearer(sim)) as r:
        assert r.status == 202
        return str((await r.json())["data"]["id"])


async def session(ws: WS, filters: list[dict[str, Any]] | None = None) -> str:
    answer = await command(ws, 1, "startSession", sessionId="", eventId="")
    assert answer["status"] == 201
    sub = await command(ws, 2, "addSubscription", filters=filters or [ANY_CAMERA])
    assert sub["status"] == 200
    assert sub["subscriptionId"]
    return str(answer["sessionId"])


@pytest.mark.parametrize("path", ["/api/ws/events/v1", "/api/ws/events/v1/"])
async def test_push_with_and_without_slash(
    sim: Simulator, http: aiohttp.ClientSession, path: str
) -> None:
    async with http.ws_connect(
        sim.ws_url.removesuffix("/api/ws/events/v1") + path, headers=bearer(sim)
    ) as ws:
        await session(ws)
        event_id = await trigger(http, sim, ANALYTICS_EVENT, 0)
        frame = await ws.receive_json()
        assert [e["id"] for e in frame["events"]] == [event_id]
        assert frame["events"][0]["source"] == f"cameras/{CAMERA_IDS[0]}"
        assert "stategroupid" not in frame["events"][0]


async def test_bad_token_refuses_the_upgrade(sim: Simulator, http: aiohttp.ClientSession) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await http.ws_connect(sim.ws_url, headers={"Authorization": "Bearer nope"})
    assert info.value.status == 401
    assert sim.live.upgrades_refused == 1


@pytest.mark.parametrize(
    ("fault", "status", "retry_after"),
    [(Fault.status(503, retry_after=2), 503, "2"), (Fault.status(401), 401, None)],
)
async def test_faults_refuse_the_upgrade(
    sim: Simulator, http: aiohttp.ClientSession, fault: Fault, status: int, retry_after: str | None
) -> None:
    sim.faults.add(WS_ROUTE, fault)
    assert await refused_upgrade(http, sim.ws_url, bearer(sim)) == (status, retry_after)
    assert sim.faults.injected["status"] == 1
    assert sim.live.connections_total == 0  # the room never saw it
    async with http.ws_connect(sim.ws_url, headers=bearer(sim)) as ws:  # used up: upgraded
        await session(ws)


def test_the_upgrade_is_a_route_faults_and_flags_know() -> None:
    assert WS_ROUTE == "GET /api/ws/events/v1"
    route, kinds, _ = parse_fault_flag(f"{WS_ROUTE}=status:503:1")
    assert (route, kinds) == (WS_ROUTE, [Fault.status(503, retry_after=1)])
    Faults(ROUTE_KEYS).add(WS_ROUTE, Fault.reset_before())  # known: no ValueError


async def test_authenticate_command(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_url) as ws:
        refused = await command(ws, 1, "startSession", sessionId="", eventId="")
        assert refused["status"] == 401
        assert refused["error"]["errorText"]
        bad = await command(ws, 2, "authenticate", token="Bearer nope")
        assert bad["status"] == 401
        assert "invalid" in bad["error"]["errorText"]
        good = await command(ws, 3, "authenticate", token=f"Bearer {sim.issue_token('admin')}")
        assert good["status"] == 200
        assert (await command(ws, 4, "startSession", sessionId="", eventId=""))["status"] == 201


async def test_resume_sends_missed_events_right_after_the_answer(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(sim.ws_url, headers=bearer(sim)) as ws:
        session_id = await session(ws)
        first = await trigger(http, sim, ANALYTICS_EVENT, 0)
        assert (await ws.receive_json())["events"][0]["id"] == first
    await wait_until(lambda: sim.live.connections == 0, "the server saw the close")
    missed = [await trigger(http, sim, ANALYTICS_EVENT, i) for i in range(3)]
    async with http.ws_connect(sim.ws_url, headers=bearer(sim)) as ws:
        await ws.send_str(
            json.dumps(
                {
                    "command": "startSession",
                    "sessionId": session_id,
                    "eventId": first,
                    "commandId": 1,
                }
            )
        )
        answer = await ws.receive_json()
        assert answer == {"commandId": 1, "status": 200, "sessionId": session_id}
        frame = await ws.receive_json()
        assert [e["id"] for e in frame["events"]] == missed
        live = await trigger(http, sim, ANALYTICS_EVENT, 1)  # the subscription was kept
        assert (await ws.receive_json())["events"][0]["id"] == live


async def test_resume_window_and_refusals(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async def resume(session_id: str) -> dict[str, Any]:
        async with http.ws_connect(sim.ws_url, headers=bearer(sim)) as ws:
            return await command(ws, 1, "startSession", sessionId=session_id, eventId="")

    async with http.ws_connect(sim.ws_url, headers=bearer(sim)) as ws:
        session_id = await session(ws)
    await wait_until(lambda: sim.live.connections == 0, "the server saw the close")
    assert (await resume(session_id))["status"] == 200
    sim.live.refuse_resumes = True
    refused = await resume(session_id)
    assert refused["status"] == 201
    assert refused["sessionId"] != session_id
    sim.live.refuse_resumes = False
    await wait_until(lambda: sim.live.connections == 0, "the server saw the close")
    sim.clock.advance(31)  # past the 30 s window [doc]
    assert (await resume(session_id))["status"] == 201


async def test_include_exclude(sim: Simulator, http: aiohttp.ClientSession) -> None:
    exclude = {
        "modifier": "Exclude",
        "sourceIds": [str(CAMERA_IDS[1])],
        "eventTypes": ["*"],
        "resourceTypes": ["*"],
    }
    async with http.ws_connect(sim.ws_url, headers=bearer(sim)) as ws:
        await session(ws, [ANY_CAMERA, exclude])
        await trigger(http, sim, ANALYTICS_EVENT, 1)  # excluded
        wanted = await trigger(http, sim, ANALYTICS_EVENT, 2)
        assert [e["id"] for e in (await ws.receive_json())["events"]] == [wanted]


async def test_remove_subscription(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_url, headers=bearer(sim)) as ws:
        await command(ws, 1, "startSession", sessionId="", eventId="")
        sub = await command(ws, 2, "addSubscription", filters=[ANY_CAMERA])
        only = {**ANY_CAMERA, "eventTypes": [str(MOTION_STARTED)]}
        await command(ws, 3, "addSubscription", filters=[only])
        removed = await command(ws, 4, "removeSubscription", subscriptionId=sub["subscriptionId"])
        assert removed["status"] == 200
        again = await command(ws, 5, "removeSubscription", subscriptionId=sub["subscriptionId"])
        assert again["status"] == 404
        assert again["error"]["errorText"]
        await trigger(http, sim, ANALYTICS_EVENT, 0)
        motion = await trigger(http, sim, MOTION_STARTED, 0)
        assert [e["id"] for e in (await ws.receive_json())["events"]] == [motion]


async def test_get_state(sim: Simulator, http: aiohttp.ClientSession) -> None:
    motion = {**ANY_CAMERA, "eventTypes": [str(MOTION_STARTED), str(MOTION_STOPPED)]}
    async with http.ws_connect(sim.ws_url, headers=bearer(sim, "operator")) as ws:
        await session(ws, [motion])
        before = await command(ws, 3, "getState")
        assert before["status"] == 200
        assert {s["source"] for s in before["states"]} == {f"cameras/{c}" for c in CAMERA_IDS[:2]}
        assert {s["type"] for s in before["states"]} == {str(MOTION_STOPPED)}
        started = await trigger(http, sim, MOTION_STARTED, 0)
        pushed = (await ws.receive_json())["events"][0]
        assert pushed["stategroupid"] == str(MOTION_STATE_GROUP)
        after = {s["source"]: s for s in (await command(ws, 4, "getState"))["states"]}
        assert after[f"cameras/{CAMERA_IDS[0]}"]["id"] == started
        assert after[f"cameras/{CAMERA_IDS[1]}"]["type"] == str(MOTION_STOPPED)


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        json.dumps({"command": "getState"}),  # no commandId
        json.dumps({"commandId": 1}),  # no command
        json.dumps({"command": "startSession", "commandId": 1, "sessionId": 5}),
        json.dumps({"command": "addSubscription", "commandId": 1, "filters": "x"}),
        json.dumps({"command": "addSubscription", "commandId": 1, "filters": [{"modifier": "x"}]}),
    ],
)
async def test_malformed_commands_close_the_connection(
    sim: Simulator, http: aiohttp.ClientSession, frame: str
) -> None:
    async with http.ws_connect(sim.ws_url, headers=bearer(sim)) as ws:
        await command(ws, 9, "startSession", sessionId="", eventId="")
        await ws.send_str(frame)
        msg = await ws.receive()
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1008


async def test_unknown_command_is_an_error_answer(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(sim.ws_url, headers=bearer(sim)) as ws:
        answer = await command(ws, 1, "fly")
        assert answer["status"] == 400
        assert "fly" in answer["error"]["errorText"]
        early = await command(ws, 2, "getState")
        assert early["status"] == 400  # no session yet


async def test_recycle_and_drop(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_url, headers=bearer(sim)) as ws:
        session_id = await session(ws)
        sim.live.drop_connections()
        assert (await ws.receive()).type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    await wait_until(lambda: sim.live.connections == 0, "the server saw the drop")
    async with http.ws_connect(sim.ws_url, headers=bearer(sim)) as ws:
        answer = await command(ws, 1, "startSession", sessionId=session_id, eventId="")
        assert answer["status"] == 200  # a dropped session is resumable
        await sim.live.recycle()
        assert (await ws.receive()).type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1001
    async with http.ws_connect(sim.ws_url, headers=bearer(sim)) as ws:
        answer = await command(ws, 1, "startSession", sessionId=session_id, eventId="")
        assert answer["status"] == 201  # the recycle lost the sessions


async def test_unstored_events_are_pushed(sim: Simulator, http: aiohttp.ClientSession) -> None:
    doorbell = {**ANY_CAMERA, "resourceTypes": ["*"]}
    async with http.ws_connect(sim.ws_url, headers=bearer(sim)) as ws:
        await session(ws, [doorbell])
        body = {"type": str(UNSTORED_EVENT), "source": None, "datatype": None}
        async with http.post(sim.api_url + "/events", json=body, headers=bearer(sim)) as r:
            assert r.status == 202
        frame = await ws.receive_json()
        assert frame["events"][0]["type"] == str(UNSTORED_EVENT)
        async with http.post(
            sim.api_url + "/events/batch", json=[body] * 3, headers=bearer(sim)
        ) as r:
            ids = [item["id"] for item in (await r.json())["array"]]
        pushed: list[str] = []
        while len(pushed) < 3:  # the second and third take the batch's known-pair path
            pushed += [e["id"] for e in (await ws.receive_json(timeout=10))["events"]]
        assert pushed == ids
    assert sim.events_stored == 0


async def test_a_batch_keeps_the_state_with_nobody_listening(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    """A stateful type that is never stored: a batch's events of it still set the state,
    though no session is open to hear of them."""
    seen = attrs.evolve(sim.directory.types[str(MOTION_STARTED)], id=uuid.uuid4(), retention=0)
    sim.directory.add_event_type(seen)
    body = {"type": str(seen.id), "source": f"cameras/{CAMERA_IDS[0]}", "datatype": None}
    async with http.post(sim.api_url + "/events/batch", json=[body] * 2, headers=bearer(sim)) as r:
        last = (await r.json())["array"][-1]["id"]
    motion = {**ANY_CAMERA, "eventTypes": [str(seen.id), str(MOTION_STOPPED)]}
    async with http.ws_connect(sim.ws_url, headers=bearer(sim)) as ws:
        await session(ws, [motion])
        states = (await command(ws, 3, "getState"))["states"]
    assert {s["source"]: s["id"] for s in states}[f"cameras/{CAMERA_IDS[0]}"] == last
    assert sim.events_stored == 0


async def test_the_python_sample_runs_unchanged(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    """The frames ``EventsAndStateWebSocketApiPython`` sends, in its order, and the
    Configuration API look-ups its viewers make (``data.displayName``, ``data.state``)."""
    token = sim.issue_token("admin")
    headers = {"Authorization": f"Bearer {token}"}
    filters = [
        {
            "modifier": "include",
            "resourceTypes": ["cameras"],
            "sourceIds": ["*"],
            "eventTypes": [str(MOTION_STARTED), str(MOTION_STOPPED)],
        }
    ]
    async with http.ws_connect(
        sim.url.replace("http", "ws") + "/api/ws/events/v1/", headers=headers
    ) as ws:
        start = await command(ws, 1, "startSession", sessionId="", eventId="")
        assert start["status"] == 201
        await command(ws, 2, "addSubscription", filters=filters)
        states = (await command(ws, 3, "getState"))["states"]
        assert states
        assert all("stategroupid" in s for s in states)
        row = states[0]
        lookups = {
            f"/eventTypes/{row['type']}": "state",
            f"/stateGroups/{row['stategroupid']}": "displayName",
            f"/{row['source']}": "displayName",
        }
        for path, key in lookups.items():
            async with http.get(sim.api_url + path, headers=headers) as r:
                assert r.status == 200, path
                assert (await r.json())["data"][key]
