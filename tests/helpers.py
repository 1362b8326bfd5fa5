"""Helpers the tests share: fault lists, quick retries, waiting on a condition or a live
event."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from xprotect_events import Event, XProtectClient
from xprotect_events.live import LiveStream
from xprotect_events.policy import RetryPolicy
from xprotect_events.testing import Fault, Simulator

#: How long a fault test waits for a server-side delay that outlasts the client's timeout.
LONG_DELAY = 1.0

#: Every way a request can fail in the simulator (the long delay first: scripted early).
EVERY_FAULT = [
    Fault.delay(LONG_DELAY),
    Fault.reset_before(),
    Fault.reset_after(),
    Fault.status(500),
    Fault.status(502),
    Fault.status(503, retry_after=0),
    Fault.rate_limit(retry_after=0),
    Fault.truncate(),
    Fault.html(502),
    Fault.revoke_token(),
    Fault.drop_session(),
]


async def wait_until(
    condition: Callable[[], bool],
    what: str,
    deadline: float = 60.0,
    *,
    watch: asyncio.Task[Any] | None = None,
) -> None:
    """Poll ``condition`` until it holds; fail after ``deadline`` seconds, or at once if the
    ``watch`` task ended (its exception, if any, is raised)."""
    try:
        async with asyncio.timeout(deadline):
            while not condition():
                if watch is not None and watch.done():
                    watch.result()
                    pytest.fail(f"{watch.get_name()} ended before {what}")
                await asyncio.sleep(0.005)
    except TimeoutError:
        pytest.fail(f"timed out waiting until {what}")


async def next_event(live: LiveStream) -> Event:
    """The live stream's next item, which must be an event, within 10 s (a consumer
    stalled for ever fails here)."""
    async with asyncio.timeout(10):
        item = await anext(live)
    assert isinstance(item, Event), item
    return item


async def quiet(sim: Simulator) -> None:
    """Wait until no request is being handled (a delayed handler stores late)."""
    await wait_until(lambda: sim.stats.in_flight == 0, "the simulator is idle")


#: Quick retries so fault tests stay fast; the rule under test is the same.
FAST_RETRY = RetryPolicy(attempts=4, backoff_initial=0.01, backoff_max=0.05, jitter=0.01)


def service_client_of(sim: Simulator) -> XProtectClient:
    """A client of ``sim`` with the service credentials, the quick retry policy and the
    simulator's clock (the ``service_client`` fixture; tests that need several use this)."""
    return XProtectClient(
        sim.url,
        client_id="service",
        client_secret="service-secret",
        retry=FAST_RETRY,
        clock=sim.clock.time,
    )
