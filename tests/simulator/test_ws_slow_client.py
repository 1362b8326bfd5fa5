"""A WebSocket client that stops reading: what waits for it stays bounded."""

from __future__ import annotations

import aiohttp

from tests.simulator.test_websocket import bearer, command, session
from xprotect_events.testing import CAMERA_IDS, USER_DEFINED_EVENT, Simulator

EVERYTHING = {
    "modifier": "include",
    "resourceTypes": ["*"],
    "sourceIds": ["*"],
    "eventTypes": ["*"],
}


async def test_a_client_that_does_not_read_is_cut_and_can_resume(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    """Every event for a client that had stopped reading queued up in the server without
    bound (a stuck consumer grew the simulator's memory for ever); one more than
    ``max_outbox`` now cuts the connection, a client that reads is not cut, and the cut
    session resumes with what it missed."""
    sim.live.max_outbox = 500  # above a batch (100): only a client far behind is cut
    stuck = await http.ws_connect(sim.ws_url, headers=bearer(sim))
    stuck_id = await session(stuck, [EVERYTHING])
    reader = await http.ws_connect(sim.ws_url, headers=bearer(sim))
    await session(reader, [EVERYTHING])
    event = {"type": str(USER_DEFINED_EVENT), "source": f"cameras/{CAMERA_IDS[0]}"}
    body = [{**event, "datatype": None, "tag": "x" * 1000}] * 100
    longest, sent, received = 0, 0, 0
    while len(sim.live.sockets) == 2 and sent < 30_000:  # 30 MB; socket buffers take a few
        async with http.post(sim.api_url + "/events/batch", json=body, headers=bearer(sim)) as r:
            assert r.status == 200
        sent += len(body)
        longest = max([longest, *(len(sock.outbox) for sock in sim.live.sockets)])
        while received < sent:
            received += len((await reader.receive_json())["events"])
    assert len(sim.live.sockets) == 1, "the client that does not read is still connected"
    assert longest <= 500
    assert [sock.session.id for sock in sim.live.sockets if sock.session] != [stuck_id]
    sim.live.max_outbox = 1_000_000  # room for the replay of what it missed
    again = await http.ws_connect(sim.ws_url, headers=bearer(sim))
    answer = await command(again, 1, "startSession", sessionId=stuck_id, eventId="")
    assert answer["status"] == 200
    first = await again.receive_json()
    assert first["events"][0]["tag"] == "x" * 1000
    for ws in (again, reader, stuck):
        await ws.close()
