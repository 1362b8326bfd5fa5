"""``client.subscribe`` against a hostile WebSocket server (tests/hostile_ws.py): answers
that lack their ids, commands never answered, a subscription the server does not have,
an overflow while a session settles, and the gaps a stream keeps; each a test that failed
before its fix."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.hostile_ws import TYPE_ID, HostileWS, Socket, event, items, number
from xprotect_events import (
    Gap,
    InvalidInputError,
    ProtocolError,
    RequestTimeoutError,
    RetryPolicy,
    Rule,
    SlowConsumerError,
    TransportError,
    XProtectError,
    live_deliver,
)
from xprotect_events.live import LiveStream
from xprotect_events.profile import Profile

WS_PATH = "/api/ws/events/v1"
OTHER_TYPE = "0a6d6b2a-35c6-4b8e-b2b6-3b7f0e0a4c11"


async def poll(check: Any, within: float = 10.0) -> None:
    """Until ``check()`` holds, within ``within`` seconds."""
    async with asyncio.timeout(within):
        while not check():
            await asyncio.sleep(0.005)


async def consume(live: LiveStream, got: list[int]) -> None:
    """Every item's number into ``got`` until the stream ends, within 10 s."""
    async with asyncio.timeout(10):
        async for item in live:
            got.append(number(item))


@pytest.mark.parametrize(
    ("answer", "method"),
    [
        ({"startSession": {}}, "startSession"),
        ({"startSession": {"sessionId": "S1"}, "addSubscription": {}}, "addSubscription"),
    ],
)
async def test_an_answer_without_its_id_names_the_command(
    answer: dict[str, dict[str, Any]], method: str
) -> None:
    # broke: the ProtocolError for a startSession answer with no sessionId (an
    # addSubscription one with no subscriptionId) had an empty method and path
    async def scenario(socket: Socket) -> None:
        while (msg := await socket.ws.receive()).type.name == "TEXT":
            command = json.loads(msg.data)
            await socket.answer(command, 201, **answer.get(command["command"], {}))

    async with HostileWS(scenario) as server, server.client() as client:
        with pytest.raises(ProtocolError) as caught:
            async with asyncio.timeout(10), client.subscribe(types=[TYPE_ID]):
                pass
    assert (caught.value.method, caught.value.path) == (method, WS_PATH)


@pytest.mark.parametrize(
    "reply",
    [
        {"status": 200, "states": {"not": "a list"}},  # checked by the command
        {"status": "200"},  # checked by the reader
    ],
)
async def test_a_malformed_get_state_answer_names_the_command(reply: dict[str, Any]) -> None:
    # broke: a getState answer that did not decode failed with an empty method
    async def scenario(socket: Socket) -> None:
        await socket.open("S1")
        command = await socket.command("getState")
        await socket.send({"commandId": command["commandId"], **reply})
        await socket.until_closed()

    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        with pytest.raises(ProtocolError) as caught:
            async with asyncio.timeout(10):
                await live.state()
    assert (caught.value.method, caught.value.path) == ("getState", WS_PATH)


async def test_a_start_session_never_answered_fails_within_the_connect_bound() -> None:
    # broke: startSession waited Profile.ws_command_timeout (600 s, for getState's sake),
    # so a server that never answered it held subscribe for attempts x 10 minutes
    async def scenario(socket: Socket) -> None:
        await socket.until_closed()

    policy = RetryPolicy(attempts=2, backoff_initial=0.01, backoff_max=0.02, jitter=0)
    async with (
        HostileWS(scenario) as server,
        server.client(retry=policy, connect_timeout=0.2) as client,
    ):
        with pytest.raises(TransportError, match="no answer") as caught:
            async with asyncio.timeout(30), client.subscribe(types=[TYPE_ID]):
                pass
    assert caught.value.method == "startSession"
    assert len(server.sockets) == 2


async def test_a_resubscription_never_answered_fails_within_the_connect_bound() -> None:
    # broke: the subscriptions a new session makes again waited ws_command_timeout each
    async def scenario(socket: Socket) -> None:
        await socket.answer(await socket.command("startSession"), 201, sessionId="S")
        await socket.until_closed()

    policy = RetryPolicy(attempts=2, backoff_initial=0.01, backoff_max=0.02, jitter=0)
    async with (
        HostileWS(scenario) as server,
        server.client(retry=policy, connect_timeout=0.2) as client,
    ):
        with pytest.raises(TransportError, match="no answer") as caught:
            async with asyncio.timeout(30), client.subscribe(types=[TYPE_ID]):
                pass
    assert caught.value.method == "addSubscription"


