"""A checkpoint save that never returns (a hung disk, a store waiting on a dead database)
does not hold the session's exit: the wait is bounded by ``close_timeout``, the exit raises a
CheckpointError saying so, the server's session is still deleted, and a file checkpoint
stays locked until the save in its thread ends (no second stream writes it meanwhile)."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.hostile import CLIENT_ID, CLIENT_SECRET, Hostile, event
from xprotect_events import (
    CheckpointError,
    FileCheckpoint,
    MemoryCheckpoint,
    Position,
    RetryPolicy,
    SessionPosition,
    XProtectClient,
    checkpoints,
)


def _client(hostile: Hostile) -> XProtectClient:
    return XProtectClient(
        hostile.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, retry=RetryPolicy(attempts=1)
    )


async def _take_one(client: XProtectClient, store: object) -> None:
    async with client.event_session(checkpoint=store, close_timeout=0.2) as session:  # type: ignore[arg-type]
        async for _ in session:
            break


async def test_a_save_that_never_returns_is_a_bounded_exit_error(hostile: Hostile) -> None:
    release = threading.Event()

    class Hung(MemoryCheckpoint):
        def save(self, position: Position) -> None:
            release.wait(60)

    hostile.reads = [[event(1)]]
    try:
        async with _client(hostile) as client:
            with pytest.raises(CheckpointError, match=r"did not return within 0\.2 s"):
                await asyncio.wait_for(_take_one(client, Hung()), 30)
    finally:
        release.set()
    assert len(hostile.requests("delete")) == 1  # the session was deleted all the same


async def test_a_hung_file_save_keeps_the_file_locked_until_it_ends(
    hostile: Hostile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    write = checkpoints.write_durably

    def slow_write(path: Path, data: bytes, like: os.stat_result | None) -> None:
        release.wait(60)
        write(path, data, like)

    monkeypatch.setattr(checkpoints, "write_durably", slow_write)
    path = tmp_path / "state.json"
    hostile.reads = [[event(1)]]
    try:
        async with _client(hostile) as client:
            with pytest.raises(CheckpointError, match="did not return"):
                await asyncio.wait_for(_take_one(client, path), 30)
        other = FileCheckpoint(path)
        with pytest.raises(CheckpointError, match="in use"):
            other.lock()  # the save still runs: nobody else writes the file
    finally:
        release.set()

    def free() -> bool:
        store = FileCheckpoint(path)
        try:
            store.lock()
        except CheckpointError:
            return False
        store.close()
        return True

    await wait_until(free, "the lock is released once the save ends")
    with FileCheckpoint(path) as store:
        loaded = store.load()
    assert isinstance(loaded, SessionPosition)
    assert len(loaded.recent) == 1
