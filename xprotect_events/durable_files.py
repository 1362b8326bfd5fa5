"""Durable files: an advisory lock beside a file, and writes that survive a crash or a
power cut (write, fsync, rename, fsync the directory). What :mod:`.checkpoints` and
:mod:`.journal` build on; blocking calls, run off the event loop by their callers.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from pathlib import Path

from .errors import CheckpointError

if sys.platform == "win32":  # pragma: no cover - locks need POSIX flock
    fcntl = None
else:
    import fcntl


class FileLock:
    """An exclusive advisory lock (``flock``) on ``path``, held until :meth:`release`.

    ``owner`` names, in the error, what the lock guards (the checkpoint or journal file),
    ``user`` who holds it (``stream``). With ``remove``, :meth:`release` removes the lock
    file (it leaves nothing behind): a lock is then held only on the file at ``path``
    (one taken on a file its holder removed meanwhile is taken again on the new one).
    """

    def __init__(
        self, path: Path, owner: Path, *, user: str = "stream", remove: bool = False
    ) -> None:
        self.path = path
        self.owner = owner
        self.user = user
        self.remove = remove
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock now; :class:`CheckpointError` if another opener holds it."""
        if self._fd is not None:
            return
        if fcntl is None:  # pragma: no cover
            raise CheckpointError("file locks need a POSIX system", path=str(self.owner))
        for _ in range(100):
            fd = self._locked()
            if not self.remove or _is_at(fd, self.path):
                break
            os.close(fd)  # its holder removed it before we had it: lock the new one
        else:
            raise CheckpointError(f"cannot lock {self.path}: it keeps being replaced")
        os.ftruncate(fd, 0)  # _open made sure it is our own lock file
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def _locked(self) -> int:
        """The lock file, open and locked; :class:`CheckpointError` if another holds it."""
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_pid(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise CheckpointError(f"cannot lock {self.path}: {why(exc)}") from None
            raise CheckpointError(
                f"in use by another {self.user}{holder} (the lock {self.path} is held): one "
                f"file serves one {self.user} at a time",
                path=str(self.owner),
            ) from None
        return fd

    def _open(self) -> int:
        """Open the lock file, never following a symlink nor taking a file that is not a
        lock file (a user's data, a hard link, a FIFO): those are refused, left untouched."""
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags, 0o666)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise CheckpointError(f"the lock {self.path} is a symlink: not used") from None
            raise CheckpointError(f"cannot open the lock {self.path}: {why(exc)}") from None
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode) and info.st_nlink == 1 and _is_pid(fd, info.st_size):
            return fd
        os.close(fd)
        raise CheckpointError(
            f"the lock {self.path} is not a lock file (a regular file holding a process "
            "id): not used, left as it is"
        )

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if self.remove and _is_at(fd, self.path):  # removed while held: never another's
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        os.close(fd)  # closing the descriptor releases the flock


def write_durably(path: Path, data: bytes, like: os.stat_result | None = None) -> None:
    """Write ``data`` to a new file ``path`` (removing what was there) and fsync it before
    returning. The file is new, never one reached through a link (a symlink or a hard link
    put at ``path`` is replaced, its target untouched), of mode 0o600 whatever the umask,
    or with the permission bits of ``like`` (the file it is to replace), and its owner and
    group where this process may (root may; others keep the group when they belong to it).
    """
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, 0o600)
    try:
        if like is not None:
            _take_mode_and_owner(fd, like)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _take_mode_and_owner(fd: int, like: os.stat_result) -> None:
    for uid, gid in ((like.st_uid, like.st_gid), (-1, like.st_gid)):
        try:
            os.fchown(fd, uid, gid)
            break
        except PermissionError:
            continue
    os.fchmod(fd, stat.S_IMODE(like.st_mode) & 0o777)  # after chown, which may clear bits


def regular_file_status(path: Path) -> os.stat_result | None:
    """``path``'s status (following a symlink), None if there is nothing there; OSError if
    it is not a regular file (a directory, a FIFO, a device: never to be replaced)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise OSError(errno.EINVAL, "not a regular file")
    return info


def sync_directory(directory: Path) -> None:
    """fsync a directory, so that a rename or a new file in it survives a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems cannot fsync a directory
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def _is_at(fd: int, path: Path) -> bool:
    """Whether ``fd`` is open on the file at ``path`` (not one removed or replaced)."""
    try:
        there = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    here = os.fstat(fd)
    return (there.st_dev, there.st_ino) == (here.st_dev, here.st_ino)


def _is_pid(fd: int, size: int) -> bool:
    """Whether the file holds nothing or a process id and a line end, as a lock file does."""
    text = os.pread(fd, 32, 0) if 0 < size <= 32 else b""
    return size == 0 or (text.endswith(b"\n") and text[:-1].isdigit())


def _read_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return f" (process {text})" if text.isdigit() else ""


def why(exc: OSError) -> str:
    """What went wrong, for a message: the system's words for ``exc``."""
    return exc.strerror or str(exc)
