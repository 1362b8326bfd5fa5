"""Chunked, concurrent triggering with a result for every trigger.

The input (a list, any iterable, or an async iterable of :class:`EventTrigger`) is read
lazily, each trigger encoded once, and cut into chunks of at most ``chunk_size`` triggers
(never more than ``profile.max_batch``) whose JSON array stays within
``profile.max_batch_bytes``. At most ``concurrency`` chunks are in flight, plus the one
being filled, so memory stays flat whatever the length of the input; an async input is read
in a task of its own, so chunks that finish while it waits are reported at once. A chunk
task never raises: it turns every outcome into a :class:`.report.ChunkReport` (a result for
every trigger, kept compactly; :class:`TriggerResult` objects are built when read), so one
failing chunk never hides which others landed. Cancelling the caller cancels and
awaits the chunks in flight.

What each trigger's ``status`` means is :mod:`.accounting`'s; chunking is
:mod:`.chunks`'.

A chunk is sent again only when it surely did not land (connect failure, 429 or 503 with
``Retry-After``), and that is the transport's ``retry="unsent"`` rule; this module never
retries anything itself.

The call itself raises only when nothing of it can go on: bad options
(:class:`InvalidInputError`, before anything is sent); a token that cannot be had before
the first chunk (refused credentials, server unreachable: nothing was sent); an invalid
trigger with ``reject_invalid=True`` or an input that raises (after the chunks already
sent are awaited and reported); cancellation.

``data`` is encoded exactly as ``XProtectClient.trigger_event`` encodes it (orjson):
UUIDs and datetimes become strings, so they are accepted (a naive datetime is written
without an offset, so give it a timezone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterable
from datetime import UTC, datetime, timedelta
from typing import Any

from . import wire
from .accounting import (
    BatchReport,
    ChunkReport,
    InvalidTriggerError,
    TriggerInputError,
    TriggerResult,
    chunk_answered,
    chunk_failed,
    echo_differs,
)
from .checks import size_of
from .chunks import Chunk, chunks_of, not_a_trigger
from .core import Core
from .echo import Named, echoed
from .errors import InvalidInputError, ProtocolError, XProtectError
from .lookup import reconcile
from .models import Event, EventTrigger
from .options import BatchOptions, BatchSpec, Progress, TriggersLike, batch_spec
from .report import event_reader

log = logging.getLogger("xprotect_events")

# --------------------------------------------------------------------------- public entry points


async def trigger_one(core: Core, trigger: EventTrigger) -> Event:
    """``POST /events``: the stored event as the server answered it; a
    :class:`ProtocolError` if it names another type, tag or source than the trigger sent
    (another trigger's event: :func:`.accounting.echo_differs`)."""
    if not isinstance(trigger, EventTrigger):
        raise not_a_trigger(trigger)
    params, body = core.trigger_params(), wire.trigger_to_wire(trigger)
    sent = Named(type=body["type"], source=body["source"], tag=body.get("tag"))

    def decoded(answer: Any) -> Event:
        item = wire.data_envelope(answer)
        differs = echo_differs(item, sent)
        if differs:
            raise ProtocolError(
                f"the answer is not the event of the trigger sent (another "
                f"{' and '.join(differs)}): it cannot be taken for this trigger's"
            )
        return wire.event_from_wire(item)

    return await core.call("POST", "/events", decoded, params=params, json=body)


async def trigger_events(core: Core, triggers: TriggersLike, options: BatchOptions) -> BatchReport:
    """Trigger every event and report each one's outcome, in input order; with
    ``reconcile=True`` the unknown ones are then looked up in the store (:mod:`.lookup`)."""
    spec = _spec(core, triggers, options)
    batches = _batches(core, triggers, spec)
    done: list[ChunkReport] = []
    try:
        async with contextlib.aclosing(batches):
            async for batch in batches:
                done.append(batch)
    except (InvalidTriggerError, TriggerInputError) as exc:
        exc.report = _report(done)
        raise
    report = _report(done)
    if not spec.reconcile or not report.unknown:
        return report
    settled = await reconcile(
        core, report.results, stored_types=spec.stored_types, settle=timedelta(seconds=spec.settle)
    )
    return BatchReport(results=settled)


def stream_trigger(
    core: Core, triggers: TriggersLike, options: BatchOptions
) -> AsyncGenerator[TriggerResult, None]:
    """Results as chunks finish (completion order). Bad options raise here, at once.

    Close it when leaving early (``async with contextlib.aclosing(...)``): that cancels
    the chunks in flight.
    """
    spec = _spec(core, triggers, options)
    if spec.reconcile:
        raise InvalidInputError(
            "reconcile=True is for trigger_events; call client.reconcile on the results"
        )
    return _flatten(_batches(core, triggers, spec))


def _spec(core: Core, triggers: object, options: BatchOptions) -> BatchSpec:
    return batch_spec(triggers, options, max_batch=core.profile.max_batch, limit=core.limit)


async def _flatten(
    batches: AsyncGenerator[ChunkReport, None],
) -> AsyncGenerator[TriggerResult, None]:
    async with contextlib.aclosing(batches):
        async for batch in batches:
            for result in batch.results():
                yield result


def _report(batches: list[ChunkReport]) -> BatchReport:
    """Each chunk's results are in index order and chunks never overlap: sorting the chunks
    by their first index puts every result in input order. The results themselves are
    built only when the caller reads them."""
    return BatchReport.of_chunks(batches)


# --------------------------------------------------------------------------- the pipeline


async def _batches(
    core: Core, triggers: TriggersLike, spec: BatchSpec
) -> AsyncGenerator[ChunkReport, None]:
    """Fill a chunk, wait for room, start it; yield each chunk's results as it finishes.

    An async input is read in a task of its own, so that chunks finishing while it waits
    for its next trigger are reported at once. If reading the input fails (or
    ``reject_invalid`` meets an invalid trigger), the chunks already sent are still
    awaited and reported before the error is raised.
    """
    total = size_of("triggers", triggers)
    flight = _Flight(core, spec.concurrency, total, spec.on_progress)
    chunks = chunks_of(triggers, spec.chunk_size, core.profile.max_batch_bytes, spec.reject_invalid)
    reading: asyncio.Task[Chunk | None] | None = None
    failure: Exception | None = None
    try:
        try:
            while True:
                if isinstance(triggers, AsyncIterable):
                    reading = asyncio.create_task(next_chunk(chunks))
                    while not reading.done():
                        for batch in await flight.wait(reading):
                            yield batch
                    chunk, reading = reading.result(), None
                else:
                    chunk = await next_chunk(chunks)
                if chunk is None:
                    break
                while flight.full:
                    for batch in await flight.wait():
                        yield batch
                await flight.start(chunk)
                for batch in flight.finished():
                    yield batch
        except Exception as exc:
            failure = exc
        while flight.tasks:
            for batch in await flight.wait():
                yield batch
        if isinstance(failure, XProtectError):
            raise failure
        if failure is not None:  # (a chunk task never raises: the input's own error)
            raise TriggerInputError(failure) from failure
    finally:
        if reading is not None:
            reading.cancel()
            await asyncio.wait([reading])
            if not reading.cancelled():
                reading.exception()  # retrieved: the caller is leaving for another reason
        await chunks.aclose()
        await flight.cancel()


async def next_chunk(chunks: AsyncGenerator[Chunk, None]) -> Chunk | None:
    return await anext(chunks, None)


class _Flight:
    """The chunk tasks in flight, and the progress of those that finished.

    Each task tells of its end itself (a done callback puts it on ``ready`` and wakes the
    waiter), so a wait costs the same however many chunks are in flight."""

    def __init__(
        self,
        core: Core,
        concurrency: int,
        total: int | None,
        on_progress: Progress | None,
    ) -> None:
        self.core = core
        self.concurrency = concurrency
        self.total = total
        self.on_progress = on_progress
        self.tasks: set[asyncio.Task[ChunkReport]] = set()
        self.ready: list[asyncio.Task[ChunkReport]] = []  # finished, not yet collected
        self.done = 0
        self.logged_in = False
        self._wake = asyncio.Event()

    @property
    def full(self) -> bool:
        return len(self.tasks) >= self.concurrency

    async def start(self, chunk: Chunk) -> None:
        if chunk.triggers and not self.logged_in:
            # Refused credentials fail the whole call here, before anything is sent,
            # rather than once per chunk.
            await self.core.login()
            self.logged_in = True
        task = asyncio.create_task(send_chunk(self.core, chunk))
        task.add_done_callback(self._finished)
        self.tasks.add(task)

    def _finished(self, task: asyncio.Task[ChunkReport]) -> None:
        self.ready.append(task)
        self._wake.set()

    def _woken(self, _: object) -> None:
        self._wake.set()

    def finished(self) -> list[ChunkReport]:
        """The results of the chunks that have finished, without waiting."""
        return self._collect()

    async def wait(self, reading: asyncio.Task[Any] | None = None) -> list[ChunkReport]:
        """Wait until a chunk finishes (or ``reading`` does); the results of those that did."""
        if reading is not None:
            reading.add_done_callback(self._woken)
        try:
            while not self.ready and not (reading is not None and reading.done()):
                self._wake.clear()
                await self._wake.wait()
        finally:
            if reading is not None:
                reading.remove_done_callback(self._woken)
        return self._collect()

    def _collect(self) -> list[ChunkReport]:
        ready, self.ready = self.ready, []
        batches = []
        for task in ready:
            self.tasks.discard(task)
            batch = task.result()  # chunk tasks never raise
            batches.append(batch)
            self.done += batch.count
            self._progress()
        return batches

    def _progress(self) -> None:
        """``on_progress``; one that raises is logged at ERROR and the batch goes on (it
        cannot undo what was sent, and every result must still be reported)."""
        if self.on_progress is None:
            return
        try:
            self.on_progress(self.done, self.total)
        except Exception:
            log.exception("batch: the on_progress callback failed (the batch goes on)")

    async def cancel(self) -> None:
        """Cancel the chunks still in flight and wait until they are gone."""
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks)
        self.tasks.clear()
        self.ready.clear()


# --------------------------------------------------------------------------- one chunk


async def send_chunk(core: Core, chunk: Chunk) -> ChunkReport:
    """POST one chunk; its outcome. Never raises (but when cancelled)."""
    path = core.profile.batch_path
    full = core.api_path(path)
    if not chunk.triggers:
        report = ChunkReport(chunk.indices, chunk.triggers)
    else:
        payload = chunk.payload()

        def decode(raw: bytes) -> ChunkReport:
            fast = echoed(chunk.indices, chunk.triggers, raw, payload, chunk.echoes)
            if fast is not None:
                return fast
            body = wire.json_body(raw)
            return chunk_answered(
                chunk.indices, chunk.triggers, body, full, core.secrets, payload, chunk.echoes
            )

        started = datetime.now(UTC)
        try:
            report = await core.call(
                "POST",
                path,
                decode,
                params=core.trigger_params(),
                body=payload,
                retry="unsent",
                raw=True,
            )
        except Exception as exc:
            report = chunk_failed(chunk.indices, chunk.triggers, exc, full)
            report.stamp(started, datetime.now(UTC))
        report.read_event = event_reader(full, core.secrets)
    report.invalid = chunk.invalid
    return report
