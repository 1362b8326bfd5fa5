"""``EventSession.pages()``: the same changes as iterating the session, a read at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from xprotect_events.client import XProtectClient
from xprotect_events.models import SessionChange
from xprotect_events.testing import Simulator, seed

SOURCE = f"cameras/{seed.CAMERA_IDS[0]}"


def store(sim: Simulator, count: int) -> None:
    start = sim.clock.now() - timedelta(seconds=10)
    items = [
        {"type": seed.ANALYTICS_EVENT, "source": SOURCE, "time": start + timedelta(milliseconds=i)}
        for i in range(count)
    ]
    assert sim.store_events(items) == count


async def drain(client: XProtectClient, count: int, by_pages: bool) -> list[SessionChange]:
    got: list[SessionChange] = []
    options = {"types": [seed.ANALYTICS_EVENT], "max_size": 100, "poll_interval": 0.01}
    async with client.event_session(**options) as session:  # type: ignore[arg-type]
        if by_pages:
            async for page in session.pages():
                assert page, "empty reads are not yielded"
                assert len(page) <= 100
                got += page
                if len(got) >= count:
                    break
        else:
            async for change in session:
                got.append(change)
                if len(got) >= count:
                    break
        assert session.position.time == got[-1].event.time
    return got


async def test_pages_hold_the_same_changes_in_the_same_order(
    sim: Simulator, service_client: XProtectClient
) -> None:
    store(sim, 250)
    one_by_one = await drain(service_client, 250, by_pages=False)
    by_pages = await drain(service_client, 250, by_pages=True)
    assert by_pages == one_by_one
    assert [c.kind for c in by_pages] == ["new"] * 250
    assert len({c.event.id for c in by_pages}) == 250


async def test_pages_need_an_entered_session(service_client: XProtectClient) -> None:
    session = service_client.event_session(types=[seed.ANALYTICS_EVENT])
    with pytest.raises(RuntimeError, match="enter the session first"):
        await anext(session.pages())
