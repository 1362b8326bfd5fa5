"""What a checkpoint file keeps across saves: its mode and owner (a save replaces the file
by renaming a new one over it), and nothing outside it (a link planted at the temp path)."""

from __future__ import annotations

import os
import stat
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from xprotect_events.checkpoints import FileCheckpoint
from xprotect_events.errors import CheckpointError
from xprotect_events.positions import LivePosition

T = datetime(2024, 5, 1, tzinfo=UTC)
AT = LivePosition(session_id="s", event_id=uuid.UUID(int=1), time=T)
LATER = LivePosition(session_id="s", event_id=uuid.UUID(int=2), time=T.replace(day=2))
PRECIOUS = b"a user's data\n"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_checkpoint_file_is_private(tmp_path: Path) -> None:
    old = os.umask(0)  # the most permissive umask: still not readable nor writable by others
    try:
        with FileCheckpoint(tmp_path / "state.json") as store:
            store.save(AT)
    finally:
        os.umask(old)
    assert mode(tmp_path / "state.json") == 0o600


@pytest.mark.parametrize("chosen", [0o640, 0o644, 0o400])
def test_a_save_keeps_the_mode_the_user_gave_the_file(tmp_path: Path, chosen: int) -> None:
    path = tmp_path / "state.json"
    with FileCheckpoint(path) as store:
        store.save(AT)
        path.chmod(chosen)
        store.save(LATER)
        assert mode(path) == chosen
        assert store.load() == LATER


def test_a_save_through_a_symlink_keeps_the_target_s_mode(tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    target.write_text(AT.to_json())
    target.chmod(0o640)
    (tmp_path / "state.json").symlink_to(target.name)
    with FileCheckpoint(tmp_path / "state.json") as store:
        store.save(LATER)
    assert mode(target) == 0o640
    assert (tmp_path / "state.json").is_symlink()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root")
def test_a_save_keeps_the_owner_and_group_where_allowed(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(AT.to_json())
    os.chown(path, 4321, 4322)
    with FileCheckpoint(path) as store:
        store.save(LATER)
    info = path.stat()
    assert (info.st_uid, info.st_gid) == (4321, 4322)


def test_a_save_goes_on_when_the_owner_may_not_be_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    path.write_text(AT.to_json())
    path.chmod(0o644)
    tried: list[tuple[int, int]] = []

    def not_allowed(fd: int, uid: int, gid: int) -> None:
        tried.append((uid, gid))
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchown", not_allowed)
    with FileCheckpoint(path) as store:
        store.save(LATER)  # not an error: without root the owner cannot be given away
        assert store.load() == LATER
    assert mode(path) == 0o644
    info = path.stat()
    assert tried == [(info.st_uid, info.st_gid), (-1, info.st_gid)]


def test_a_symlink_planted_at_the_temp_path_is_never_written_through(tmp_path: Path) -> None:
    """Whoever may write the directory could point ``state.json.tmp`` at a file of the
    user's between two saves: the save must neither truncate it nor put the link in place
    of the checkpoint."""
    precious = tmp_path / "precious.txt"
    precious.write_bytes(PRECIOUS)
    path = tmp_path / "state.json"
    with FileCheckpoint(path) as store:
        store.save(AT)
        store.temp.symlink_to(precious)
        store.save(LATER)
        assert store.load() == LATER
    assert precious.read_bytes() == PRECIOUS
    assert not path.is_symlink()


def test_a_directory_in_place_of_the_checkpoint_is_refused_on_save(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with FileCheckpoint(path) as store:
        path.mkdir()
        with pytest.raises(CheckpointError, match=r"state\.json: cannot save"):
            store.save(AT)
        assert not store.temp.exists()
        with pytest.raises(CheckpointError, match="cannot read the checkpoint: Is a dir"):
            store.load()


@pytest.mark.parametrize("through_a_link", [False, True])
def test_a_save_never_replaces_what_is_not_a_regular_file(
    tmp_path: Path, through_a_link: bool
) -> None:
    """A FIFO (or a device: ``/dev/null`` for root) at the path is refused on load; a save
    called directly used to rename the new file over it, destroying it."""
    fifo = tmp_path / "position.fifo"
    os.mkfifo(fifo)
    path = fifo
    if through_a_link:
        path = tmp_path / "state.json"
        path.symlink_to(fifo.name)
    with FileCheckpoint(path) as store:
        with pytest.raises(CheckpointError, match="cannot save the checkpoint: not a regular"):
            store.save(AT)
        assert not store.temp.exists()
    assert stat.S_ISFIFO(fifo.stat().st_mode)
