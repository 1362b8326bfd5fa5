"""One stream per checkpoint store object, in this process.

A store keeps one position: two streams saving to it at once overwrite each other's, and a
restart then resumes one stream from the other's place. A file's lock (``flock``, taken
per open file) keeps two :class:`~.checkpoints.FileCheckpoint` objects for one file apart,
but one object given to two streams holds its lock for both. So a stream claims its store
object (any store: a file, a :class:`~.checkpoints.MemoryCheckpoint`, one of the user's)
when it starts, before anything is sent, and gives it back when its last save has ended;
a second claim meanwhile is a :class:`~.errors.CheckpointError`.
"""

from __future__ import annotations

import threading

from .errors import CheckpointError

_lock = threading.Lock()  # streams may run on several event loops, in several threads
_held: dict[int, object] = {}  # id(store) → the store (kept alive: its id stays its own)


class Claim:
    """A stream's hold on its store object: :meth:`take` (again: nothing), :meth:`give_back`."""

    def __init__(self, store: object) -> None:
        self.store = store
        self.held = False

    def take(self) -> None:
        """Claim the store; :class:`CheckpointError` if another stream holds it."""
        if self.held:
            return
        with _lock:
            if id(self.store) in _held:
                path = getattr(self.store, "path", None)
                raise CheckpointError(
                    "the checkpoint store is in use by another stream in this process: one "
                    "store serves one stream at a time (give each stream its own file or store)",
                    path=None if path is None else str(path),
                )
            _held[id(self.store)] = self.store
        self.held = True

    def give_back(self) -> None:
        """Another stream may use the store from now on (nothing if not held)."""
        if self.held:
            with _lock:
                del _held[id(self.store)]
            self.held = False
