"""``client.subscribe`` against a WebSocket server that sends frames it should not (binary,
invalid UTF-8, endless fragments, floods of pings, huge or deep bodies) and answers late,
never or over and over (tests/hostile_ws.py). Each ends in a library error with the socket
closed, or is survived, never a hang or a raw exception."""

from __future__ import annotations

import asyncio
import traceback
import uuid

import pytest

from tests.hostile_ws import TYPE_ID, HostileWS, Scenario, Socket, items, number
from xprotect_events import (
    CommandError,
    ProtocolError,
    RetryPolicy,
    Rule,
    TransportError,
)
from xprotect_events.profile import Profile

TEXT, BINARY, CONTINUATION, PING = 0x1, 0x2, 0x0, 0x9
FIN = 0x80


def resumes_every_time(bad: bytes, first: int = FIN | TEXT) -> Scenario:
    """A server that sends the frame ``bad`` behind its answer on every connection."""

    async def scenario(socket: Socket) -> None:
        status = 201 if socket.number == 1 else 200
        await socket.open("S1", status)
        await socket.events(socket.number)
        await socket.raw(first, bad)
        await socket.until_closed()

    return scenario


async def test_a_failed_stream_raises_its_error_again_without_growing_it() -> None:
    """Each ``anext`` after the failure raised the same exception object again, and each
    raise added its frames to its traceback: a loop that retried grew it without bound."""
    async with (
        HostileWS(resumes_every_time(b"binary", FIN | BINARY)) as server,
        server.client() as client,
        asyncio.timeout(20),
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        with pytest.raises(ProtocolError):
            await items(live, 3)  # the event before the bad frame, then its error
        depths = []
        for _ in range(20):
            with pytest.raises(ProtocolError) as info:
                await anext(live)
            depths.append(len(traceback.extract_tb(info.value.__traceback__)))
        assert len(set(depths)) == 1, depths


@pytest.mark.parametrize(
    ("first", "payload", "match", "code"),
    [
        (FIN | BINARY, b'{"events": []}', "binary", 1000),
        (FIN | TEXT, b'{"events": [], "x": "\xff\xfe"}', "UTF-8", 1007),  # (RFC 6455's code)
        (FIN | TEXT, b'{"events": ' + b"[" * 5000 + b"]" * 5000 + b"}", "JSON", 1000),
        (FIN | 0x3, b"", "protocol", 1002),  # a reserved opcode
        (FIN | 0x8, b"\x03\xe8" + b"r" * 200, "protocol", 1002),  # a close reason too long
    ],
    ids=["binary", "invalid utf-8", "deep nesting", "reserved opcode", "long close reason"],
)
async def test_a_frame_the_server_should_not_send_ends_the_stream(
    first: int, payload: bytes, match: str, code: int
) -> None:
    # invalid UTF-8 broke: it was a connection failure, resumed, and sent again on every
    # resume (a reconnect loop that never raised); binary and deep nesting held
    async with (
        HostileWS(resumes_every_time(payload, first)) as server,
        server.client() as client,
        asyncio.timeout(20),
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        with pytest.raises(ProtocolError, match=match):
            await items(live, 3)
    assert len(server.sockets) == 1
    assert [s.close_code for s in server.sockets] == [code]


async def test_endless_fragments_end_at_max_frame_size() -> None:
    # held before (not tested): aiohttp counts the fragments of a message against the limit
    async def scenario(socket: Socket) -> None:
        await socket.open("S1")
        await socket.raw(TEXT, b'{"events": [')
        while not socket.closing:
            await socket.raw(CONTINUATION, b" " * 4096)
            await asyncio.sleep(0)  # the loop's turn: the client reads

    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID], max_frame_size=1 << 16) as live,
    ):
        with pytest.raises(ProtocolError, match="max_frame_size"):
            await items(live, 1)


async def test_a_flood_of_pings_does_not_stop_the_events() -> None:
    # held before (not tested)
    async def scenario(socket: Socket) -> None:
        await socket.open("S1")
        for n in range(2000):
            await socket.raw(FIN | PING, b"p" * 125)
            if n % 500 == 0:
                await socket.events(n)
        await socket.until_closed()

    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        assert [number(e) for e in await items(live, 4)] == [0, 500, 1000, 1500]


