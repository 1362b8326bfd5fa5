"""``client.subscribe`` against a WebSocket server that misbehaves on purpose
(tests/hostile_ws.py): secrets it echoes, frames it sends at the worst moment, answers it
never gives."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.hostile import leaks
from tests.hostile_ws import TOKEN, TYPE_ID, HostileWS, Socket, event, items, number
from xprotect_events import ProtocolError, Rule, XProtectError


def shows_token(error: BaseException) -> list[str]:
    texts = [str(error), repr(error), str(getattr(error, "error_text", ""))]
    return [leak for text in texts for leak in leaks(text, {"token": TOKEN})]


async def test_a_bad_event_echoing_the_token_ends_the_stream_scrubbed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario(socket: Socket) -> None:
        await socket.open("S1")
        await socket.events(1, id=f"Bearer {TOKEN}")
        await socket.until_closed()

    caplog.set_level(logging.DEBUG)
    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        with pytest.raises(ProtocolError) as caught:
            await items(live, 1)
    assert shows_token(caught.value) == []
    assert leaks(caplog.text, {"token": TOKEN}) == []


async def test_a_bad_event_replayed_behind_every_resume_ends_the_stream() -> None:
    # the server sends it right behind the startSession answer: before the fix, the answered
    # command still counted as waiting, so the bad frame was not the stream's and every
    # resume replayed it (a reconnect loop that never raised)
    async def scenario(socket: Socket) -> None:
        if socket.number == 1:
            await socket.open("S1")
            await socket.events(1)
            return  # a drop
        await socket.answer(await socket.command("startSession"), 200, sessionId="S1")
        await socket.events(2, type="not-a-guid")
        await socket.until_closed()

    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        with pytest.raises(ProtocolError, match="event type"):
            await items(live, 2)
    assert len(server.sockets) == 2


async def test_a_malformed_answer_fails_its_command_and_the_stream_goes_on() -> None:
    async def scenario(socket: Socket) -> None:
        await socket.open("S1")
        command = await socket.command("getState")
        await socket.send({"commandId": command["commandId"], "status": "ok"})
        await socket.events(1)
        await socket.until_closed()

    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        with pytest.raises(ProtocolError, match="'status'"):
            await live.state()
        assert [number(e) for e in await items(live, 1)] == [1]
    assert len(server.sockets) == 1


@pytest.mark.parametrize("when", ["before", "after"])
async def test_live_events_around_a_refused_resume_wait_for_the_gap_fill(when: str) -> None:
    drop = asyncio.Event()

    async def scenario(socket: Socket) -> None:
        if socket.number == 1:
            await socket.open("S1")
            await socket.events(1)
            await drop.wait()
            return
        command = await socket.command("startSession")
        if when == "before":
            await socket.events(5000)
        await socket.answer(command, 201, sessionId="S2")
        if when == "after":
            await socket.events(5000)  # in the same burst as the answer
        await socket.answer(await socket.command("addSubscription"), subscriptionId="sub-2")
        await socket.until_closed()

    async with HostileWS(scenario) as server, server.client() as client:
        server.stored = [event(n) for n in (1, 2, 3, 4, 5000)]
        async with client.subscribe(types=[TYPE_ID], stored_types="all") as live:
            first = await items(live, 1)
            drop.set()
            rest = await items(live, 4)
    assert [number(e) for e in first + rest] == [1, 2, 3, 4, 5000]


async def test_a_session_whose_subscription_was_not_confirmed_is_not_resumed() -> None:
    async def scenario(socket: Socket) -> None:
        if socket.number == 1:
            await socket.open("S1")
            await socket.events(1)
        elif socket.number == 2:
            await socket.answer(await socket.command("startSession"), 201, sessionId="S2")
            await socket.command("addSubscription")  # dropped before it is answered
        else:
            command = await socket.command("startSession")
            resumed = command["sessionId"] == "S2"
            await socket.answer(command, 200 if resumed else 201, sessionId="S2")
            if not resumed:
                command = await socket.command("addSubscription")
                await socket.answer(command, subscriptionId="sub-3")
                await socket.events(7)
            await socket.until_closed()

    async with HostileWS(scenario) as server, server.client() as client:
        server.stored = [event(1)]
        async with client.subscribe(types=[TYPE_ID], stored_types="all") as live:
            got = await items(live, 2)
    assert [number(e) for e in got] == [1, 7]
    assert server.sockets[2].commands[0]["sessionId"] == ""


async def test_a_subscription_change_without_answer_makes_the_next_session_new() -> None:
    async def scenario(socket: Socket) -> None:
        if socket.number == 1:
            await socket.open("S1")
            await socket.events(1)
            await socket.command("addSubscription")  # dropped before it is answered
            return
        command = await socket.command("startSession")
        await socket.answer(command, 201, sessionId="S2")
        for _ in range(2):  # both subscriptions this stream knows
            await socket.answer(await socket.command("addSubscription"), subscriptionId="s")
        await socket.until_closed()

    async with HostileWS(scenario) as server, server.client() as client:
        server.stored = [event(1)]
        rules = [Rule.include(types=[TYPE_ID])]
        async with client.subscribe(types=[TYPE_ID], stored_types="all") as live:
            await items(live, 1)
            with pytest.raises(XProtectError):
                await live.add_subscription(rules)
            await live.add_subscription(rules)  # on the next connection, once it is live
    second = server.sockets[1].commands
    assert second[0] == {**second[0], "command": "startSession", "sessionId": ""}
