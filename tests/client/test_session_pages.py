"""``EventSession.pages()``: the same changes as iterating the session, a read at a time."""

from __future__ import annotations

import weakref
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


async def test_iteration_then_pages_mid_read_hold_the_rest_of_the_read(
    sim: Simulator, service_client: XProtectClient
) -> None:
    store(sim, 250)
    options = {"types": [seed.ANALYTICS_EVENT], "max_size": 1000, "poll_interval": 0.01}
    got: list[SessionChange] = []
    async with service_client.event_session(**options) as session:  # type: ignore[arg-type]
        async for change in session:
            got.append(change)
            if len(got) == 130:  # past the first slice of changes the session makes
                break
        rest = await anext(session.pages())
        position = session.position
        assert position is not None
        assert position.time == rest[-1].event.time
    assert len(got) + len(rest) == 250, "the rest of the read, nothing lost"
    ids = [c.event.id for c in got + rest]
    assert len(set(ids)) == 250, "nothing twice"
    assert [c.event.time for c in got + rest] == sorted(c.event.time for c in got + rest)


async def test_a_change_taken_is_not_kept_alive_by_the_session(
    sim: Simulator, service_client: XProtectClient
) -> None:
    """The session keeps only a slice of a read's changes: a consumer that drops each
    change frees it (a long read of changes kept whole outlives the GC's young generation)."""
    store(sim, 1000)
    options = {"types": [seed.ANALYTICS_EVENT], "max_size": 1000, "poll_interval": 0.01}
    refs: list[weakref.ref[SessionChange]] = []
    async with service_client.event_session(**options) as session:  # type: ignore[arg-type]
        async for change in session:
            refs.append(weakref.ref(change))
            del change
            if len(refs) == 600:
                break
        alive = sum(ref() is not None for ref in refs)
    assert len(refs) == 600
    assert alive <= 100, f"{alive} of the 600 changes taken are still held"