async def test_an_overflow_while_the_session_settles_is_a_slow_consumer_error() -> None:
    # broke: the SlowConsumerError raised while a new session's held events were handed
    # over reached the consumer as a plain XProtectError("the live stream stopped: …"),
    # and a command waiting on that connection waited for its answer for ever
    drop, go = asyncio.Event(), asyncio.Event()

    async def scenario(socket: Socket) -> None:
        if socket.number == 1:
            await socket.open("S1")
            await socket.events(1)
            await drop.wait()
            return
        await socket.open("S2", 201)
        first, second = await socket.command(), await socket.command()
        await socket.events(100, 101, 102)  # held: the gap fill is not done
        adding = first if first["command"] == "addSubscription" else second
        await socket.answer(adding, subscriptionId="s-more")  # all three were read
        await socket.until_closed()

    async with HostileWS(scenario) as server, server.client() as client:
        server.stored = [event(1), event(2)]
        listing = server._list

        async def slow_listing(request: web.Request) -> web.Response:
            await go.wait()
            return await listing(request)

        server._list = slow_listing  # type: ignore[method-assign]
        async with client.subscribe(types=[TYPE_ID], stored_types="all", buffer=2) as live:
            await poll(lambda: live.buffered == 1)
            drop.set()
            await poll(lambda: live.reconnects == 1)
            state = asyncio.create_task(live.state())
            await live.add_subscription([Rule.include(types=[OTHER_TYPE])])
            go.set()  # the fill brings 2: the buffer then holds 2 and the 3 held overflow it
            await poll(lambda: live.buffered == 5)
            got: list[int] = []
            with pytest.raises(SlowConsumerError, match="more than 4 items behind"):
                await consume(live, got)
            with pytest.raises(XProtectError):
                async with asyncio.timeout(10):
                    await state
    assert got == [1, 2, 100, 101, 102]


