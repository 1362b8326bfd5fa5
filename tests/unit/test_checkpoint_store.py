"""Checkpoint stores: atomic files, the lock, crash leftovers, and the committer's batching."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.helpers import wait_until
from xprotect_events.checkpoints import CheckpointStore, FileCheckpoint, MemoryCheckpoint
from xprotect_events.committer import Committer
from xprotect_events.errors import CheckpointError, InvalidInputError
from xprotect_events.positions import LivePosition, Position, SessionPosition

T = datetime(2024, 5, 1, 12, tzinfo=UTC)
OLD = LivePosition(session_id="s", event_id=uuid.UUID(int=1), time=T)
NEW = LivePosition(session_id="s", event_id=uuid.UUID(int=2), time=T + timedelta(seconds=1))


def at(n: int) -> SessionPosition:
    return SessionPosition.of({uuid.UUID(int=n + 1): T + n * timedelta(milliseconds=1)})


# ============================================================================ FileCheckpoint


def test_a_missing_file_loads_as_nothing(tmp_path: Path) -> None:
    with FileCheckpoint(tmp_path / "state.json") as store:
        assert store.load() is None


def test_save_then_load_in_a_new_store(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with FileCheckpoint(path) as store:
        store.save(OLD)
        store.save(NEW)
    with FileCheckpoint(path) as store:
        assert store.load() == NEW
    assert Position.from_json(path.read_text()) == NEW
    assert path.read_bytes().endswith(b"\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.lock"]


def test_a_crash_between_write_and_rename_leaves_the_old_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with FileCheckpoint(path) as store:
        store.save(OLD)
        # what a save that died before its rename leaves: a full or a torn temp file
        store.temp.write_text(NEW.to_json()[:20])
        assert store.load() == OLD
    assert store.temp.exists()
    with FileCheckpoint(path) as store:  # the next stream cleans the leftover up
        assert not store.temp.exists()
        assert store.load() == OLD


def test_a_failed_rename_keeps_the_old_checkpoint_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    with FileCheckpoint(path) as store:
        store.save(OLD)

        def no_rename(src: object, dst: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "replace", no_rename)
        with pytest.raises(CheckpointError, match=r"state\.json: cannot save .*No space left"):
            store.save(NEW)
        monkeypatch.undo()
        assert not store.temp.exists()
        assert store.load() == OLD


def test_a_checkpoint_in_an_unwritable_place_says_so(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="cannot open the lock"):
        FileCheckpoint(tmp_path / "missing-dir" / "state.json").save(OLD)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "not JSON"),
        (b"garbage", "not JSON"),
        (b'{"kind": "live", "version": 9}', "version 9, written by a newer"),
    ],
)
def test_a_bad_file_is_refused_naming_it(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with FileCheckpoint(path) as store, pytest.raises(CheckpointError, match=match) as caught:
        store.load()
    assert caught.value.path == str(path)
    assert str(path) in str(caught.value)


def test_an_oversized_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b" " * (4 * 1024 * 1024 + 1))
    with FileCheckpoint(path) as store, pytest.raises(CheckpointError, match="larger than"):
        store.load()


def test_save_takes_only_positions(tmp_path: Path) -> None:
    with FileCheckpoint(tmp_path / "s") as store, pytest.raises(InvalidInputError):
        store.save("not a position")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="file path"):
        FileCheckpoint("")


# ============================================================================ the lock


def test_two_streams_cannot_share_a_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first = FileCheckpoint(path)
    first.save(OLD)  # the first use takes the lock
    second = FileCheckpoint(path)
    with pytest.raises(CheckpointError, match="in use by another stream") as caught:
        second.load()
    message = str(caught.value)
    assert str(path) in message
    assert f"process {os.getpid()}" in message
    first.close()
    assert second.load() == OLD  # free once the first one closed
    second.close()


def test_memory_checkpoint_round_trips_the_text() -> None:
    store: CheckpointStore = MemoryCheckpoint()
    assert store.load() is None
    store.save(OLD)
    assert store.load() == OLD
    assert isinstance(store, MemoryCheckpoint)
    assert store.saves == 1
    assert MemoryCheckpoint(NEW).load() == NEW


# ============================================================================ Committer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_committer_saves_at_most_every_interval() -> None:
    clock, store = FakeClock(), MemoryCheckpoint()
    committer = Committer(store, interval=1.0, clock=clock)
    due = []
    for n in range(1000):  # 1000 events over 2.5 s
        clock.now = 100.0 + n * 0.0025
        if committer.mark(at(n)):
            due.append(n)
            committer.commit()
    assert due == [400, 800]
    assert store.saves == 2
    assert store.load() == at(800)
    assert committer.unsaved
    committer.commit()  # on exit
    assert store.load() == at(999)
    assert store.saves == 3
    committer.commit()  # nothing new: no write
    assert store.saves == 3


def test_a_lazy_position_is_built_only_when_saved() -> None:
    clock, store = FakeClock(), MemoryCheckpoint()
    committer = Committer(store, interval=1.0, clock=clock)
    built: list[int] = []

    def build(n: int) -> SessionPosition:
        built.append(n)
        return at(n)

    for n in range(50):
        committer.mark(lambda n=n: build(n))  # type: ignore[misc]
    assert built == []
    committer.commit()
    assert built == [49]
    assert store.load() == at(49)


def test_a_failed_save_keeps_the_position_unsaved() -> None:
    class Failing(MemoryCheckpoint):
        fail = True

        def save(self, position: Position) -> None:
            if self.fail:
                raise CheckpointError("disk full")
            super().save(position)

    store = Failing()
    committer = Committer(store, clock=FakeClock())
    committer.mark(at(1))
    with pytest.raises(CheckpointError, match="disk full"):
        committer.commit()
    assert committer.unsaved
    store.fail = False
    committer.commit()
    assert store.load() == at(1)
    assert committer.saves == 1


async def test_acommit_saves_off_the_loop_never_overlapping_nor_out_of_order() -> None:
    class Slow(MemoryCheckpoint):
        def __init__(self) -> None:
            super().__init__()
            self.started = threading.Event()
            self.go_on = threading.Event()
            self.order: list[Position] = []

        def save(self, position: Position) -> None:
            self.started.set()
            assert self.go_on.wait(30)
            self.order.append(position)
            super().save(position)

    store = Slow()
    committer = Committer(store, interval=1.0, clock=FakeClock())
    committer.mark(at(1))
    first = asyncio.create_task(committer.acommit())
    assert await asyncio.to_thread(store.started.wait, 30)  # in a thread: the loop runs on
    committer.mark(at(2))
    second = asyncio.create_task(committer.acommit())
    store.go_on.set()
    await asyncio.gather(first, second)
    assert store.order == [at(1), at(2)]
    assert store.load() == at(2)


async def test_acommit_failure_leaves_it_unsaved() -> None:
    class Broken(MemoryCheckpoint):
        def save(self, position: Position) -> None:
            raise CheckpointError("read-only file system")

    committer = Committer(Broken(), clock=FakeClock())
    committer.mark(at(1))
    with pytest.raises(CheckpointError):
        await committer.acommit()
    assert committer.unsaved


@pytest.mark.parametrize("interval", [-1, "1", True, float("nan"), 10**400])
def test_bad_intervals(interval: object) -> None:
    with pytest.raises(InvalidInputError, match="interval"):
        Committer(MemoryCheckpoint(), interval=interval)  # type: ignore[arg-type]


async def test_a_background_save_lets_the_caller_go_on_and_reports_a_failure_later() -> None:
    store = MemoryCheckpoint()
    committer = Committer(store, interval=0.0, clock=FakeClock())
    committer.mark(at(1))
    committer.background()  # started, not awaited
    assert committer.saving
    committer.mark(at(2))
    committer.background()  # the first is still running: left to finish
    await committer.acommit()  # waits for it, then saves the newest
    assert store.load() == at(2)

    class Broken(MemoryCheckpoint):
        def save(self, position: Position) -> None:
            raise OSError("read-only file system")

    failing = Committer(Broken(), interval=0.0, clock=FakeClock())
    failing.mark(at(3))
    failing.background()
    await wait_until(lambda: not failing.saving, "the background save ends")
    with pytest.raises(CheckpointError, match="read-only"):
        failing.background()
    assert failing.unsaved  # kept for the next save


async def test_a_save_due_while_one_runs_is_made_once_that_one_returns() -> None:
    """At most one save in flight; the newest position marked meanwhile is saved as soon as
    the store answers, with no further event nor exit to trigger it."""

    class Slow(MemoryCheckpoint):
        def __init__(self) -> None:
            super().__init__()
            self.started = threading.Event()
            self.go_on = threading.Event()

        def save(self, position: Position) -> None:
            self.started.set()
            assert self.go_on.wait(30)
            super().save(position)

    store = Slow()
    clock = FakeClock()
    committer = Committer(store, interval=1.0, clock=clock)
    committer.mark(at(1))
    committer.background()
    assert await asyncio.to_thread(store.started.wait, 30)
    clock.now += 1.0
    assert committer.mark(at(2))  # due, but the first still runs
    committer.background()
    assert not committer.mark(at(3))  # the next check is one interval on: no call per event
    store.go_on.set()
    await wait_until(lambda: store.load() == at(3), "the newest position is saved")
    await wait_until(lambda: not committer.saving, "the background saves end")
    assert store.saves == 2
