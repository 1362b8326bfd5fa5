"""``client.subscribe`` against a hostile WebSocket server (tests/hostile_ws.py): a fresh
audit's findings, each a test that failed before its fix."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web

from tests.hostile_ws import TYPE_ID, HostileWS, Socket, event, items, number
from xprotect_events import ClientClosedError, ProtocolError
from xprotect_events.profile import Profile


async def test_live_events_behind_a_slow_gap_fill_hold_the_server_back() -> None:
    # broke: while a refused resume's gap was filled from the store, the new connection's
    # live events were held without a bound on the socket: past twice ``buffer`` the
    # stream ended in SlowConsumerError, though the consumer waited for them
    drop, pushed = asyncio.Event(), asyncio.Event()

    async def scenario(socket: Socket) -> None:
        if socket.number == 1:
            await socket.open("S1")
            await socket.events(1)
            await drop.wait()
            return
        await socket.open("S2", 201)
        for n in range(100, 140):
            await socket.events(n)
        pushed.set()
        await socket.until_closed()

    async with HostileWS(scenario) as server, server.client() as client:
        server.stored = [event(n) for n in range(1, 30)]
        listing = server._list

        async def slow_listing(request: web.Request) -> web.Response:
            await pushed.wait()  # every live event is on its way before the store answers
            return await listing(request)

        server._list = slow_listing  # type: ignore[method-assign]
        async with client.subscribe(types=[TYPE_ID], stored_types="all", buffer=5) as live:
            first = await items(live, 1)
            drop.set()
            rest = await items(live, 28 + 40)
    assert [number(e) for e in first + rest] == [*range(1, 30), *range(100, 140)]


async def test_events_pushed_before_start_session_wait_for_the_gap_fill() -> None:
    # broke: with the token in the authenticate command, what the socket pushed before
    # startSession went to the consumer ahead of the gap fill, which then started after
    # it: the stored events of the gap were lost without a Gap
    drop = asyncio.Event()

    async def scenario(socket: Socket) -> None:
        await socket.answer(await socket.command("authenticate"))
        if socket.number == 1:
            await socket.open("S1")
            await socket.events(1)
            await drop.wait()
            return
        await socket.events(5000)
        await socket.open("S2", 201)
        await socket.until_closed()

    profile = Profile(ws_auth="command")
    async with HostileWS(scenario) as server, server.client(profile=profile) as client:
        server.stored = [event(n) for n in (1, 2, 3, 4, 5000)]
        async with client.subscribe(types=[TYPE_ID], stored_types="all") as live:
            first = await items(live, 1)
            drop.set()
            rest = await items(live, 4)
    assert [number(e) for e in first + rest] == [1, 2, 3, 4, 5000]


async def test_a_frame_of_exactly_max_frame_size_is_read() -> None:
    # broke: aiohttp refuses a message of max_msg_size bytes, so the largest frame read
    # was one byte under max_frame_size (and the error said "over" of one that was not)
    limit = 4096

    async def scenario(socket: Socket) -> None:
        await socket.open("S1")
        for size in (limit, limit + 1):
            frame = json.dumps({"events": [event(size - limit + 1)]})
            await socket.ws.send_str(frame[:-1] + " " * (size - len(frame)) + "}")
        await socket.until_closed()

    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID], max_frame_size=limit) as live,
    ):
        assert [number(e) for e in await items(live, 1)] == [1]
        with pytest.raises(ProtocolError, match="over max_frame_size"):
            await items(live, 1)


async def test_closing_the_client_closes_its_open_stream_cleanly() -> None:
    # broke: the client's close() cut the stream's socket (close code 1006, no close
    # frame), and the stream's task went on trying to reconnect through a closed client
    async def scenario(socket: Socket) -> None:
        await socket.open("S1")
        await socket.events(1)
        await socket.until_closed()

    async with HostileWS(scenario) as server:
        async with server.client() as client, client.subscribe(types=[TYPE_ID]) as live:
            assert [number(e) for e in await items(live, 1)] == [1]
            await client.close()
            assert server.sockets[0].ws.closed
            with pytest.raises(ClientClosedError):
                await anext(live)
        assert server.sockets[0].close_code == 1000
        assert len(server.sockets) == 1
