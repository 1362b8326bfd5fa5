"""Checkpoint stores: where a stream keeps its position between runs, and when it saves.

A store is anything with ``load() -> Position | None`` and ``save(position)``
(:class:`CheckpointStore`). Both are plain (blocking) calls: a file or a local database is
easiest written that way. A stream never calls them on the event loop's thread: it runs
each in a thread of its own (:func:`~.threads.in_thread`), one save at a
time, so an fsync never stalls other tasks. A save whose caller was cancelled goes on in its
thread, and the next save waits for it (two never overlap). The thread is a daemon one: a
save that never returns does not hold up the end of ``asyncio.run()``; at exit it is cut
off as a crash would cut it (a :class:`FileCheckpoint` keeps the old position or the new).
A store that must talk to an async database can take the position in ``save`` and hand it
to its own loop; a ``save`` that returns a coroutine is a :class:`CheckpointError`.

:class:`FileCheckpoint` is the default store (``checkpoint="state.json"``). It writes
atomically: the new position goes to ``<path>.tmp``, which is flushed and fsynced, renamed over
``<path>``, and the directory is fsynced. A crash at any point leaves either the old checkpoint
or the new one, never a mix; a temp file left by a crash is ignored by
:meth:`~FileCheckpoint.load` and removed when the next stream opens the checkpoint. The temp
file is always made anew (a link put in its place is replaced, never written through). A new
checkpoint file is private, mode 0o600 whatever the umask (a live position names the
server's session); each save keeps the permission bits of the file it replaces (a ``chmod``
of the user's stays), and its owner and group where the process may change them. Two live
streams never share one file: the first load or save takes an advisory lock (``flock``) on
``<path>.lock``, held until :meth:`~FileCheckpoint.close`; a second opener, in this process or
another, gets a :class:`CheckpointError` naming the file and the process that holds it; and
one store object (of any kind) given to two streams at once is refused to the second, before
it sends anything (:mod:`.claims`). A
symlinked ``<path>`` stands for the file it names (locked and replaced; the link stays). The
lock file stays on disk (removing it would let two openers lock two different files). A
``<path>`` that is not a regular file (a directory, a FIFO, a device) is a
:class:`CheckpointError` when loaded, at once, and never replaced by a save.

:class:`~.committer.Committer` decides when a stream saves (:mod:`.committer`).
"""

from __future__ import annotations

import contextlib
import errno
import inspect
import os
import stat
from pathlib import Path
from types import TracebackType
from typing import Protocol

from .durable_files import FileLock, regular_file_status, sync_directory, why, write_durably
from .errors import CheckpointError, InvalidInputError, XProtectError, shown
from .positions import Position

#: A checkpoint file larger than this is not one this library wrote.
MAX_CHECKPOINT_BYTES = 4 * 1024 * 1024


class CheckpointStore(Protocol):
    """Where a stream keeps its position. Both calls block; streams run them in a thread."""

    def load(self) -> Position | None:
        """The saved position, or None when nothing was saved yet."""

    def save(self, position: Position) -> None:
        """Keep ``position`` (replacing the one before); return once it is durable."""


class MemoryCheckpoint:
    """A store in memory, for tests and for consumers that keep positions themselves.

    It keeps the JSON text, as a file would, so what it holds round-trips the format.
    """

    def __init__(self, position: Position | None = None) -> None:
        self.text: str | None = None if position is None else position.to_json()
        #: How many times :meth:`save` was called.
        self.saves = 0

    def __repr__(self) -> str:
        return f"<MemoryCheckpoint saves={self.saves}>"

    def load(self) -> Position | None:
        """The position saved last (as its JSON round trip), or None before any save."""
        return None if self.text is None else Position.from_json(self.text)

    def save(self, position: Position) -> None:
        """Keep ``position`` (as its JSON text, as a file would)."""
        if not isinstance(position, Position):
            raise InvalidInputError(f"a checkpoint keeps a position, got {shown(position)}")
        self.text = position.to_json()
        self.saves += 1


