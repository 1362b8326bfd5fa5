"""Checkpoint stores that misbehave: a save cut short by cancellation, a save that returns a
coroutine, paths and temp files that are not what they should be, a save that never returns
at the end of ``asyncio.run()``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import xprotect_events
from xprotect_events.checkpoints import FileCheckpoint, MemoryCheckpoint
from xprotect_events.committer import Committer
from xprotect_events.errors import CheckpointError, InvalidInputError
from xprotect_events.positions import Position, SessionPosition

T = datetime(2024, 5, 1, 12, tzinfo=UTC)


def at(n: int) -> SessionPosition:
    return SessionPosition.of({uuid.UUID(int=n + 1): T.replace(second=n)})


class Held(MemoryCheckpoint):
    """The first save waits for ``go_on`` (at most a deadline); records overlapping saves."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.go_on = threading.Event()
        self.active = 0
        self.overlapped = False
        self._count = threading.Lock()

    def save(self, position: Position) -> None:
        with self._count:
            self.active += 1
            self.overlapped |= self.active > 1
            first = not self.started.is_set()
        self.started.set()
        if first:
            self.go_on.wait(2)  # a deadline: the second save must not start meanwhile
        super().save(position)
        with self._count:
            self.active -= 1


async def test_a_cancelled_commit_never_lets_the_next_save_overlap_its_thread() -> None:
    store = Held()
    committer = Committer(store)
    committer.mark(at(1))
    first = asyncio.create_task(committer.acommit())
    assert await asyncio.to_thread(store.started.wait, 30)
    first.cancel()  # the save goes on in its thread
    with pytest.raises(asyncio.CancelledError):
        await first
    committer.mark(at(2))
    await committer.acommit()  # waits for the first save's thread, then saves
    store.go_on.set()
    assert not store.overlapped
    assert store.load() == at(2)


async def test_a_save_that_returns_a_coroutine_is_an_error_not_a_silent_no_op() -> None:
    saved: list[Position] = []

    async def keep(position: Position) -> None:
        saved.append(position)

    class Wrapped:
        def load(self) -> Position | None:
            return None

        def save(self, position: Position) -> Any:
            return keep(position)  # a plain function handing back the coroutine

    committer = Committer(Wrapped())
    committer.mark(at(1))
    with pytest.raises(CheckpointError, match="coroutine"):
        await committer.acommit()
    assert committer.unsaved
    assert committer.saves == 0


def test_a_path_with_a_nul_byte_is_an_input_error() -> None:
    for path in ("state\0.json", Path("state\0.json")):
        with pytest.raises(InvalidInputError, match="checkpoint path"):
            FileCheckpoint(path)


def test_a_directory_where_the_temp_file_goes_is_refused_and_the_lock_released(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.json"
    (tmp_path / "state.json.tmp").mkdir()
    store = FileCheckpoint(path)
    with pytest.raises(CheckpointError, match=r"state\.json\.tmp"):
        store.load()
    assert "locked=False" in repr(store)
    (tmp_path / "state.json.tmp").rmdir()
    with FileCheckpoint(path) as again:
        assert again.load() is None


_HUNG_EXIT = """
import asyncio, threading, sys
from datetime import UTC, datetime
import uuid
from xprotect_events import MemoryCheckpoint, SessionPosition
from xprotect_events.session_checkpoint import SessionCheckpoint

class Hung(MemoryCheckpoint):
    def save(self, position):
        threading.Event().wait()  # a disk that never answers

async def main():
    checkpoint = SessionCheckpoint(Hung(), owned=False, interval=1.0, timeout=0.1)
    when = datetime(2024, 5, 1, tzinfo=UTC)
    checkpoint.committer.mark(SessionPosition.of({uuid.UUID(int=1): when}))
    print(await checkpoint.finish())

asyncio.run(main())
print("exited")
"""


def test_a_save_that_never_returns_does_not_hold_up_the_end_of_asyncio_run(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(xprotect_events.__file__).parents[1])}
    done = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", _HUNG_EXIT],
        env=env,
        cwd=tmp_path,  # not the checkout: the package under test
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "did not return within 0.1 s" in done.stdout
    assert done.stdout.strip().endswith("exited")
