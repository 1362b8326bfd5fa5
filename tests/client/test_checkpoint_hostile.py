"""Checkpoint files that are not files: a FIFO (or a link to one) where the position should
be is a CheckpointError at once, before anything is sent; the load used to wait in
``open()`` for a writer that never comes, for ever (a thread no cancellation can stop).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import pytest

from tests.hostile import CLIENT_ID, CLIENT_SECRET, Hostile
from xprotect_events import CheckpointError, FileCheckpoint, RetryPolicy, XProtectClient


@pytest.mark.parametrize("through_a_link", [False, True])
async def test_a_fifo_for_a_checkpoint_is_refused_at_once(
    hostile: Hostile, tmp_path: Path, through_a_link: bool
) -> None:
    fifo = tmp_path / "position.fifo"
    os.mkfifo(fifo)
    path = fifo
    if through_a_link:
        path = tmp_path / "position.json"
        path.symlink_to(fifo.name)
    async with XProtectClient(
        hostile.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, retry=RetryPolicy(attempts=1)
    ) as client:
        try:
            with pytest.raises(CheckpointError, match="not a regular file"):
                await asyncio.wait_for(client.event_session(checkpoint=path).__aenter__(), 10)
        finally:
            # Before the fix the load waits in open() for a writer: be one, so it ends.
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert hostile.requests("create") == []
    # The lock was released: the file is free again (and still refused).
    with FileCheckpoint(path) as store, pytest.raises(CheckpointError, match="regular file"):
        store.load()
