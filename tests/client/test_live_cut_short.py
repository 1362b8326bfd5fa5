"""Work a live stream cut short: a subscription change whose caller was cancelled after the
server made it (no orphan subscription is left on the server's session, delivering what the
stream does not know), and a gap fill the stream left mid-way (its listing is closed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from tests.helpers import wait_until
from tests.hostile_ws import TYPE_ID, HostileWS, Socket, event
from xprotect_events import Event, Rule, XProtectClient

OTHER_TYPE = "0a6d6b2a-35c6-4b8e-b2b6-3b7f0e0a4c11"


def sent(socket: Socket, name: str) -> list[dict[str, Any]]:
    return [c for c in socket.commands if c["command"] == name]


async def test_an_add_cancelled_after_the_server_made_it_is_removed_again() -> None:
    # broke: the late answer was dropped; the server's session kept the subscription and
    # pushed its events to a stream that did not know it, until the connection ended
    cancelled = asyncio.Event()

    async def scenario(socket: Socket) -> None:
        await socket.open("S1")
        added = await socket.command("addSubscription")
        await cancelled.wait()
        await socket.answer(added, subscriptionId="s-orphan")  # made, answered late
        await socket.serve()

    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        adding = asyncio.create_task(live.add_subscription([Rule.include(types=[OTHER_TYPE])]))
        await wait_until(
            lambda: bool(server.sockets) and len(server.sockets[0].commands) == 3, "sent"
        )
        adding.cancel()
        await asyncio.gather(adding, return_exceptions=True)
        cancelled.set()
        socket = server.sockets[0]
        await wait_until(lambda: bool(sent(socket, "removeSubscription")), "the orphan removed", 10)
        assert sent(socket, "removeSubscription")[0]["subscriptionId"] == "s-orphan"
        await live.state()  # the stream goes on, on the same socket
    assert len(server.sockets) == 1


async def test_a_remove_cancelled_after_the_server_made_it_is_forgotten() -> None:
    # broke: the stream kept the rule the server had removed, and made it again in the
    # next session
    cancelled, drop = asyncio.Event(), asyncio.Event()

    async def scenario(socket: Socket) -> None:
        if socket.number == 1:
            await socket.open("S1")
            await socket.answer(await socket.command("addSubscription"), subscriptionId="s-2")
            removed = await socket.command("removeSubscription")
            await cancelled.wait()
            await socket.answer(removed)
            await socket.answer(await socket.command("getState"), states=[])
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
        removing = asyncio.create_task(live.remove_subscription(handle))
        await wait_until(lambda: bool(sent(server.sockets[0], "removeSubscription")), "sent")
        removing.cancel()
        await asyncio.gather(removing, return_exceptions=True)
        cancelled.set()
        await live.state()  # answered after the late answer of the remove
        drop.set()
        await wait_until(lambda: live.session_id == "S2", "a new session")
        await live.state()
    again = sent(server.sockets[1], "addSubscription")
    assert [f["eventTypes"] for c in again for f in c["filters"]] == [[TYPE_ID]]


async def test_a_gap_fill_left_mid_way_closes_its_listing() -> None:
    # the listing generator was left suspended, to the garbage collector, when the stream
    # stopped while the fill waited for room in the buffer
    closed = asyncio.Event()
    listings: list[AsyncIterator[Event]] = []  # (kept: only an explicit aclose closes it)

    async def scenario(socket: Socket) -> None:
        await socket.open(f"S{socket.number}")
        if socket.number == 1:
            await socket.events(1)
            return  # dropped: the resume is refused, the gap is filled from the store
        await socket.until_closed()

    async with HostileWS(scenario) as server, server.client() as client:
        server.stored = [event(n) for n in range(2, 12)]
        real = XProtectClient.list_events

        def listing(**options: Any) -> AsyncIterator[Event]:
            async def watched() -> AsyncIterator[Event]:
                try:
                    async for item in real(client, **options):
                        yield item
                finally:
                    closed.set()

            listings.append(made := watched())
            return made

        client.list_events = listing  # type: ignore[method-assign]
        async with client.subscribe(types=[TYPE_ID], stored_types="all", buffer=2) as live:
            await wait_until(lambda: bool(listings) and live.buffered == 2, "the fill waits")
        assert closed.is_set()
