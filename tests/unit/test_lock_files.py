"""The lock beside a checkpoint never destroys what a user keeps at its path."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from xprotect_events.checkpoints import FileCheckpoint
from xprotect_events.errors import CheckpointError
from xprotect_events.positions import LivePosition

AT = LivePosition(session_id="s", event_id=uuid.UUID(int=1), time=datetime(2024, 5, 1, tzinfo=UTC))
PRECIOUS = b"a user's data, not a lock\n" * 10


def test_a_symlink_at_the_lock_path_is_refused_and_its_target_kept(tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_bytes(PRECIOUS)
    (tmp_path / "state.json.lock").symlink_to(target)
    with pytest.raises(CheckpointError, match=r"state\.json\.lock"):
        FileCheckpoint(tmp_path / "state.json").save(AT)
    assert target.read_bytes() == PRECIOUS
    assert not (tmp_path / "state.json").exists()


def test_a_dangling_symlink_at_the_lock_path_creates_nothing(tmp_path: Path) -> None:
    (tmp_path / "state.json.lock").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(CheckpointError, match=r"state\.json\.lock"):
        FileCheckpoint(tmp_path / "state.json").lock()
    assert not (tmp_path / "elsewhere").exists()


def test_a_user_file_at_the_lock_path_is_not_truncated(tmp_path: Path) -> None:
    lock = tmp_path / "state.json.lock"
    lock.write_bytes(PRECIOUS)
    with pytest.raises(CheckpointError, match=r"state\.json\.lock"):
        FileCheckpoint(tmp_path / "state.json").lock()
    assert lock.read_bytes() == PRECIOUS


def test_a_hard_link_at_the_lock_path_is_not_truncated(tmp_path: Path) -> None:
    kept = tmp_path / "pid.txt"
    kept.write_bytes(b"123\n")
    os.link(kept, tmp_path / "state.json.lock")
    with pytest.raises(CheckpointError, match=r"state\.json\.lock"):
        FileCheckpoint(tmp_path / "state.json").lock()
    assert kept.read_bytes() == b"123\n"


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_lock_path_that_is_not_a_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    lock = tmp_path / "state.json.lock"
    lock.mkdir() if kind == "directory" else os.mkfifo(lock)
    with pytest.raises(CheckpointError, match=r"state\.json\.lock"):
        FileCheckpoint(tmp_path / "state.json").lock()


def test_a_lock_file_left_by_an_earlier_stream_is_reused(tmp_path: Path) -> None:
    lock = tmp_path / "state.json.lock"
    lock.write_bytes(b"999999\n")
    with FileCheckpoint(tmp_path / "state.json") as store:
        store.save(AT)
    assert lock.read_bytes() == f"{os.getpid()}\n".encode()
    with FileCheckpoint(tmp_path / "state.json") as store:  # and again, our own file
        assert store.load() == AT


def test_a_lock_that_removes_itself_leaves_nothing_and_is_taken_again(tmp_path: Path) -> None:
    from xprotect_events.durable_files import FileLock

    path, owner = tmp_path / "r.jsonl.lock", tmp_path / "r.jsonl"
    first, second = (FileLock(path, owner, user="run", remove=True) for _ in range(2))
    first.acquire()
    with pytest.raises(CheckpointError, match="in use by another run"):
        second.acquire()
    first.release()
    assert not path.exists()
    second.acquire()
    assert path.read_text() == f"{os.getpid()}\n"
    path.unlink()  # removed under its holder (by hand): its release removes nothing else
    path.write_bytes(b"")
    second.release()
    assert path.exists()
