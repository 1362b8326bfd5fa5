"""A live stream's checkpoint: where ``client.subscribe(checkpoint=…)`` keeps its position.

The position is a :class:`~xprotect_events.positions.LivePosition`: the server's session id
and the id and time of the last event the consumer *processed* (before there is one: the
time the stream went live, saved as soon as it is). An event counts as processed
when the consumer asks for the next one, leaves ``async with`` normally, or calls ``await
live.commit()``. Saves are batched by a :class:`~xprotect_events.committer.Committer` (at
most one every ``checkpoint_interval`` seconds, and on every exit) and run in a worker
thread, so an fsync never stalls the event loop.

The periodic saves (and the one when a session goes live) run in the background, at most
one at a time: the consumer never waits for the store, and a store that hangs stalls no
delivery (it is logged at WARNING once a save has not returned within ``close_timeout``;
the newest position is saved when it answers again). A periodic save that failed is
raised as a :class:`CheckpointError` where the consumer next asks for an event after a
save fell due (the stream goes on if the consumer iterates again). The load on entry,
``await live.commit()`` and the save on exit each wait at most ``close_timeout`` seconds
(5.0 s), then raise :class:`CheckpointError` (on exit: the socket is closed all the same);
a save so cut short goes on in its thread, the newest position is saved once it returns
(also after the exit, while the program runs), and the store stays claimed until then: a
stream that restarts from it meanwhile is refused, one that restarts after it resumes
after the last event processed (:mod:`.committer`).

Each position records the server and a digest of the stream's rules (those given to
``subscribe``): one of another server or other rules is refused on entry, before anything
is sent (resuming its server session would deliver what its rules select), unless
``checkpoint_mismatch="resume"``: then a new session is filled from the position's time
(:mod:`.origins`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from datetime import datetime

from yarl import URL

from .checkpoints import CheckpointStore, store_of
from .checks import seconds
from .claims import Claim
from .committer import Committer, load_within
from .errors import CheckpointError
from .models import Event
from .origins import Origin, mismatch
from .positions import LivePosition, Position
from .threads import retrieve
from .ws_wire import Rule, rule_to_wire

#: What ``checkpoint=`` takes: a file path (a :class:`FileCheckpoint`) or a store.
CheckpointLike = str | os.PathLike[str] | CheckpointStore


def live_checkpoint(
    checkpoint: CheckpointLike | None,
    interval: float,
    choice: object,
    server: URL,
    rules: Iterable[Rule],
    timeout: float,
) -> LiveCheckpoint | None:
    """The checkpoint ``subscribe(checkpoint=…)`` asks for, or None; ``choice``: its
    ``checkpoint_mismatch``, checked even without a checkpoint, as ``timeout`` (its
    ``close_timeout``) is."""
    origin = Origin.of(server, map(rule_to_wire, rules), mismatch(choice))
    timeout = seconds("close_timeout", timeout)
    return None if checkpoint is None else LiveCheckpoint(checkpoint, interval, origin, timeout)


class LiveCheckpoint:
    """The stream's side of a checkpoint: load, mark processed events, save, close."""

    def __init__(
        self,
        checkpoint: CheckpointLike,
        interval: float,
        origin: Origin | None = None,
        timeout: float = 5.0,
    ) -> None:
        store, self._owned = store_of(checkpoint)
        self._origin = origin
        #: Whether the loaded position's server session may be resumed (False: it was made
        #: for another server or other rules, and ``checkpoint_mismatch="resume"`` said to
        #: go on from its time, in a new session).
        self.resumable = True
        self._timeout = timeout
        self._committer = Committer(store, interval=interval, timeout=timeout)  # checks both
        self._claim = Claim(store)  # one stream at a time (:mod:`.claims`)
        self._session = ""
        self._event: Event | None = None
        self._live_since: datetime | None = None  # a session live, nothing processed yet
        self._build = self._position  # bound once: marking allocates nothing
        #: The event in the consumer's hands: processed once it asks for the next one.
        self.handed: Event | None = None

    @property
    def saves(self) -> int:
        return self._committer.saves

    async def load(self) -> LivePosition | None:
        """The stored position; :class:`CheckpointError` if the store fails or holds
        something else than a live stream's position, or if another stream holds it."""
        self._claim.take()
        stored: Position | None = await load_within(self._committer.store, self._timeout)
        if stored is None:
            return None
        path = str(self._owned.path) if self._owned is not None else None
        try:
            position = LivePosition.expect(stored)
        except CheckpointError as exc:
            raise CheckpointError(str(exc), path=path) from None
        if self._origin is not None:
            self.resumable = self._origin.check(position, path)
        return position

    def settle(self, session_id: str | None) -> bool:
        """The event in hand (of ``session_id``) is processed; True when a save is due."""
        handed, self.handed = self.handed, None
        if handed is None or session_id is None:
            return False
        self._session, self._event = session_id, handed
        return self._committer.mark(self._build)

    def started(self, session_id: str, since: datetime) -> bool:
        """A new session went live ``since`` then: until an event is processed, that is
        the position (a restart resumes it, or fills from the store since then). True
        when it was marked (then save it: a crash must not lose it)."""
        if self._event is not None:
            return False
        self._session, self._live_since = session_id, since
        self._committer.mark(self._build)
        return True

    def _position(self) -> LivePosition:
        origin = self._origin
        server, filters = (None, None) if origin is None else (origin.server, origin.filters)
        if self._event is None:
            assert self._live_since is not None
            event_id, time = None, self._live_since
        else:
            event_id, time = self._event.id, self._event.time
        return LivePosition(
            session_id=self._session, event_id=event_id, time=time, server=server, filters=filters
        )

    def save_soon(self, *, quiet: bool = False) -> None:
        """Save the newest processed position in the background (the caller goes on). A
        failed save is raised here, but not when ``quiet`` (the connection loop): then it
        waits for the consumer's next item."""
        self._committer.background(quiet=quiet)

    async def commit(self) -> None:
        """Save the newest processed position now (in a worker thread), waiting at most
        ``close_timeout`` s (then :class:`CheckpointError`)."""
        await self._committer.acommit()

    async def finish(self) -> None:
        """On the stream's exit: save (bounded, even if cancelled meanwhile), then release
        the store once no save runs (a save cut short: once it ends)."""
        save = asyncio.ensure_future(self.commit())
        try:
            await asyncio.shield(save)
        finally:
            if save.done():
                self._committer.when_idle(self._release)
            else:  # cancelled: released once the (bounded) save and any it left end
                save.add_done_callback(retrieve)
                save.add_done_callback(lambda _: self._committer.when_idle(self._release))

    def _release(self) -> None:
        if self._owned is not None:
            self._owned.close()
        self._claim.give_back()
