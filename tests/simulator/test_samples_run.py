"""What Milestone's Python samples do, replayed against the simulator over loopback HTTP and
WebSockets. The requests are written here from what the samples were seen to send and expect
when they ran unchanged against ``xprotect-events serve`` (and from the output their
screenshots show from real servers); no sample code is copied.

- RestfulCommunicationPython: create, read, rename (``PUT``) and delete a user-defined event.
- EventsRestApiPython: skip the built-in user-defined events it knows by id, trigger one of
  the others with ``{"type"}`` alone, list a page with data, read the last event by id.
- EventsAndStateWebSocketApiPython: subscribe to motion and recording events on cameras,
  show every camera's state per state group by name, name a pushed event.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiohttp

from xprotect_events.testing import CAMERA_IDS, Simulator, seed
from xprotect_events.wire import format_time

WS = aiohttp.ClientWebSocketResponse
#: The built-in user-defined events the REST sample skips: "present in the management client".
BUILT_IN_USER_DEFINED = {
    "85867627-b287-4439-9e55-a63701e1715b",
    "77b1e70d-ba8d-4bb8-9ee8-43b09746d82a",
    "7605f8b0-7f5f-4432-b223-0bb2dc3f1f5c",
}
#: The recording event types' ids (the WebSocket sample subscribes to them).
RECORDING_STARTED = "4577f552-765a-438c-bc7d-e5ff1f754bc3"
RECORDING_STOPPED = "79a94f89-92de-4fca-8a43-5561d407423d"
#: The WebSocket sample's subscription: motion and recording, on every camera.
CAMERA_STATES = [
    {
        "modifier": "include",
        "resourceTypes": ["cameras"],
        "sourceIds": ["*"],
        "eventTypes": [
            str(seed.MOTION_STARTED),
            str(seed.MOTION_STOPPED),
            RECORDING_STARTED,
            RECORDING_STOPPED,
        ],
    }
]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def admin_token(http: aiohttp.ClientSession, sim: Simulator) -> str:
    """The samples' password grant at the gateway's token path."""
    form = "grant_type=password&username=admin&password=admin&client_id=GrantValidatorClient"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with http.post(sim.url + "/API/IDP/connect/token", data=form, headers=headers) as r:
        assert r.status == 200
        return str((await r.json())["access_token"])


async def call(
    http: aiohttp.ClientSession, method: str, url: str, token: str, body: Any = None
) -> tuple[int, Any]:
    """A JSON body sent with no Content-Type, as the RESTful sample sends its bodies."""
    data = None if body is None else json.dumps(body).encode()
    async with http.request(
        method, url, data=data, headers=bearer(token), skip_auto_headers=("Content-Type",)
    ) as r:
        assert "Content-Type" not in r.request_info.headers
        return r.status, await r.json()


async def test_restful_sample_creates_reads_renames_and_deletes(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.clock.freeze()
    token = await admin_token(http, sim)
    url = sim.api_url + "/userDefinedEvents"
    status, body = await call(http, "POST", url, token, {"name": "my Python event"})
    assert status == 201
    created = body["result"]
    assert (created["state"], created["subtype"]) == ("Success", "UserDefined")
    assert created["path"] == {"type": "userDefinedEvents", "id": created["id"]}
    assert created["lastModified"] == format_time(sim.clock.now())
    item = f"{url}/{created['id']}"
    status, body = await call(http, "GET", item, token)
    assert (status, body["data"]["name"]) == (200, "my Python event")
    sim.clock.advance(0.037)
    status, body = await call(http, "PUT", item, token, {"name": "my updated Python event"})
    assert status == 200
    updated = body["data"]
    assert (updated["id"], updated["name"], updated["displayName"]) == (
        created["id"],
        "my updated Python event",
        "my updated Python event",
    )
    assert updated["lastModified"] == format_time(sim.clock.now())
    assert (await call(http, "GET", item, token))[1]["data"] == updated
    assert await call(http, "DELETE", item, token) == (200, {"state": "Success"})
    assert (await call(http, "GET", item, token))[0] == 404


async def test_renames_that_are_refused(sim: Simulator, http: aiohttp.ClientSession) -> None:
    token = await admin_token(http, sim)
    url = sim.api_url + "/userDefinedEvents"
    taken = f"{url}/{seed.USER_DEFINED_EVENT}"
    assert (await call(http, "PUT", taken, token, {"name": "DOORBELL PRESSED"}))[0] == 400
    assert (await call(http, "PUT", taken, token, {"name": ""}))[0] == 400
    built_in = f"{url}/{seed.REQUEST_PLAY_AUDIO}"
    assert (await call(http, "PUT", built_in, token, {"name": "Mine"}))[0] == 400
    operator = sim.issue_token("operator")
    assert (await call(http, "PUT", taken, operator, {"name": "Mine"}))[0] == 403
    status, body = await call(http, "PUT", taken, token, {"name": "door forced open"})
    assert (status, body["data"]["name"]) == (200, "door forced open")  # its own name


async def test_rest_sample_skips_the_built_in_user_defined_events(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token = await admin_token(http, sim)
    status, body = await call(http, "GET", sim.api_url + "/userDefinedEvents", token)
    assert status == 200
    subtypes = {item["id"]: item["subtype"] for item in body["array"]}
    assert {subtypes.get(i) for i in BUILT_IN_USER_DEFINED} == {"System"}
    own = [i for i in body["array"] if i["id"] not in BUILT_IN_USER_DEFINED]
    assert own[0]["id"] == str(seed.USER_DEFINED_EVENT)  # stored: its retention is above 0
    status, body = await call(http, "POST", sim.api_url + "/events", token, {"type": own[0]["id"]})
    assert status == 202
    status, body = await call(
        http, "GET", sim.api_url + "/events?page=0&size=10&include=data", token
    )
    assert status == 200
    last = body["array"][-1]["id"]
    status, body = await call(http, "GET", f"{sim.api_url}/events/{last}", token)
    assert (status, body["data"]["id"]) == (200, last)


async def command(ws: WS, command_id: int, name: str, **fields: Any) -> dict[str, Any]:
    """Send a command; read frames until its answer, dropping the rest (as the sample does)."""
    await ws.send_str(json.dumps({"command": name, **fields, "commandId": command_id}))
    while True:
        frame = await ws.receive_json()
        if frame.get("commandId") == command_id:
            assert 200 <= frame["status"] <= 299, frame
            return frame  # type: ignore[no-any-return]


async def lookup(http: aiohttp.ClientSession, sim: Simulator, path: str, key: str) -> str:
    """A viewer's name look-up: ``data[key]`` of a Configuration API item."""
    token = sim.issue_token("admin")
    status, body = await call(http, "GET", f"{sim.api_url}/{path}", token)
    assert status == 200, path
    return str(body["data"][key])


