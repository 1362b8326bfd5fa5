"""``reconcile`` reads every page of the store a server gives, short or not: a server that
caps the page size (a short page with a ``next`` link) does not end the lookup, which
would call triggers that landed "safe to send again" (sent twice)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.hostile import CAMERA, CLIENT_ID, CLIENT_SECRET, TYPE_ID, Hostile
from xprotect_events import EventTrigger, RetryPolicy, XProtectClient


def wire_event(tag: str, when: datetime) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "time": when.strftime("%Y-%m-%dT%H:%M:%S.%f0Z"),
        "type": TYPE_ID,
        "source": CAMERA,
        "tag": tag,
        "datatype": None,
    }


class CappedStore:
    """Stores a batch, then cuts the connection (no answer); lists two events a page."""

    def __init__(self) -> None:
        self.stored: list[dict[str, Any]] = []

    async def batch(self, request: web.Request) -> web.StreamResponse:
        now = datetime.now(UTC)
        others = [wire_event(f"other-{i}", now) for i in range(4)]
        mine = [wire_event(b["tag"], now) for b in await request.json()]
        self.stored = others + mine  # the triggers landed behind other events
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    async def list(self, request: web.Request) -> web.StreamResponse:
        page = int(request.query.get("page", "0"))
        rest = self.stored[2 * page :]
        links = {"next": f"/events?page={page + 1}"} if len(rest) > 2 else {}
        return web.json_response({"_links": links, "array": rest[:2]})


async def test_a_capped_page_with_a_next_link_does_not_end_the_lookup() -> None:
    store = CappedStore()
    async with Hostile() as hostile:
        hostile.on("batch", store.batch)
        hostile.on("list", store.list)
        async with XProtectClient(
            hostile.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
            retry=RetryPolicy(attempts=1),
        ) as client:  # fmt: skip
            triggers = [
                EventTrigger(type=TYPE_ID, source=CAMERA, tag=f"mine-{i}") for i in range(2)
            ]
            report = await client.trigger_events(triggers)
            assert report.unknown == 2
            settled = await client.reconcile(report.results, stored_types=[TYPE_ID], settle=0)
    assert [r.status for r in settled] == ["accepted", "accepted"]
    assert [r.event.tag for r in settled if r.event is not None] == ["mine-0", "mine-1"]
