"""Proofs for ``client.subscribe``: every exit closes the socket cleanly, at every await;
drops at random points lose and repeat nothing."""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest

from tests.helpers import wait_until
from xprotect_events import Event, EventTrigger, SlowConsumerError, XProtectClient, XProtectError
from xprotect_events.live import LiveStream
from xprotect_events.testing import ANALYTICS_EVENT, CAMERA_IDS, Simulator

TRIGGER = EventTrigger(type=ANALYTICS_EVENT, source=f"cameras/{CAMERA_IDS[0]}")


async def closed_cleanly(sim: Simulator) -> None:
    await wait_until(lambda: sim.live.connections == 0, "every socket is closed")
    assert sim.live.close_codes, "no socket was ever opened"
    assert set(sim.live.close_codes) <= {1000}, sim.live.close_codes


async def drain(live: LiveStream) -> None:
    async for _ in live:
        pass


def live_tasks() -> set[str]:
    return {t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("xprotect-live")}


async def test_break_closes(sim: Simulator, service_client: XProtectClient) -> None:
    async with service_client.subscribe(types=[ANALYTICS_EVENT]) as live:
        await service_client.trigger_event(TRIGGER)
        async for _ in live:
            break
    await closed_cleanly(sim)
    assert live_tasks() == set()


async def test_exception_closes(sim: Simulator, service_client: XProtectClient) -> None:
    with pytest.raises(ZeroDivisionError):
        async with service_client.subscribe(types=[ANALYTICS_EVENT]):
            raise ZeroDivisionError
    await closed_cleanly(sim)


async def test_cancel_while_waiting_for_an_event(
    sim: Simulator, service_client: XProtectClient
) -> None:
    async def consume() -> None:
        async with service_client.subscribe(types=[ANALYTICS_EVENT]) as live:
            await drain(live)

    task = asyncio.create_task(consume())
    await wait_until(lambda: sim.live.connections == 1 and sim.live.sessions != {}, "live")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await closed_cleanly(sim)
    assert live_tasks() == set()


async def test_cancel_while_connecting(sim: Simulator, service_client: XProtectClient) -> None:
    sim.live.pause_upgrades()
    task = asyncio.create_task(service_client.subscribe(types=[ANALYTICS_EVENT]).__aenter__())
    await wait_until(lambda: sim.live.upgrades_waiting == 1, "the upgrade waits")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    sim.live.resume_upgrades()
    await wait_until(lambda: sim.live.connections == 0, "no socket is left open")
    assert live_tasks() == set()


async def test_cancel_while_a_command_waits(sim: Simulator, service_client: XProtectClient) -> None:
    async with service_client.subscribe(types=[ANALYTICS_EVENT]) as live:
        sim.live.hold_state()
        state = asyncio.create_task(live.state())
        await wait_until(lambda: sim.live.connections == 1 and bool(live_tasks()), "asked")
        await asyncio.sleep(0)
        state.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await state
        sim.live.release_state()
        event = await service_client.trigger_event(TRIGGER)  # the stream goes on
        assert (await anext(live)).id == event.id  # type: ignore[union-attr]
    await closed_cleanly(sim)


async def test_close_while_reconnecting(sim: Simulator, service_client: XProtectClient) -> None:
    async with service_client.subscribe(types=[ANALYTICS_EVENT]) as live:
        sim.live.pause_upgrades()
        sim.live.drop_connections()
        await wait_until(lambda: sim.live.upgrades_waiting == 1, "the client reconnects")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await anext(live)
    sim.live.resume_upgrades()
    await wait_until(lambda: sim.live.connections == 0, "no socket is left open")
    assert live_tasks() == set()


async def test_client_closed_under_the_stream(sim: Simulator) -> None:
    client = XProtectClient(sim.url, client_id="service", client_secret="service-secret")
    await client.open()
    async with client.subscribe(types=[ANALYTICS_EVENT]) as live:
        await client.close()
        with pytest.raises(XProtectError):
            async with asyncio.timeout(10):
                await anext(live)
    assert live_tasks() == set()


async def test_slow_consumer_during_a_command(
    sim: Simulator, service_client: XProtectClient
) -> None:
    async with service_client.subscribe(types=[ANALYTICS_EVENT], buffer=3) as live:
        sim.live.hold_state()
        state = asyncio.create_task(live.state())
        await service_client.trigger_events([TRIGGER] * 10)
        with pytest.raises(SlowConsumerError):
            async with asyncio.timeout(10):
                await state
        with pytest.raises(SlowConsumerError):
            await drain(live)
    await wait_until(lambda: sim.live.connections == 0, "no socket is left open")


@pytest.mark.parametrize("seed", range(3))
async def test_random_drops_lose_and_repeat_nothing(
    sim: Simulator, service_client: XProtectClient, seed: int, soak: bool
) -> None:
    rng = random.Random(seed)
    total = 2000 if soak else 300
    async with service_client.subscribe(types=[ANALYTICS_EVENT]) as live:
        sent: list[str] = []
        for _ in range(0, total, 20):
            report = await service_client.trigger_events([TRIGGER] * 20)
            sent += [str(r.event.id) for r in report.results if r.event]
            if rng.random() < 0.5:
                sim.live.drop_connections()
        got: list[str] = []
        while len(got) < len(sent):
            async with asyncio.timeout(20):
                item = await anext(live)
            assert isinstance(item, Event)
            got.append(str(item.id))
        assert got == sent
        assert live.gaps == []
