"""``client.subscribe`` when the WebSocket upgrade fails: faults injected on the upgrade route
through ``sim.faults``, as on the REST routes, over real loopback."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.helpers import FAST_RETRY, next_event, service_client_of, wait_until
from xprotect_events import (
    ConnectError,
    Event,
    EventTrigger,
    Gap,
    RetryPolicy,
    ServerError,
    UnauthorizedError,
    XProtectClient,
    XProtectError,
)
from xprotect_events.live import LiveStream
from xprotect_events.testing import ANALYTICS_EVENT, CAMERA_IDS, Fault, Simulator
from xprotect_events.testing.websocket import WS_ROUTE

TRIGGER = EventTrigger(type=ANALYTICS_EVENT, source=f"cameras/{CAMERA_IDS[0]}")


def service(sim: Simulator, retry: RetryPolicy = FAST_RETRY) -> XProtectClient:
    return XProtectClient(sim.url, client_id="service", client_secret="service-secret", retry=retry)


async def test_a_refused_first_upgrade_waits_the_servers_retry_after(sim: Simulator) -> None:
    # A backoff of 30 s: the stream is up in time only if it waits Retry-After instead.
    slow = RetryPolicy(attempts=4, backoff_initial=30, backoff_max=30, jitter=0)
    sim.faults.add(WS_ROUTE, Fault.status(503, retry_after=0), times=2)
    async with (
        service(sim, slow) as client,
        asyncio.timeout(10),
        client.subscribe(types=[ANALYTICS_EVENT]) as live,
    ):
        assert sim.faults.injected["status"] == 2
        assert sim.live.connections_total == 1
        event = await client.trigger_event(TRIGGER)
        assert (await next_event(live)).id == event.id


async def test_a_retry_after_past_the_policys_longest_is_not_waited(sim: Simulator) -> None:
    sim.faults.add(WS_ROUTE, Fault.status(503, retry_after=60))
    policy = RetryPolicy(attempts=4, backoff_initial=0.01, max_retry_after=1)
    async with service(sim, policy) as client:
        with pytest.raises(ServerError) as info:
            async with asyncio.timeout(10), client.subscribe(types=[ANALYTICS_EVENT]):
                pass
    assert (info.value.status, info.value.retry_after) == (503, 60)
    assert sim.faults.injected["status"] == 1


async def test_an_upgrade_that_stays_unavailable_uses_up_the_attempts(sim: Simulator) -> None:
    sim.faults.add(WS_ROUTE, Fault.status(503), times=None)
    async with service(sim) as client:
        with pytest.raises(ServerError, match="upgrade was refused: HTTP 503"):
            async with asyncio.timeout(10), client.subscribe(types=[ANALYTICS_EVENT]):
                pass
    assert sim.faults.injected["status"] == FAST_RETRY.attempts
    assert sim.live.connections_total == 0


async def test_a_reconnect_through_failed_upgrades_resumes_and_loses_nothing(
    sim: Simulator,
) -> None:
    async with service(sim) as client, client.subscribe(types=[ANALYTICS_EVENT]) as live:
        first = await client.trigger_event(TRIGGER)
        assert (await next_event(live)).id == first.id
        sim.faults.script(
            WS_ROUTE,
            [Fault.reset_before(), Fault.status(503, retry_after=0), Fault.html(502)],
        )
        sim.live.pause_upgrades()  # the events below happen while the stream is away
        sim.live.drop_connections()
        await wait_until(lambda: sim.live.upgrades_waiting == 1, "the client reconnects")
        report = await client.trigger_events([TRIGGER] * 5)
        sim.live.resume_upgrades()
        got = [(await next_event(live)).id for _ in range(5)]
        assert got == [r.event.id for r in report.results if r.event]
        assert not sim.faults.pending
        assert sim.faults.injected == {"reset_before": 1, "status": 1, "html": 1}
        after = await client.trigger_event(TRIGGER)
        assert (await next_event(live)).id == after.id
        assert (live.reconnects, live.resumes, live.gaps) == (1, 1, [])


async def test_a_401_on_the_upgrade_renews_the_token_once_and_resumes(sim: Simulator) -> None:
    async with service(sim) as client, client.subscribe(types=[ANALYTICS_EVENT]) as live:
        issued = sim.stats.tokens_issued
        sim.faults.add(WS_ROUTE, Fault.status(401))
        sim.live.drop_connections()
        await wait_until(lambda: live.reconnects == 1 and sim.live.connections == 1, "back")
        assert sim.faults.injected["status"] == 1
        assert sim.stats.tokens_issued == issued + 1
        event = await client.trigger_event(TRIGGER)
        assert (await next_event(live)).id == event.id
        assert live.resumes == 1


async def test_a_second_401_after_the_renewal_ends_the_stream(sim: Simulator) -> None:
    async with service(sim) as client, client.subscribe(types=[ANALYTICS_EVENT]) as live:
        issued = sim.stats.tokens_issued
        sim.faults.add(WS_ROUTE, Fault.status(401), times=2)
        session = live.session_id
        sim.live.drop_connections()
        with pytest.raises(UnauthorizedError, match="upgrade was refused: HTTP 401"):
            await next_event(live)
        assert sim.stats.tokens_issued == issued + 1  # renewed once, not in a loop
        assert sim.faults.injected["status"] == 2
        assert live.session_id == session  # nothing was started in its place


async def test_an_upgrade_that_never_answers_is_given_up_after_the_clients_connect_timeout(
    sim: Simulator,
) -> None:
    # The stream's own default is 10 s: only the client's connect_timeout ends it in time.
    sim.faults.add(WS_ROUTE, Fault.delay(60))
    once = RetryPolicy(attempts=1)
    async with XProtectClient(
        sim.url, client_id="service", client_secret="service-secret", retry=once,
        connect_timeout=0.5,
    ) as client:  # fmt: skip
        with pytest.raises(ConnectError, match="could not connect"):
            async with asyncio.timeout(8), client.subscribe(types=[ANALYTICS_EVENT]):
                pass
    assert sim.faults.injected["delay"] == 1


async def a_refused_resume(sim: Simulator, client: XProtectClient, live: LiveStream) -> Gap:
    """One event, a dropped connection whose resume is refused: the Gap it reports."""
    await client.trigger_event(EventTrigger(type=ANALYTICS_EVENT))
    async with asyncio.timeout(10):
        assert isinstance(await anext(live), Event)
        sim.live.refuse_resumes = True
        sim.live.drop_connections()
        while not isinstance(item := await anext(live), Gap):
            pass
    return item


async def test_a_coroutine_on_gap_is_awaited(sim: Simulator) -> None:
    """An ``async def`` on_gap was called and its coroutine never awaited (a
    RuntimeWarning, and the callback never ran)."""
    seen: list[Gap] = []

    async def on_gap(gap: Gap) -> None:
        await asyncio.sleep(0)
        seen.append(gap)

    async with (
        service_client_of(sim) as client,
        client.subscribe(types=[ANALYTICS_EVENT], on_gap=on_gap) as live,
    ):
        gap = await a_refused_resume(sim, client, live)
    assert seen == [gap]


async def test_an_on_gap_that_raises_is_logged_and_the_stream_goes_on(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A callback that raised killed the stream's task in silence: the consumer waited for
    ever (no Gap, no error, no event)."""

    def on_gap(gap: Gap) -> None:
        raise RuntimeError("the alert service is down")

    async with (
        service_client_of(sim) as client,
        client.subscribe(types=[ANALYTICS_EVENT], on_gap=on_gap) as live,
    ):
        with caplog.at_level(logging.ERROR, "xprotect_events.live"):
            await a_refused_resume(sim, client, live)
        assert "the on_gap callback failed" in caplog.text
        assert "the alert service is down" in caplog.text
        later = await client.trigger_event(EventTrigger(type=ANALYTICS_EVENT))
        async with asyncio.timeout(10):
            assert (await anext(live)).id == later.id  # type: ignore[union-attr]


class Fatal(BaseException):
    """Not an Exception: past every ``except Exception`` of the stream."""


async def test_an_error_that_ends_the_streams_loop_reaches_the_consumer(sim: Simulator) -> None:
    """The connection loop's task ended by an exception nobody handled (here an on_gap
    raising a BaseException): the consumer waited for ever."""

    def on_gap(gap: Gap) -> None:
        raise Fatal("from the callback")

    async with (
        service_client_of(sim) as client,
        client.subscribe(types=[ANALYTICS_EVENT], on_gap=on_gap) as live,
    ):
        with pytest.raises(XProtectError, match=r"the live stream stopped: Fatal\('from"):
            await a_refused_resume(sim, client, live)
    assert sim.live.connections == 0
