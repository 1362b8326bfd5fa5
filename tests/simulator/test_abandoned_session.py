"""An event session nobody reads any more does not keep the events it never read alive."""

from __future__ import annotations

import tracemalloc
from datetime import timedelta

import aiohttp

from xprotect_events.testing import SimClock, Simulator, seed

T0 = SimClock.frozen().now() - timedelta(hours=1)


def events(start: int, count: int) -> list[dict[str, object]]:
    source = f"cameras/{seed.CAMERA_IDS[0]}"
    return [
        {
            "type": str(seed.USER_DEFINED_EVENT),
            "source": source,
            "time": T0 + timedelta(microseconds=i),
        }
        for i in range(start, start + count)
    ]


async def test_an_abandoned_session_keeps_memory_within_max_events(
    http: aiohttp.ClientSession,
) -> None:
    """With ``max_events``, a session created and then abandoned (idle past its timeout,
    and no session call since to drop it) kept every event stored after it, the ones the
    cap had deleted too: the memory grew without bound. Now it is dropped once its logs
    grow long, and the memory stays about that of ``max_events``."""
    async with Simulator(max_events=100, session_idle_timeout=1, clock=SimClock.frozen()) as sim:
        token = sim.issue_token("admin")
        headers = {"Authorization": f"Bearer {token}"}
        body = {"filterBy": [], "orderBy": []}
        async with http.post(sim.api_url + "/eventSessions", json=body, headers=headers) as r:
            assert r.status == 201
        sim.clock.advance(120)  # the session is idle: nobody will read it again
        chunk = 66_000  # each more than the logs hold before they are collected
        batches = [events(i * chunk, chunk) for i in range(3)]
        sim.store_events(batches[0])
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for batch in batches[1:]:
                sim.store_events(batch)
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert sim.events_stored == 100
        assert grown < 10_000_000, f"{grown / 1e6:.0f} MB kept for {2 * chunk} events deleted"