async def test_a_huge_bad_value_is_not_quoted_whole() -> None:
    # broke: the message quoted the whole value (a few MB of it, up to max_frame_size)
    async def scenario(socket: Socket) -> None:
        await socket.open("S1")
        await socket.events(1, id="x" * 4_000_000)
        await socket.until_closed()

    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        with pytest.raises(ProtocolError, match="GUID") as caught:
            await items(live, 1)
    assert len(str(caught.value)) < 2000


async def test_a_huge_error_text_is_cut_and_shown_escaped() -> None:
    # broke: a command's error quoted the server's errorText whole (up to max_frame_size),
    # and as sent: ESC sequences in it could set a terminal's title or clear its screen
    async def scenario(socket: Socket) -> None:
        await socket.open("S1")
        command = await socket.command("getState")
        text = "\x1b]0;pwned\x07\x1b[2Jbusy\r\n" * 100_000
        await socket.answer(command, 500, error={"errorText": text})
        await socket.until_closed()

    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        with pytest.raises(CommandError) as caught:
            await live.state()
    assert len(str(caught.value)) < 2000
    assert len(caught.value.error_text or "") < 2000
    assert str(caught.value).isprintable()
    assert "\\x1b]0;pwned\\x07\\x1b[2Jbusy\\r\\n" in str(caught.value)


def quick(timeout: float) -> Profile:
    return Profile(ws_command_timeout=timeout)


async def test_a_start_session_never_answered_ends_in_a_transport_error() -> None:
    # held before (not tested): each connection waits connect_timeout, then the next;
    # after the policy's attempts a TransportError, every socket closed
    async def scenario(socket: Socket) -> None:
        await socket.until_closed()

    policy = RetryPolicy(attempts=3, backoff_initial=0.01, backoff_max=0.02, jitter=0)
    async with HostileWS(scenario) as server, server.client(retry=policy, connect_timeout=0.2) as c:
        with pytest.raises(TransportError, match="no answer"):
            async with c.subscribe(types=[TYPE_ID]):
                pass
    assert len(server.sockets) == 3
    assert [s.close_code for s in server.sockets] == [1000] * 3


async def test_a_command_the_server_does_not_read_times_out() -> None:
    # broke: the send waited outside the command's timeout; a server that stopped reading
    # held add_subscription for ever
    asked = asyncio.Event()

    async def scenario(socket: Socket) -> None:
        await socket.open("S1")
        socket.stop_reading()
        await socket.events(1)
        await asked.wait()
        socket.read_again()
        await socket.until_closed()

    many = [str(uuid.uuid4()) for _ in range(400_000)]  # about 16 MB of filters
    async with (
        HostileWS(scenario) as server,
        server.client(profile=quick(0.5)) as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        await items(live, 1)
        try:
            with pytest.raises(TransportError, match="no answer"):
                async with asyncio.timeout(20):
                    await live.add_subscription([Rule.include(types=many)])
        finally:
            asked.set()


async def test_a_server_that_closes_every_connection_after_its_answer_ends_the_stream() -> None:
    # broke: ``async with subscribe`` never returned (each connection was gone before it
    # could be used) and never raised: a reconnect loop for ever
    async def scenario(socket: Socket) -> None:
        await socket.open("S1", 201 if socket.number == 1 else 200)

    async with HostileWS(scenario) as server, server.client() as client:
        with pytest.raises(TransportError, match="4 connections in a row"):
            async with asyncio.timeout(20), client.subscribe(types=[TYPE_ID]) as live:
                await items(live, 1)
    assert len(server.sockets) == 4  # FAST.attempts


async def test_a_server_that_replays_and_closes_every_connection_ends_the_stream() -> None:
    # broke: a repeat counted as progress, so the loop went on for ever
    async def scenario(socket: Socket) -> None:
        await socket.open("S1", 201 if socket.number == 1 else 200)
        await socket.events(1)

    async with HostileWS(scenario) as server, server.client() as client:
        with pytest.raises(TransportError, match="4 connections in a row"):
            async with asyncio.timeout(20), client.subscribe(types=[TYPE_ID]) as live:
                await items(live, 2)
    assert len(server.sockets) == 5  # the first, with its new event, then 4 with a repeat


async def test_a_server_that_closes_every_connection_after_an_event_is_streamed() -> None:
    # broke: ``async with subscribe`` never returned, though events came
    async def scenario(socket: Socket) -> None:
        await socket.open("S1", 201 if socket.number == 1 else 200)
        await socket.events(socket.number)

    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        asyncio.timeout(20),
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        got = await items(live, 6)
    assert [number(e) for e in got] == [1, 2, 3, 4, 5, 6]
    assert live.reconnects >= 5