class FileCheckpoint:
    """The default store: one JSON file, written atomically, locked while in use.

    ``with FileCheckpoint("state.json") as store:`` or call :meth:`close` when the stream
    ends. See the module docstring for what it guarantees.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, str | os.PathLike) or not str(path):
            raise InvalidInputError(f"a checkpoint path must be a file path, got {shown(path)}")
        try:
            real = self._real = Path(os.path.realpath(path))  # a symlink: the file it names
        except ValueError:  # a NUL byte
            raise InvalidInputError(
                f"a checkpoint path must be a file path, got {shown(path)}"
            ) from None
        self.path = Path(path)
        self.temp = real.with_name(real.name + ".tmp")
        self._lock = FileLock(real.with_name(real.name + ".lock"), self.path)

    def __repr__(self) -> str:
        return f"<FileCheckpoint {str(self.path)!r} locked={self._lock.held}>"

    def __enter__(self) -> FileCheckpoint:
        self.lock()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def lock(self) -> None:
        """Take the lock (the first load or save does it too) and remove a crash's temp file."""
        if self._lock.held:
            return
        self._lock.acquire()
        try:
            self.temp.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:  # a directory, or a place we may not write: never ours
            self._lock.release()
            raise CheckpointError(
                f"cannot remove the temp file {self.temp}: {why(exc)}", path=str(self.path)
            ) from None

    def close(self) -> None:
        """Release the lock: another stream may use the file from now on."""
        self._lock.release()

    def load(self) -> Position | None:
        """The saved position, None if there is no file. :class:`CheckpointError` if the
        file cannot be read or does not hold a position this version reads."""
        self.lock()
        try:
            data = _read_regular(self._real, MAX_CHECKPOINT_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CheckpointError(
                f"cannot read the checkpoint: {why(exc)}", path=str(self.path)
            ) from None
        if len(data) > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(
                f"larger than {MAX_CHECKPOINT_BYTES} bytes: not a checkpoint", path=str(self.path)
            )
        try:
            return Position.from_json(data)
        except CheckpointError as exc:
            raise CheckpointError(str(exc), path=str(self.path)) from None

    def save(self, position: Position) -> None:
        """Replace the saved position atomically; return once it is on disk."""
        if not isinstance(position, Position):
            raise InvalidInputError(f"save takes a stream position, got {shown(position)}")
        self.lock()
        data = position.to_json().encode() + b"\n"
        try:
            write_durably(self.temp, data, regular_file_status(self._real))
            os.replace(self.temp, self._real)
            sync_directory(self._real.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                self.temp.unlink()
            raise CheckpointError(
                f"cannot save the checkpoint: {why(exc)}", path=str(self.path)
            ) from None


def _read_regular(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of the regular file ``path``; OSError for anything else (a
    FIFO or a device would block the read, or never end)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens at once, unread
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        return f.read(limit)


def save_to(store: CheckpointStore, position: Position) -> None:
    """``store.save(position)``; what a store of the user's raises becomes a
    :class:`CheckpointError` (a library error), with the original as its cause."""
    try:
        result: object = store.save(position)  # type: ignore[func-returns-value]
    except XProtectError:
        raise
    except Exception as exc:
        raise CheckpointError(f"the checkpoint store could not save: {exc!r}") from exc
    if inspect.isawaitable(result):
        _discard(result)
        raise CheckpointError(
            "the checkpoint store's save() returned a coroutine, which a plain call never "
            "runs: nothing was saved (save() must block until the position is kept)"
        )


def _discard(awaitable: object) -> None:
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()  # a coroutine never awaited: no warning


def store_of(value: object) -> tuple[CheckpointStore, FileCheckpoint | None]:
    """The store a ``checkpoint=`` argument names (a path: a :class:`FileCheckpoint` of the
    stream's own, also returned; else a store with ``load()`` and ``save()``)."""
    if isinstance(value, str | os.PathLike):
        owned = FileCheckpoint(value)
        return owned, owned
    load, save = getattr(value, "load", None), getattr(value, "save", None)
    if inspect.iscoroutinefunction(load) or inspect.iscoroutinefunction(save):
        raise InvalidInputError(
            "a checkpoint store's load() and save() must be plain (blocking) functions, "
            "not coroutine functions: the stream calls them in a worker thread (for an "
            "async database, take the position in save() and hand it to your own loop)"
        )
    if callable(load) and callable(save):
        return value, None  # type: ignore[return-value]  # duck-typed CheckpointStore
    raise InvalidInputError(
        f"checkpoint must be a file path or a store with load() and save(), got {shown(value)}"
    )


def load_from(store: CheckpointStore) -> Position | None:
    """``store.load()``, its errors made library errors as :func:`save_to` does."""
    try:
        position = store.load()
        if inspect.isawaitable(position):
            _discard(position)
    except XProtectError:
        raise
    except Exception as exc:
        raise CheckpointError(f"the checkpoint store could not load: {exc!r}") from exc
    if position is not None and not isinstance(position, Position):
        raise CheckpointError(f"the checkpoint store loaded {shown(position)}, not a position")
    return position
