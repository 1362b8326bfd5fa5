"""An event session's checkpoint: its store, when the position is saved, and who closes it.

:class:`~xprotect_events.sessions.EventSession` holds one when made with ``checkpoint=…``:
:meth:`SessionCheckpoint.resume` puts the stored position into the session's cursor on
entry, the session marks each processed position on :attr:`SessionCheckpoint.committer`
(which says when a save is due), and :meth:`SessionCheckpoint.finish` saves and releases
the store on exit. Loads and saves run in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio

from .checkpoints import CheckpointStore, Committer, load_from
from .cursor import Cursor
from .errors import CheckpointError
from .options import SessionSpec
from .positions import SessionPosition


class SessionCheckpoint:
    """The store, whether the session made it (from a path: it closes it), the committer."""

    def __init__(self, store: CheckpointStore, *, owned: bool, interval: float) -> None:
        self.store = store
        self.owned = owned
        self.committer = Committer(store, interval=interval)

    @classmethod
    def of(cls, spec: SessionSpec) -> SessionCheckpoint | None:
        """The checkpoint ``spec`` asks for (``checkpoint=…``), or None."""
        if spec.checkpoint is None:
            return None
        return cls(spec.checkpoint, owned=spec.owns_checkpoint, interval=spec.checkpoint_interval)

    def __repr__(self) -> str:
        return f"<SessionCheckpoint {self.store!r} saves={self.committer.saves}>"

    async def resume(self, cursor: Cursor) -> None:
        """Start ``cursor`` from the stored position, if there is one."""
        stored = await asyncio.to_thread(load_from, self.store)
        if stored is not None:
            cursor.resume(SessionPosition.expect(stored))

    async def finish(self) -> CheckpointError | None:
        """Save what was marked; the error of a failed save (the caller decides to raise)."""
        try:
            await self.committer.acommit()
        except CheckpointError as exc:
            return exc
        return None

    def close(self) -> None:
        """Release a store the session made from a path (its lock)."""
        close = getattr(self.store, "close", None) if self.owned else None
        if callable(close):
            close()
