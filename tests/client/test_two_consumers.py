"""One stream, one consumer: a second task that asks for an item while the first waits is
a RuntimeError, and the first still gets its item, over loopback against the simulator.
With two, an event session's two reads would each overwrite the other's page (events
lost), and a live stream's "event in hand" would count as processed when the other task
asks for the next (a checkpoint would skip it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.helpers import service_client_of
from xprotect_events import Event, EventTrigger, SessionChange, XProtectClient
from xprotect_events.testing import ANALYTICS_EVENT, CAMERA_IDS, Simulator

CAMERA = f"cameras/{CAMERA_IDS[0]}"


async def second_task_is_refused(stream: AsyncIterator[Any], client: XProtectClient) -> Any:
    """Two tasks ask at once: whichever comes second is refused at once (it waited too, for
    ever, with no event coming), the other gets the event triggered then."""
    tasks = [asyncio.ensure_future(anext(stream)) for _ in range(2)]
    try:
        done, waiting = await asyncio.wait(tasks, timeout=10, return_when="FIRST_COMPLETED")
        assert len(done) == 1, "neither task was refused"
        with pytest.raises(RuntimeError, match="another task is already"):
            done.pop().result()
        sent = await client.trigger_event(EventTrigger(type=ANALYTICS_EVENT, source=CAMERA))
        async with asyncio.timeout(10):
            item = await waiting.pop()
    finally:
        for task in tasks:
            task.cancel()
    return item, sent.id


async def test_a_live_stream_has_one_consumer(sim: Simulator) -> None:
    async with service_client_of(sim) as client, client.subscribe() as live:
        item, sent = await second_task_is_refused(live, client)
    assert isinstance(item, Event)
    assert item.id == sent


async def test_an_event_session_has_one_consumer(sim: Simulator) -> None:
    async with (
        service_client_of(sim) as client,
        client.event_session(poll_interval=0.05) as session,
    ):
        change, sent = await second_task_is_refused(session, client)
    assert isinstance(change, SessionChange)
    assert change.event.id == sent
