"""What Milestone's Go web-server sample (milestonesys/appcenter-samples, apigateway-webserver)
sends over the Events and State WebSocket, replayed raw against the simulator; written here
from what the sample does, not copied.

The sample differs from the Python and JavaScript ones in ways a server must take: it finds
the socket at ``ApiGateways[0]`` of the discovery document with the path replaced; it writes
every field of one command struct in every command (``startSession`` carries
``"filters": null``, ``addSubscription`` carries ``"sessionId": ""`` and ``"eventId": ""``);
it reads exactly one frame as a command's answer (it does not skip event frames); it reads
one frame as an event batch and takes the id of its last event; and it pings every minute.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from yarl import URL

from tests.helpers import wait_until
from xprotect_events.testing import ANALYTICS_EVENT, CAMERA_IDS, Simulator


def command(name: str, command_id: int, **fields: Any) -> str:
    """One command as the sample's struct marshals it: every field, set or not."""
    body = {"command": name, "commandId": command_id, "sessionId": "", "eventId": ""}
    return json.dumps({**body, "filters": None, **fields})


async def socket_url(http: aiohttp.ClientSession, sim: Simulator) -> URL:
    """``ApiGateways[0]``, scheme ``ws``, path ``/api/ws/events/v1/`` (the sample's steps)."""
    async with http.get(sim.url + "/api/.well-known/uris") as r:
        gateway = URL((await r.json())["ApiGateways"][0])
    return gateway.with_scheme("ws").with_path("/api/ws/events/v1/")


async def trigger(http: aiohttp.ClientSession, sim: Simulator, camera: int) -> str:
    body: dict[str, Any] = {"type": str(ANALYTICS_EVENT), "source": f"cameras/{CAMERA_IDS[camera]}"}
    headers = {"Authorization": f"Bearer {sim.issue_token('service')}"}
    body["datatype"] = None
    async with http.post(sim.api_url + "/events", json=body, headers=headers) as r:
        assert r.status == 202
        return str((await r.json())["data"]["id"])


async def test_the_go_sample_runs_unchanged(sim: Simulator, http: aiohttp.ClientSession) -> None:
    headers = {"Authorization": f"Bearer {sim.issue_token('admin')}"}
    url = await socket_url(http, sim)
    async with http.ws_connect(url, headers=headers, autoping=False) as ws:
        await ws.send_str(command("startSession", 1))
        started = await ws.receive_json()
        assert (started["commandId"], started["status"]) == (1, 201)
        assert started["sessionId"]
        rule = {
            "modifier": "include",
            "resourceTypes": ["cameras"],
            "sourceIds": [str(CAMERA_IDS[1])],
            "eventTypes": [str(ANALYTICS_EVENT)],
        }
        await ws.send_str(command("addSubscription", 2, filters=[rule]))
        subscribed = await ws.receive_json()  # the one frame the sample reads
        assert (subscribed["commandId"], subscribed["status"]) == (2, 200)
        await trigger(http, sim, 0)  # another camera: not for this subscription
        wanted = await trigger(http, sim, 1)
        batch = await ws.receive_json()
        assert [e["id"] for e in batch["events"]] == [wanted]
        event = batch["events"][-1]
        assert all(isinstance(event[k], str) for k in ("id", "type", "source", "time"))
        assert event["datatype"] is None  # a Go string takes null as ""
        await ws.ping(b"keepalive")  # the sample's minute ping
        pong = await ws.receive()
        assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, b"keepalive")
        await ws.close()  # the sample's RequestClose: a normal closure
    await wait_until(lambda: bool(sim.live.close_codes), "the server saw the close")
    assert sim.live.close_codes == [aiohttp.WSCloseCode.OK]
