"""An event session's checkpoint: its store, when the position is saved, and who closes it.

:class:`~xprotect_events.sessions.EventSession` holds one when made with ``checkpoint=…``:
:meth:`SessionCheckpoint.resume` puts the stored position into the session's cursor on
entry, the session marks each processed position on :attr:`SessionCheckpoint.committer`
(which says when a save is due: then it saves in the background, the consumer going on),
and :meth:`SessionCheckpoint.finish` saves and releases the store on exit. Loads and saves
run in a thread of their own, never on the event loop (:mod:`.committer`).

The load on entry, ``await session.commit()`` and the save on exit are each waited for at
most ``timeout`` seconds (the session's ``close_timeout``): a store that never returns (a
hung disk, a store waiting on a dead database) is then a :class:`CheckpointError` saying
so; on exit, the exit goes on (the server's session is deleted). A save so cut short goes
on in its thread, and the newest position is saved once it returns (also after the exit,
while the program runs); the store stays claimed (a file the session opened, locked) until
then, so no other stream writes it meanwhile. A periodic save that hangs stalls no
delivery; it is logged at WARNING once it has not returned within ``timeout``.

Each saved position records its origin, the server and a digest of the session's filters:
one of another server or other filters is refused on entry (:mod:`.origins`).
"""

from __future__ import annotations

from yarl import URL

from .checkpoints import CheckpointStore, load_from, save_to
from .claims import Claim
from .committer import Committer, load_within
from .cursor import Cursor
from .errors import CheckpointError
from .options import SessionSpec
from .origins import Origin
from .positions import Position, SessionPosition


class SessionCheckpoint:
    """The store, whether the session made it (from a path: it closes it), the committer."""

    def __init__(
        self,
        store: CheckpointStore,
        *,
        owned: bool,
        interval: float,
        timeout: float,
        origin: Origin | None = None,
    ) -> None:
        self.store = store
        self.owned = owned
        self.timeout = timeout
        self.origin = origin
        saved = store if origin is None else _Stamping(store, origin)
        self.committer = Committer(saved, interval=interval, timeout=timeout)
        #: The session's hold on the store object (one stream at a time: :mod:`.claims`).
        self.claim = Claim(store)

    @classmethod
    def of(cls, spec: SessionSpec, server: URL) -> SessionCheckpoint | None:
        """The checkpoint ``spec`` asks for (``checkpoint=…``) of a session of ``server``,
        or None."""
        if spec.checkpoint is None:
            return None
        return cls(
            spec.checkpoint,
            owned=spec.owns_checkpoint,
            interval=spec.checkpoint_interval,
            timeout=spec.close_timeout,
            origin=Origin.of(server, [f.to_wire() for f in spec.filters], spec.checkpoint_mismatch),
        )

    def __repr__(self) -> str:
        return f"<SessionCheckpoint {self.store!r} saves={self.committer.saves}>"

    async def resume(self, cursor: Cursor) -> None:
        """Claim the store, and start ``cursor`` from the stored position, if there is one."""
        self.claim.take()
        stored = await load_within(self.store, self.timeout)
        if stored is None:
            return
        position = SessionPosition.expect(stored)
        if self.origin is not None:
            path = getattr(self.store, "path", None)
            self.origin.check(position, None if path is None else str(path))
        cursor.resume(position)

    async def finish(self) -> CheckpointError | None:
        """Save what was marked, waiting at most ``timeout`` s; the error of a failed or
        unfinished save (the caller decides to raise)."""
        try:
            await self.committer.acommit()
        except CheckpointError as exc:
            return exc
        return None

    def close(self) -> None:
        """Once no save runs: release a store the session made from a path (its lock), and
        give the store object back (another stream may use it)."""
        self.committer.when_idle(self._release)

    def _release(self) -> None:
        close = getattr(self.store, "close", None) if self.owned else None
        if callable(close):
            close()
        self.claim.give_back()


class _Stamping:
    """The session's store, each position saved with the session's origin."""

    def __init__(self, store: CheckpointStore, origin: Origin) -> None:
        self.store = store
        self.origin = origin
        self.path = getattr(store, "path", None)  # (for errors)

    def load(self) -> Position | None:
        return load_from(self.store)

    def save(self, position: Position) -> None:
        save_to(self.store, self.origin.stamp(position))
