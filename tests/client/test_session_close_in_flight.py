"""``aclose()`` from another task while a read is in flight: once it has returned, the
consumer's iteration ends; the page that read brings late is not handed out (nor counted
as delivered). Over loopback (tests/hostile.py); waits are on conditions."""

from __future__ import annotations

import asyncio

from aiohttp import web

from tests.helpers import FAST_RETRY, wait_until
from tests.hostile import CLIENT_ID, CLIENT_SECRET, Hostile, event
from xprotect_events import XProtectClient
from xprotect_events.models import SessionChange


async def test_a_read_that_succeeds_after_aclose_hands_out_nothing(hostile: Hostile) -> None:
    release = asyncio.Event()

    async def late_read(_: web.Request) -> web.StreamResponse:
        await release.wait()
        events = [event(1), event(2)]
        return web.json_response({"data": {"newEvents": events, "deletedEvents": []}})

    hostile.on("read", late_read)
    got: list[SessionChange] = []
    async with XProtectClient(
        hostile.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, retry=FAST_RETRY
    ) as client:
        session = client.event_session(poll_interval=0.01)
        async with session:

            async def consume() -> None:
                got.extend([change async for change in session])

            consumer = asyncio.ensure_future(consume())
            await wait_until(lambda: hostile.in_flight["read"] == 1, "a read is in flight")
            await session.aclose()
            release.set()
            await asyncio.wait_for(consumer, 10)
            assert session.position is None  # the late page is not counted as delivered
    assert got == []
    assert len(hostile.requests("delete")) == 1
