"""A checkpoint store that hangs (a network store that never answers) against the simulator:
the consumer is never stalled by a periodic save, ``commit()``, the exit save and the entry
load are bounded by ``close_timeout`` (a CheckpointError), a hung periodic save is logged at
WARNING, and once the store answers the newest position is saved: a restart then delivers
nothing twice and loses nothing. Saves run in a worker thread, so the store blocks on a
``threading.Event`` (an asyncio one cannot be waited for there)."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from contextlib import AbstractAsyncContextManager

import pytest

from tests.helpers import next_event, service_client_of, wait_until
from xprotect_events import (
    CheckpointError,
    EventTrigger,
    LivePosition,
    MemoryCheckpoint,
    Position,
    SessionPosition,
    XProtectClient,
)
from xprotect_events.claims import Claim
from xprotect_events.testing import ANALYTICS_EVENT, CAMERA_IDS, Simulator

CAMERA = f"cameras/{CAMERA_IDS[0]}"
BOUND = 0.2  # close_timeout: how long an exit or a commit waits for the store


class HangingStore(MemoryCheckpoint):
    """Saves (or loads) block while ``hang`` is set, until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.hang = False
        self.hang_loads = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def _block(self) -> None:
        self.entered.set()
        assert self.release.wait(60)

    def save(self, position: Position) -> None:
        if self.hang:
            self._block()
        super().save(position)

    def load(self) -> Position | None:
        if self.hang_loads:
            self._block()
        return super().load()


async def trigger(client: XProtectClient, n: int) -> list[uuid.UUID]:
    return [(await client.trigger_event(EventTrigger(type=ANALYTICS_EVENT, source=CAMERA))).id
            for _ in range(n)]  # fmt: skip


async def entered(store: HangingStore) -> None:
    assert await asyncio.to_thread(store.entered.wait, 30)  # (in a thread: the loop runs on)


async def enter(stream: AbstractAsyncContextManager[object]) -> None:
    async with stream:
        pass


def hung_warning(caplog: pytest.LogCaptureFixture) -> bool:
    return any(
        r.levelno == logging.WARNING and "has not returned within" in r.getMessage()
        for r in caplog.records
    )


# ------------------------------------------------------------------ live stream


async def live_run_with_a_hung_store(
    client: XProtectClient, store: HangingStore, caplog: pytest.LogCaptureFixture
) -> list[uuid.UUID]:
    """Five events delivered while the store hangs; the exit raises, bounded."""
    sent: list[uuid.UUID] = []
    with pytest.raises(CheckpointError, match=r"did not return within 0\.2 s"):
        await consume_while_hung(client, store, caplog, sent)
    return sent


async def consume_while_hung(
    client: XProtectClient,
    store: HangingStore,
    caplog: pytest.LogCaptureFixture,
    sent: list[uuid.UUID],
) -> None:
    live = client.subscribe(
        types=[ANALYTICS_EVENT], checkpoint=store, checkpoint_interval=0, close_timeout=BOUND
    )
    async with live:
        await wait_until(lambda: store.saves == 1, "the session saved when it went live")
        store.hang = True
        sent += await trigger(client, 5)
        assert (await next_event(live)).id == sent[0]
        assert (await next_event(live)).id == sent[1]  # the first is due: the save hangs
        await entered(store)
        assert [(await next_event(live)).id for _ in range(3)] == sent[2:]
        await wait_until(lambda: hung_warning(caplog), "a WARNING says the save hangs")


