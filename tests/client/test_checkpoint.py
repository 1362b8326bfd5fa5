"""event_session(checkpoint=…): resume, when positions are saved, commit() (issue 16)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from xprotect_events import (
    CheckpointError,
    EventTrigger,
    FileCheckpoint,
    InvalidInputError,
    MemoryCheckpoint,
    SessionPosition,
    XProtectClient,
)
from xprotect_events.testing import ANALYTICS_EVENT, CAMERA_IDS, Simulator

CAMERA = f"cameras/{CAMERA_IDS[0]}"


async def _trigger(client: XProtectClient, count: int) -> list[uuid.UUID]:
    report = await client.trigger_events(
        [EventTrigger(type=ANALYTICS_EVENT, source=CAMERA, tag=f"t{i}") for i in range(count)]
    )
    report.raise_for_failures()
    return [r.event.id for r in report.results if r.event is not None]


async def _take(
    client: XProtectClient, store: object, count: int, **options: object
) -> list[uuid.UUID]:
    got: list[uuid.UUID] = []
    async with client.event_session(
        checkpoint=store,
        poll_interval=0.01,
        max_size=7,
        **options,  # type: ignore[arg-type]
    ) as session:
        async for change in session:
            got.append(change.event.id)
            if len(got) == count:
                break
    return got


async def test_a_session_resumes_where_the_last_one_stopped(
    sim: Simulator, client: XProtectClient
) -> None:
    ids = await _trigger(client, 30)
    store = MemoryCheckpoint()
    first = await _take(client, store, 12)
    assert store.saves == 1  # on exit, not per event (interval 1 s)
    second = await _take(client, store, 18)
    assert first + second == ids


async def test_a_file_checkpoint_is_locked_while_the_session_runs(
    sim: Simulator, client: XProtectClient, tmp_path: Path
) -> None:
    ids = await _trigger(client, 10)
    path = tmp_path / "orders.pos"
    async with client.event_session(checkpoint=path, poll_interval=0.01) as session:
        with pytest.raises(CheckpointError, match="in use by another stream"):
            FileCheckpoint(path).load()
        got = [(await anext(session)).event.id for _ in range(4)]
    position = SessionPosition.from_json(path.read_text())
    times = [e.time async for e in client.list_events() if e.id in got]
    assert position.time == max(times)
    assert await _take(client, path, 6) == ids[4:]


async def test_the_change_in_hand_repeats_after_an_exception(
    sim: Simulator, client: XProtectClient
) -> None:
    ids = await _trigger(client, 5)
    store = MemoryCheckpoint()

    async def consume() -> None:
        async with client.event_session(checkpoint=store, poll_interval=0.01) as session:
            async for change in session:
                if change.event.id == ids[2]:
                    raise ZeroDivisionError  # the work on ids[2] failed: not processed

    with pytest.raises(ZeroDivisionError):
        await consume()
    assert await _take(client, store, 3) == ids[2:]


async def test_commit_saves_now_and_counts_the_change_in_hand(
    sim: Simulator, client: XProtectClient
) -> None:
    ids = await _trigger(client, 6)
    store = MemoryCheckpoint()
    async with client.event_session(
        checkpoint=store, checkpoint_interval=3600, poll_interval=0.01
    ) as session:
        async for change in session:
            if change.event.id == ids[1]:
                await session.commit()
                assert store.saves == 1
                break
    position = store.load()
    assert isinstance(position, SessionPosition)
    assert ids[1] in position.recent
    assert await _take(client, store, 4) == ids[2:]


async def test_with_interval_zero_a_save_starts_as_each_change_is_processed(
    sim: Simulator, client: XProtectClient
) -> None:
    await _trigger(client, 5)
    store = MemoryCheckpoint()
    ids = await _take(client, store, 5, checkpoint_interval=0)
    assert store.saves >= 1  # in the background, when the consumer next awaits, and on exit
    position = store.load()
    assert isinstance(position, SessionPosition)
    assert ids[-1] in position.recent


async def test_a_stored_position_wins_over_since(sim: Simulator, client: XProtectClient) -> None:
    ids = await _trigger(client, 4)
    store = MemoryCheckpoint()
    await _take(client, store, 2)
    events = [e async for e in client.list_events()]
    assert await _take(client, store, 2, since=events[0].time) == ids[2:]


class _Broken:
    def load(self) -> None:
        return None

    def save(self, position: object) -> None:
        raise OSError("disk on fire")


async def test_a_failing_store_is_a_library_error(sim: Simulator, client: XProtectClient) -> None:
    await _trigger(client, 2)
    with pytest.raises(CheckpointError, match="disk on fire"):
        await _take(client, _Broken(), 1)


def test_checkpoint_options_are_checked(client: XProtectClient) -> None:
    with pytest.raises(InvalidInputError, match="order='asc'"):
        client.event_session(checkpoint="x.pos", order="desc")
    with pytest.raises(InvalidInputError, match="load\\(\\) and save\\(\\)"):
        client.event_session(checkpoint=42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="checkpoint_interval"):
        client.event_session(checkpoint="x.pos", checkpoint_interval=-1)


async def test_commit_needs_a_checkpoint(sim: Simulator, client: XProtectClient) -> None:
    async with client.event_session() as session:
        with pytest.raises(InvalidInputError, match="no checkpoint"):
            await session.commit()


class AsyncStore:
    """The store an asyncio service writes first: coroutine ``load`` and ``save``."""

    async def load(self) -> None:
        return None

    async def save(self, position: object) -> None:
        pass


async def test_a_store_of_coroutine_functions_is_refused_when_the_stream_is_made(
    sim: Simulator, client: XProtectClient
) -> None:
    """Its calls run in a worker thread, where a coroutine would only be made, never run:
    refused at once, saying what to do, not a "loaded <coroutine …>" once entered."""
    for make in (client.event_session, client.subscribe):
        with pytest.raises(InvalidInputError, match=r"plain \(blocking\) functions.*own loop"):
            make(checkpoint=AsyncStore())
    assert sum(sim.stats.requests.values()) == 0
