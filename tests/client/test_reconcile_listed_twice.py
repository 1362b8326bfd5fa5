"""``reconcile`` against a server whose listings of two windows both return an event: one
stored event read twice is one match (``accepted``), not an ambiguous two (``unknown``).

A server that ignores the time filter does it (``list_events`` reads it by page number);
so does one that rounds the bounds of two windows closer than its accuracy. Over loopback.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.hostile import CAMERA, CLIENT_ID, CLIENT_SECRET, TYPE_ID, Hostile
from xprotect_events import EventTrigger, RetryPolicy, XProtectClient

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def wire_event(trigger: EventTrigger) -> dict[str, Any]:
    assert trigger.time is not None
    return {
        "id": str(uuid.uuid4()),
        "time": trigger.time.strftime("%Y-%m-%dT%H:%M:%S.%f0Z"),
        "type": TYPE_ID,
        "source": CAMERA,
        "tag": trigger.tag,
        "datatype": None,
    }


class IgnoringStore:
    """Stores a batch, then cuts the connection (no answer); lists every stored event
    whatever the time filter, in time order."""

    def __init__(self, triggers: list[EventTrigger]) -> None:
        self.triggers = triggers
        self.stored: list[dict[str, Any]] = []

    async def batch(self, request: web.Request) -> web.StreamResponse:
        self.stored = [wire_event(t) for t in self.triggers]
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    async def list(self, _: web.Request) -> web.StreamResponse:
        return web.json_response({"_links": {}, "array": self.stored})


async def test_an_event_two_windows_list_is_one_match() -> None:
    triggers = [
        EventTrigger(type=TYPE_ID, source=CAMERA, tag=f"mine-{i}", time=START + timedelta(hours=i))
        for i in range(2)
    ]
    store = IgnoringStore(triggers)
    async with Hostile() as hostile:
        hostile.on("batch", store.batch)
        hostile.on("list", store.list)
        async with XProtectClient(
            hostile.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
            retry=RetryPolicy(attempts=1),
        ) as client:  # fmt: skip
            report = await client.trigger_events(triggers)
            assert report.unknown == 2
            settled = await client.reconcile(report.results, stored_types=[TYPE_ID], settle=0)
        assert len(hostile.requests("list")) == 2  # one listing per window: both saw both
    assert [r.status for r in settled] == ["accepted", "accepted"], [r.reason for r in settled]
    assert [r.event.tag for r in settled if r.event is not None] == ["mine-0", "mine-1"]
