"""One checkpoint, two streams at once: refused before the second sends anything.

Both would save to it, each overwriting the other's position: a restart would then resume
one stream from the other's place (events lost or repeated). A path, or two
:class:`FileCheckpoint` objects for one file, meet the file's lock; one store object given
to two streams met nothing (its lock was already held: by the first stream).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from tests.helpers import service_client_of
from xprotect_events import (
    CheckpointError,
    EventTrigger,
    FileCheckpoint,
    MemoryCheckpoint,
    XProtectClient,
)
from xprotect_events.testing import ANALYTICS_EVENT, CAMERA_IDS, Simulator

CAMERA = f"cameras/{CAMERA_IDS[0]}"
SHARED = "in use by another stream in this process"


def requests(sim: Simulator) -> int:
    return sum(sim.stats.requests.values())


async def trigger(client: XProtectClient) -> uuid.UUID:
    return (await client.trigger_event(EventTrigger(type=ANALYTICS_EVENT, source=CAMERA))).id


@pytest.mark.parametrize("kind", ["file", "memory"])
async def test_one_store_object_serves_one_event_session_at_a_time(
    sim: Simulator, client: XProtectClient, tmp_path: Path, kind: str
) -> None:
    store = FileCheckpoint(tmp_path / "state.json") if kind == "file" else MemoryCheckpoint()
    first_id = await trigger(client)
    async with client.event_session(checkpoint=store, poll_interval=0.01) as first:
        assert (await anext(first)).event.id == first_id
        before = requests(sim)
        second = client.event_session(checkpoint=store, types=[ANALYTICS_EVENT])
        with pytest.raises(CheckpointError, match=SHARED):
            await second.__aenter__()
        assert requests(sim) == before  # nothing sent for the second
    # free again once the first is done: the next session resumes from the first's place
    later = await trigger(client)
    async with client.event_session(checkpoint=store, poll_interval=0.01) as again:
        assert (await anext(again)).event.id == later


async def test_two_objects_for_one_file_meet_the_lock(
    sim: Simulator, client: XProtectClient, tmp_path: Path
) -> None:
    path = tmp_path / "state.json"
    async with client.event_session(checkpoint=FileCheckpoint(path)):
        before = requests(sim)
        for other in (FileCheckpoint(path), path, str(path)):
            with pytest.raises(CheckpointError, match="in use by another stream"):
                await client.event_session(checkpoint=other).__aenter__()
        assert requests(sim) == before


async def test_one_store_object_serves_one_live_stream_at_a_time(
    sim: Simulator, tmp_path: Path
) -> None:
    store = FileCheckpoint(tmp_path / "live.json")
    async with service_client_of(sim) as client:
        async with client.subscribe(types=[ANALYTICS_EVENT], checkpoint=store):
            for make in (client.subscribe, client.event_session):
                with pytest.raises(CheckpointError, match=SHARED):
                    async with asyncio.timeout(10):
                        await make(checkpoint=store).__aenter__()
        async with client.subscribe(types=[ANALYTICS_EVENT], checkpoint=store):
            pass  # free again


async def test_a_commit_after_the_exit_does_not_write_over_the_next_stream(
    sim: Simulator, client: XProtectClient
) -> None:
    store = MemoryCheckpoint()
    await trigger(client)
    async with client.event_session(checkpoint=store, poll_interval=0.01) as first:
        await anext(first)
    saves = store.saves
    async with client.event_session(checkpoint=store, poll_interval=0.01):
        with pytest.raises(CheckpointError, match=SHARED):
            await first.commit()
    assert store.saves == saves
    await first.commit()  # the store is free again: allowed (nothing new to save)
