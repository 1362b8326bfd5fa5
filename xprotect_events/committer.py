"""When a stream saves its position: :class:`Committer`, shared by the event session and
the live stream.

The stream calls :meth:`~Committer.mark` with each position the consumer has processed
(cheap: no I/O, no clock but one call, and the position may be a function that builds it
only when a save happens); it says when ``interval`` seconds have passed since the last
save began. The stream then calls :meth:`~Committer.background`: the save runs in a task
(its ``store.save`` in a thread) and the consumer goes on at once, whatever the store does.

At most one save is in flight. A save that falls due while the last one still runs is not
started: the newest position stays marked, and is saved as soon as the running save
returns (two saves never overlap, and an older position never overwrites a newer one). A
save that has not returned within ``timeout`` seconds (a store on a network that hangs) is
logged once at WARNING; the stream goes on delivering meanwhile, and loses no position:
the newest one is saved when the store answers again. A failed background save (the store
raised) is raised as a :class:`CheckpointError` by the next :meth:`~Committer.background`
call (where the consumer asks for the next item), its position kept marked for the next
save.

:meth:`~Committer.acommit` saves at once and waits for it (on a stream's exit, and for
``await stream.commit()``), at most ``timeout`` seconds (the stream's ``close_timeout``):
then a :class:`CheckpointError` saying the save did not return, the position still marked,
and the save left in flight to end when the store answers (then the newest position is
saved, also after the stream's exit while the program runs). :meth:`~Committer.when_idle`
tells the stream when no save runs any more, so that it releases its store only then (no
other stream writes it meanwhile).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable

from .checkpoints import CheckpointStore, load_from, save_to
from .checks import seconds
from .errors import CheckpointError
from .positions import Position
from .threads import in_thread, retrieve

log = logging.getLogger("xprotect_events.checkpoints")

#: A position, or a function that builds it (called only when a save happens).
PositionSource = Position | Callable[[], Position]


class Committer:
    """Batches saves: :meth:`mark` on every event, a save at most every ``interval`` s.

    ``timeout`` (None: no bound) bounds :meth:`acommit`'s wait and says when a background
    save is reported as hung (see the module docstring). ``clock`` (default
    :func:`time.monotonic`) is injectable so tests need no sleeps. A stream uses it like
    this::

        if committer.mark(lambda: cursor.position()):  # the previous event is processed
            committer.background()  # the consumer goes on meanwhile
        ...
        await committer.acommit()  # on every exit, and for ``await stream.commit()``
        committer.when_idle(release_the_store)

    A failed save raises :class:`CheckpointError` and keeps the position unsaved, so the
    next save tries again.
    """

    def __init__(
        self,
        store: CheckpointStore,
        *,
        interval: float = 1.0,
        timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.interval = seconds("checkpoint_interval", interval, most=1e9, zero=True)
        self.timeout = None if timeout is None else seconds("timeout", timeout, most=1e9)
        self._clock = clock
        self._last_save = clock()
        self._latest: PositionSource | None = None
        self._unsaved = False
        self._again = False  # a save fell due while the background one ran
        self._saving: asyncio.Lock | None = None
        self._task: asyncio.Future[None] | None = None
        self._running: asyncio.Future[None] | None = None  # the save thread last started
        #: How many saves succeeded.
        self.saves = 0

    @property
    def unsaved(self) -> bool:
        """Whether a position was marked since the last save."""
        return self._unsaved

    def mark(self, position: PositionSource) -> bool:
        """Record the newest position (no I/O); True when a save is due."""
        self._latest = position
        self._unsaved = True
        return self._clock() - self._last_save >= self.interval

    def take(self) -> Position | None:
        """The position to save now (built, if it was given as a function), or None when
        nothing new was marked; the interval starts again from now."""
        if not self._unsaved or self._latest is None:
            return None
        latest = self._latest
        position = latest if isinstance(latest, Position) else latest()
        self._latest = position
        self._unsaved = False
        self._last_save = self._clock()
        return position

    def commit(self) -> None:
        """Save the newest marked position now, in this thread (it blocks)."""
        position = self.take()
        if position is None:
            return
        try:
            save_to(self.store, position)
        except BaseException:
            self._restore(position)
            raise
        self.saves += 1

    @property
    def running(self) -> asyncio.Future[None] | None:
        """The save still running in its thread (done when the thread ends), or None."""
        running = self._running
        return None if running is None or running.done() else running

    @property
    def saving(self) -> bool:
        """Whether a background save is running (or waits for the store to return)."""
        return self._task is not None and not self._task.done()

    def background(self, *, quiet: bool = False) -> None:
        """Start saving the newest marked position in a task and return at once. With a
        save in flight, none is started: the newest is saved once that one returns (the
        next due check is one interval on). A failed background save is raised by the next
        call, its position kept marked for the next save; a ``quiet`` call (not the
        consumer's: a stream's own loop) starts nothing then, and leaves the failure to be
        raised by the next call."""
        task = self._task
        if task is not None and not task.done():
            self._again = True
            self._last_save = self._clock()  # (the per-event check stays a compare)
            return
        self._task = None
        failed = task.exception() if task is not None and not task.cancelled() else None
        if failed is not None:
            if quiet:
                self._task = task  # (for the consumer's next call to raise)
                return
            raise failed
        self._task = asyncio.ensure_future(self._saves())

    async def _saves(self) -> None:
        """The background saves: one, and one more for each that fell due meanwhile."""
        self._again = True
        while self._again and self._unsaved:
            self._again = False
            save = asyncio.ensure_future(self._save_latest())
            done, _ = await asyncio.wait([save], timeout=self.timeout)
            if not done:
                log.warning(
                    "the checkpoint store's save() has not returned within %g s: the stream "
                    "goes on, and saves its newest position once the store answers",
                    self.timeout,
                )
            await save

    async def acommit(self) -> None:
        """Save the newest marked position now, in a worker thread, waiting at most
        ``timeout`` s (then :class:`CheckpointError`; the save stays in flight and saves
        the newest position once the store answers). Saves never overlap, and a later
        position is never overwritten by an earlier one."""
        try:
            async with asyncio.timeout(self.timeout):
                await self._commit_now()
        except TimeoutError:
            self.background()  # (the one before is detached: nothing to raise)
            raise CheckpointError(
                f"the checkpoint store's save() did not return within {self.timeout:g} s "
                "(close_timeout): the position is not saved yet; it is saved once the "
                "store's save returns (the save goes on in its thread)",
                path=_path_of(self.store),
            ) from None

    async def _commit_now(self) -> None:
        task, self._task = self._task, None
        if task is not None:  # a failed one restored its position: it is retried below
            task.add_done_callback(retrieve)  # (cut short: it goes on, unawaited)
            await asyncio.wait([task])
        await self._save_latest()

    def when_idle(self, then: Callable[[], None]) -> None:
        """Call ``then()`` once no save runs or waits (at once if none); a background save
        that failed after the stream stopped asking is logged at WARNING."""
        task = self._task
        pending = task if task is not None and not task.done() else self.running
        if pending is not None:
            pending.add_done_callback(lambda _: self.when_idle(then))
            return
        if task is not None and not task.cancelled() and (failed := task.exception()):
            self._task = None
            log.warning("the checkpoint store could not save the last position: %s", failed)
        then()

    async def _save_latest(self) -> None:
        if self._saving is None:
            self._saving = asyncio.Lock()
        async with self._saving:
            running = self.running  # one whose caller was cancelled: never two at once
            if running is not None:
                await asyncio.wait([running])
            position = self.take()
            if position is not None:
                await self._asave(position)

    async def _asave(self, position: Position) -> None:
        running = self._running = in_thread(save_to, self.store, position)
        try:
            await asyncio.shield(running)
        except BaseException:
            self._restore(position)
            running.add_done_callback(retrieve)  # cancelled: the thread goes on
            raise
        self.saves += 1

    def _restore(self, position: Position) -> None:
        """After a failed save: the position is unsaved again, unless a newer one came."""
        if not self._unsaved:
            self._latest = position
            self._unsaved = True


def _path_of(store: object) -> str | None:
    """The file a store writes, for an error (a :class:`FileCheckpoint`'s path), or None."""
    path = getattr(store, "path", None)
    return str(path) if isinstance(path, str | os.PathLike) else None


async def load_within(store: CheckpointStore, bound: float) -> Position | None:
    """``store.load()`` in a thread of its own, waited for at most ``bound`` s (then a
    :class:`CheckpointError`: a stream does not start from a store that does not answer)."""
    loading = in_thread(load_from, store)
    try:
        async with asyncio.timeout(bound):
            return await asyncio.shield(loading)
    except TimeoutError:
        loading.add_done_callback(retrieve)
        raise CheckpointError(
            f"the checkpoint store's load() did not return within {bound:g} s "
            "(close_timeout): the stream does not start",
            path=_path_of(store),
        ) from None
