"""An event session's checkpoint: its store, when the position is saved, and who closes it.

:class:`~xprotect_events.sessions.EventSession` holds one when made with ``checkpoint=…``:
:meth:`SessionCheckpoint.resume` puts the stored position into the session's cursor on
entry, the session marks each processed position on :attr:`SessionCheckpoint.committer`
(which says when a save is due), and :meth:`SessionCheckpoint.finish` saves and releases
the store on exit. Loads and saves run in a thread of their own, never on the event loop.

The save on exit is waited for at most ``timeout`` seconds (the session's ``close_timeout``):
a save that never returns (a hung disk, a store waiting on a dead database) is then a
:class:`CheckpointError` saying so, and the exit goes on (the server's session is deleted).
The save goes on in its thread; a store the session made from a path stays locked until it
ends, so no other stream writes the file meanwhile.

Each saved position records its :class:`Origin`: the server's URL (``server``: scheme, host,
port and path, never a credential) and a digest of the session's filters (``filters``: the
same filters in any order, and the values of a ``oneOf`` in any order, are the same). A
stored position of another server, or of other filters, is a :class:`CheckpointError` on
entry, before anything is sent: resuming from it would ask that server (or those filters)
only for events after a time that belongs to another stream, and skip the rest for good.
``checkpoint_mismatch="resume"`` resumes from it all the same (a server renamed, a filter
knowingly changed); the next save records the new origin. A position saved without them (by
an earlier version, or made by hand) is resumed from, as before.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

import attrs
import orjson
from yarl import URL

from .checkpoints import CheckpointStore, Committer, load_from, save_to
from .claims import Claim
from .cursor import Cursor
from .errors import CheckpointError, shown
from .filters import SessionFilter
from .options import Mismatch, SessionSpec
from .positions import Position, SessionPosition
from .threads import in_thread


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
        self.committer = Committer(saved, interval=interval)
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
            origin=Origin.of(server, spec.filters, spec.checkpoint_mismatch),
        )

    def __repr__(self) -> str:
        return f"<SessionCheckpoint {self.store!r} saves={self.committer.saves}>"

    async def resume(self, cursor: Cursor) -> None:
        """Claim the store, and start ``cursor`` from the stored position, if there is one."""
        self.claim.take()
        stored = await in_thread(load_from, self.store)
        if stored is None:
            return
        position = SessionPosition.expect(stored)
        if self.origin is not None:
            try:
                self.origin.check(position)
            except CheckpointError as exc:
                path = getattr(self.store, "path", None)
                raise CheckpointError(str(exc), path=None if path is None else str(path)) from None
        cursor.resume(position)

    async def finish(self) -> CheckpointError | None:
        """Save what was marked, waiting at most ``timeout`` s; the error of a failed or
        unfinished save (the caller decides to raise)."""
        try:
            async with asyncio.timeout(self.timeout):
                await self.committer.acommit()
        except CheckpointError as exc:
            return exc
        except TimeoutError:
            path = getattr(self.store, "path", None) if self.owned else None
            return CheckpointError(
                f"the checkpoint store's save() did not return within {self.timeout:g} s "
                "(close_timeout): the position is not saved (the save goes on in its thread)",
                path=None if path is None else str(path),
            )
        return None

    def close(self) -> None:
        """Once no save runs: release a store the session made from a path (its lock), and
        give the store object back (another stream may use it)."""
        running = self.committer.running
        if running is None:
            self._release()
        else:
            running.add_done_callback(lambda _: self._release())

    def _release(self) -> None:
        close = getattr(self.store, "close", None) if self.owned else None
        if callable(close):
            close()
        self.claim.give_back()


@attrs.frozen
class Origin:
    """What a session's positions are made for: its server and filters (module docstring)."""

    server: str
    filters: str
    mismatch: Mismatch = "refuse"

    @classmethod
    def of(cls, url: URL, filters: Sequence[SessionFilter], mismatch: Mismatch) -> Origin:
        return cls(str(url.origin()) + url.path.rstrip("/"), filters_digest(filters), mismatch)

    def stamp(self, position: Position) -> SessionPosition:
        session = SessionPosition.expect(position)
        return attrs.evolve(session, server=self.server, filters=self.filters)

    def check(self, position: SessionPosition) -> None:
        """:class:`CheckpointError` if ``position`` was made for another server or other
        filters (unless told to resume all the same); one that does not say is accepted."""
        if self.mismatch == "resume":
            return
        if position.server not in (None, self.server):
            made = f"another server ({shown(position.server)}; this session's is {self.server})"
        elif position.filters not in (None, self.filters):
            made = f"other filters ({shown(position.filters)}; this session's are {self.filters})"
        else:
            return
        raise CheckpointError(
            f"the stored position was saved by a session of {made}: resuming from it would "
            "skip this session's events before its time; start without this checkpoint "
            "(delete it, or give another), or pass checkpoint_mismatch='resume' to resume "
            "from it all the same"
        )


def filters_digest(filters: Sequence[SessionFilter]) -> str:
    """A digest of a session's filters, in any order (and a ``oneOf``'s values in any order)."""
    parts = sorted(
        orjson.dumps(_unordered(f.to_wire()), option=orjson.OPT_SORT_KEYS) for f in filters
    )
    return hashlib.sha256(b"\n".join(parts)).hexdigest()[:16]


def _unordered(wire: dict[str, Any]) -> dict[str, Any]:
    value = wire["value"]
    return {**wire, "value": sorted(value)} if isinstance(value, list) else wire


class _Stamping:
    """The session's store, each position saved with the session's origin."""

    def __init__(self, store: CheckpointStore, origin: Origin) -> None:
        self.store = store
        self.origin = origin

    def load(self) -> Position | None:
        return load_from(self.store)

    def save(self, position: Position) -> None:
        save_to(self.store, self.origin.stamp(position))