async def state_table(
    http: aiohttp.ClientSession, sim: Simulator, states: list[dict[str, Any]]
) -> dict[tuple[str, str], str]:
    """The state viewer's table: (source name, state group name) → state name."""
    table = {}
    for row in states:
        source = await lookup(http, sim, row["source"], "displayName")
        group = await lookup(http, sim, f"stateGroups/{row['stategroupid']}", "displayName")
        table[(source, group)] = await lookup(http, sim, f"eventTypes/{row['type']}", "state")
    return table


async def test_state_viewer_shows_motion_and_recording_of_every_camera(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token = await admin_token(http, sim)
    async with http.ws_connect(sim.ws_url + "/", headers=bearer(token)) as ws:
        start = await command(ws, 1, "startSession", sessionId="", eventId="")
        assert start["status"] == 201
        await command(ws, 2, "addSubscription", filters=CAMERA_STATES)
        states = (await command(ws, 3, "getState"))["states"]
    table = await state_table(http, sim, states)
    expected = {}
    for camera in sim.directory.cameras.values():
        expected[(camera.name, "Motion detected")] = "No Motion"
        expected[(camera.name, "Recording")] = "Recording"
    assert table == expected


async def test_event_viewer_names_a_pushed_recording_event(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token = await admin_token(http, sim)
    async with http.ws_connect(sim.ws_url + "/", headers=bearer(token)) as ws:
        await command(ws, 1, "startSession", sessionId="", eventId="")
        await command(ws, 2, "addSubscription", filters=CAMERA_STATES)
        body = {"type": RECORDING_STOPPED, "source": f"cameras/{CAMERA_IDS[2]}"}
        service = sim.issue_token("service")
        status, sent = await call(http, "POST", sim.api_url + "/events", service, body)
        assert status == 202
        frame = await ws.receive_json()
        states = (await command(ws, 3, "getState"))["states"]
    event = frame["events"][-1]
    assert event["id"] == sent["data"]["id"]
    assert datetime.fromisoformat(event["time"]).tzinfo is not None
    assert await lookup(http, sim, event["source"], "displayName") == "Camera 3 - Server Room"
    assert await lookup(http, sim, f"eventTypes/{event['type']}", "displayName") == (
        "Recording Stopped"
    )
    assert await lookup(http, sim, f"stateGroups/{event['stategroupid']}", "displayName") == (
        "Recording"
    )
    table = await state_table(http, sim, states)
    assert table[("Camera 3 - Server Room", "Recording")] == "Not recording"
    assert table[("Camera 4 - Loading Dock", "Recording")] == "Recording"
