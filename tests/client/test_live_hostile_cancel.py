"""Cancelling a live stream at each await a hostile server can hold it at (tests/hostile_ws.py):
the startSession answer, a subscription's answer, the gap fill's getState after a refused
resume. Each time the socket is closed cleanly (code 1000) and no task is left."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import wait_until
from tests.hostile_ws import TYPE_ID, HostileWS, Socket, event
from xprotect_events.live import LiveStream

WHERE = ["startSession", "addSubscription", "getState after a refused resume"]


def live_tasks() -> set[str]:
    return {t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("xprotect-live")}


def scenario_holding(where: str, asked: asyncio.Event) -> object:
    async def scenario(socket: Socket) -> None:
        if where == "startSession":
            await socket.command("startSession")
        elif where == "addSubscription" or socket.number == 2:
            await socket.answer(await socket.command("startSession"), 201, sessionId="S2")
            await socket.command("addSubscription")
            if where != "addSubscription":
                await socket.answer(socket.commands[-1], subscriptionId="s2")
                await socket.command("getState")
        else:
            await socket.open("S1")
            await socket.answer(await socket.command("getState"), states=[])
            await socket.events(1)
            return  # a drop: the next connection's resume is refused
        asked.set()
        await socket.until_closed()

    return scenario


async def consume(live: LiveStream, where: str) -> None:
    async with live:
        if where.startswith("getState"):
            await live.state()
        async for _ in live:
            pass


@pytest.mark.parametrize("where", WHERE)
async def test_cancelled_while_the_server_holds_an_answer(where: str) -> None:
    # held before (not tested against a server that holds the answer)
    asked = asyncio.Event()
    async with (
        HostileWS(scenario_holding(where, asked)) as server,  # type: ignore[arg-type]
        server.client() as client,
    ):
        server.stored = [event(1)]
        task = asyncio.create_task(consume(client.subscribe(types=[TYPE_ID]), where))
        await wait_until(asked.is_set, f"the server holds the answer to {where}", watch=task)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        last = server.sockets[-1]  # (the first one of a refused resume the server dropped)
        await wait_until(lambda: last.close_code is not None, "the socket is closed")
    assert last.close_code == 1000
    assert live_tasks() == set()