async def test_a_subscription_the_server_does_not_have_is_forgotten(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # broke: removeSubscription answered 404 raised and kept the rule, so the next new
    # session subscribed to it again (and removing it again failed again)
    drop = asyncio.Event()

    async def scenario(socket: Socket) -> None:
        if socket.number == 1:
            await socket.open("S1")
            added = await socket.command("addSubscription")
            await socket.answer(added, subscriptionId="s-more")
            removed = await socket.command("removeSubscription")
            await socket.answer(removed, 404, error={"errorText": "Subscription not found."})
            await drop.wait()
            return
        await socket.answer(await socket.command("startSession"), 201, sessionId="S2")
        await socket.serve()

    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        handle = await live.add_subscription([Rule.include(types=[OTHER_TYPE])])
        with caplog.at_level(logging.WARNING, "xprotect_events.live"):
            await live.remove_subscription(handle)
        assert "did not have" in caplog.text
        drop.set()
        await poll(lambda: len(server.sockets) == 2 and live.session_id == "S2")
        await live.state()  # answered after the subscriptions of S2
    again = [c for c in server.sockets[1].commands if c["command"] == "addSubscription"]
    assert [f["eventTypes"] for c in again for f in c["filters"]] == [[TYPE_ID]]


async def test_the_gaps_a_stream_keeps_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # memory: every refused resume added a Gap to ``live.gaps``, without a bound
    monkeypatch.setattr(live_deliver, "MAX_GAPS", 2)

    async def scenario(socket: Socket) -> None:
        await socket.open(f"S{socket.number}")
        await socket.events(socket.number)
        if socket.number == 5:  # four refused resumes, then a session that lasts
            await socket.until_closed()

    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        got = await items(live, 1 + 2 * 4)  # event 1, then a gap and an event, four times
    assert [type(i) for i in got[1:]] == [Gap, type(got[0])] * 4
    assert live.gap_count == 4
    assert live.gaps == [got[5], got[7]]


async def test_a_get_state_never_answered_is_not_asked_again_on_the_same_socket() -> None:
    # broke: state() asked again after its ws_command_timeout, on the same connection,
    # up to the policy's attempts (4 x 10 minutes by default); it asks again only on a
    # new connection, when the socket dropped
    async def scenario(socket: Socket) -> None:
        await socket.open("S1")
        await socket.until_closed()

    profile = Profile(ws_command_timeout=0.2)
    async with (
        HostileWS(scenario) as server,
        server.client(profile=profile) as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        with pytest.raises(RequestTimeoutError, match="no answer"):
            async with asyncio.timeout(20):
                await live.state()
    asked = [c["command"] for c in server.sockets[0].commands]
    assert asked.count("getState") == 1
    assert len(server.sockets) == 1


async def test_a_connection_closed_during_its_gap_fill_loses_and_repeats_nothing() -> None:
    # held before (not tested): the fill goes on, the events the closed connection
    # pushed follow it, and the next connection resumes the new session after them
    drop, go = asyncio.Event(), asyncio.Event()

    async def scenario(socket: Socket) -> None:
        if socket.number == 1:
            await socket.open("S1")
            await socket.events(1)
            await drop.wait()
        elif socket.number == 2:
            await socket.open("S2", 201)
            await socket.events(100, 101)
        else:
            start = await socket.command("startSession")
            assert (start["sessionId"], start["eventId"]) == ("S2", str(event(101)["id"]))
            await socket.answer(start, 200, sessionId="S2")
            await socket.events(101, 102)
            await socket.serve()

    async with HostileWS(scenario) as server, server.client() as client:
        server.stored = [event(n) for n in (1, 2, 3, 100)]
        listing = server._list

        async def slow_listing(request: web.Request) -> web.Response:
            await go.wait()
            return await listing(request)

        server._list = slow_listing  # type: ignore[method-assign]
        async with client.subscribe(types=[TYPE_ID], stored_types="all") as live:
            first = await items(live, 1)
            drop.set()
            await poll(lambda: server.sockets[1:] and server.sockets[1].closing)
            go.set()
            rest = await items(live, 5)
    assert [number(e) for e in first + rest] == [1, 2, 3, 100, 101, 102]
    assert (live.gap_count, live.resumes) == (0, 1)


async def test_leaving_the_stream_during_its_gap_fill_closes_it_at_once() -> None:
    # held before (not tested): the fill's listing is cut, the socket closed with 1000
    drop, listed = asyncio.Event(), asyncio.Event()

    async def scenario(socket: Socket) -> None:
        if socket.number == 1:
            await socket.open("S1")
            await socket.events(1)
            await drop.wait()
            return
        await socket.open("S2", 201)
        await socket.until_closed()

    async with HostileWS(scenario) as server, server.client() as client:
        listing, done = server._list, asyncio.Event()

        async def stuck_listing(request: web.Request) -> web.Response:
            listed.set()
            await done.wait()  # no answer while the stream is open
            return await listing(request)

        server._list = stuck_listing  # type: ignore[method-assign]
        try:
            async with asyncio.timeout(10):
                async with client.subscribe(types=[TYPE_ID], stored_types="all") as live:
                    await items(live, 1)
                    drop.set()
                    await listed.wait()
            assert server.sockets[1].closing
        finally:
            done.set()
    assert server.sockets[1].close_code == 1000


async def test_removing_a_subscription_of_a_session_resumed_from_a_checkpoint(
    tmp_path: Path,
) -> None:
    # broke: the session resumed from the checkpoint had subscriptions whose server ids
    # this process never learnt: remove_subscription(0) raised a bare KeyError
    async def scenario(socket: Socket) -> None:
        if socket.number == 1:
            await socket.open("S1")
            await socket.events(1)
            await socket.until_closed()
            return
        await socket.answer(await socket.command("startSession"), 200, sessionId="S1")
        await socket.serve()

    checkpoint = tmp_path / "live.json"
    async with HostileWS(scenario) as server, server.client() as client:
        async with client.subscribe(types=[TYPE_ID], checkpoint=checkpoint) as live:
            await items(live, 1)
        async with client.subscribe(types=[TYPE_ID], checkpoint=checkpoint) as live:
            assert live.resumes == 1
            with pytest.raises(XProtectError, match="not known") as caught:
                await live.remove_subscription(0)
            assert not isinstance(caught.value, InvalidInputError)
            await live.state()  # the stream goes on, on the same session
        assert live.resumes == 1
        assert [c["command"] for c in server.sockets[1].commands] == ["startSession", "getState"]