async def test_a_hung_live_store_stalls_no_delivery_and_loses_no_position(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    store = HangingStore()
    async with service_client_of(sim) as client:
        sent = await live_run_with_a_hung_store(client, store, caplog)
        with pytest.raises(CheckpointError, match="in use by another stream"):
            async with client.subscribe(checkpoint=store):  # the save still runs
                pass
        store.release.set()  # the store answers: the newest position is saved
        await wait_until(
            lambda: (p := store.load()) is not None and p.event_id == sent[-1],  # type: ignore[attr-defined]
            "the last event processed is saved",
        )
        store.hang = False
        await wait_until(lambda: _claimable(store), "the store is given back")
        live = client.subscribe(types=[ANALYTICS_EVENT], checkpoint=store, stored_types="all")
        async with live:
            more = await trigger(client, 2)
            assert [(await next_event(live)).id for _ in range(2)] == more  # none twice
    position = store.load()
    assert isinstance(position, LivePosition)
    assert position.event_id == more[-1]


def _claimable(store: MemoryCheckpoint) -> bool:
    """Whether no stream holds ``store`` (its last save ended)."""
    claim = Claim(store)
    try:
        claim.take()
    except CheckpointError:
        return False
    claim.give_back()
    return True


async def test_a_live_commit_on_a_hung_store_is_a_bounded_checkpoint_error(
    sim: Simulator, service_client: XProtectClient
) -> None:
    store = HangingStore()
    try:
        async with service_client.subscribe(
            types=[ANALYTICS_EVENT], checkpoint=store, checkpoint_interval=3600, close_timeout=BOUND
        ) as live:
            await wait_until(lambda: store.saves == 1, "the session saved when it went live")
            store.hang = True
            sent = await trigger(service_client, 2)
            assert (await next_event(live)).id == sent[0]
            with pytest.raises(CheckpointError, match="did not return within"):
                await asyncio.wait_for(live.commit(), 30)
            assert (await next_event(live)).id == sent[1]  # the stream goes on
            store.release.set()
            store.hang = False
    finally:
        store.release.set()
    position = store.load()
    assert isinstance(position, LivePosition)
    assert position.event_id == sent[1]


async def test_a_live_store_whose_load_hangs_is_a_bounded_error_on_entry(
    sim: Simulator, service_client: XProtectClient
) -> None:
    store = HangingStore()
    store.hang_loads = True
    try:
        with pytest.raises(CheckpointError, match=r"load\(\) did not return within 0\.2 s"):
            await asyncio.wait_for(
                enter(service_client.subscribe(checkpoint=store, close_timeout=BOUND)), 30
            )
    finally:
        store.release.set()
    assert sim.live.connections_total == 0  # nothing was sent


# ------------------------------------------------------------------ event session


async def session_run_with_a_hung_store(
    client: XProtectClient, store: HangingStore, ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    got: list[uuid.UUID] = []
    with pytest.raises(CheckpointError, match=r"did not return within 0\.2 s"):
        await take_while_hung(client, store, len(ids), got)
    return got


async def take_while_hung(
    client: XProtectClient, store: HangingStore, count: int, got: list[uuid.UUID]
) -> None:
    session = client.event_session(
        types=[ANALYTICS_EVENT],
        checkpoint=store,
        checkpoint_interval=0,
        close_timeout=BOUND,
        poll_interval=0.01,
    )
    async with asyncio.timeout(30), session:
        store.hang = True
        async for change in session:
            got.append(change.event.id)
            if len(got) == 2:
                await entered(store)  # the first is due: its save hangs
            if len(got) == count:
                break


async def test_a_hung_session_store_loses_no_position_once_it_answers(
    sim: Simulator, service_client: XProtectClient, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await trigger(service_client, 5)
    store = HangingStore()
    try:
        assert await session_run_with_a_hung_store(service_client, store, ids) == ids
        await wait_until(lambda: hung_warning(caplog), "a WARNING says the save hangs")
    finally:
        store.release.set()
    await wait_until(lambda: _claimable(store), "the store is given back")
    store.hang = False
    more = await trigger(service_client, 2)
    got: list[uuid.UUID] = []
    async with service_client.event_session(
        types=[ANALYTICS_EVENT], checkpoint=store, poll_interval=0.01
    ) as session:
        async for change in session:
            got.append(change.event.id)
            if len(got) == 2:
                break
    assert got == more  # nothing twice, nothing lost
    assert isinstance(store.load(), SessionPosition)


async def test_a_session_commit_on_a_hung_store_is_a_bounded_checkpoint_error(
    sim: Simulator, service_client: XProtectClient
) -> None:
    ids = await trigger(service_client, 1)
    store = HangingStore()
    try:
        async with service_client.event_session(
            types=[ANALYTICS_EVENT], checkpoint=store, close_timeout=BOUND, poll_interval=0.01
        ) as session:
            assert (await anext(session)).event.id == ids[0]
            store.hang = True
            with pytest.raises(CheckpointError, match="did not return within"):
                await asyncio.wait_for(session.commit(), 30)
            store.release.set()  # the store answers: the position is saved after all
            store.hang = False
    finally:
        store.release.set()
    await wait_until(lambda: _claimable(store), "the store is given back")
    more = await trigger(service_client, 1)
    async with service_client.event_session(
        types=[ANALYTICS_EVENT], checkpoint=store, poll_interval=0.01
    ) as session:
        assert (await anext(session)).event.id == more[0]  # the first one is not again


async def test_a_session_store_whose_load_hangs_is_a_bounded_error_on_entry(
    sim: Simulator, service_client: XProtectClient
) -> None:
    store = HangingStore()
    store.hang_loads = True
    try:
        session = service_client.event_session(checkpoint=store, close_timeout=BOUND)
        with pytest.raises(CheckpointError, match=r"load\(\) did not return within 0\.2 s"):
            await asyncio.wait_for(enter(session), 30)
    finally:
        store.release.set()


async def test_a_live_store_hung_from_the_start_stalls_neither_entry_nor_close(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    # broke: the save made when the session went live was awaited in the connection loop,
    # so entering the stream waited for ever (and so did client.close())
    store = HangingStore()
    store.hang = True
    try:
        async with service_client_of(sim) as client:
            live = client.subscribe(types=[ANALYTICS_EVENT], checkpoint=store, close_timeout=BOUND)
            await asyncio.wait_for(live.__aenter__(), 30)
            await entered(store)
            sent = await trigger(client, 2)
            assert [(await next_event(live)).id for _ in range(2)] == sent
            with caplog.at_level(logging.WARNING, "xprotect_events.live"):
                await asyncio.wait_for(client.close(), 30)  # closes the stream, bounded
        assert "did not return within 0.2 s" in caplog.text
    finally:
        store.release.set()
