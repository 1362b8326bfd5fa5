"""Chunked, concurrent triggering with a result for every trigger.

The input (a list, any iterable, or an async iterable of :class:`EventTrigger`) is read
lazily, each trigger encoded once, and cut into chunks of at most ``chunk_size`` triggers
(never more than ``profile.max_batch``) whose JSON array stays within
``profile.max_batch_bytes``. At most ``concurrency`` chunks are in flight, plus the one
being filled, so memory stays flat whatever the length of the input; an async input is read
in a task of its own, so chunks that finish while it waits are reported at once. A chunk
task never raises: it turns every outcome into one :class:`TriggerResult` per trigger, so
one failing chunk never hides which others landed. Cancelling the caller cancels and
awaits the chunks in flight.

Accounting rules (what each trigger's ``status`` means):

``accepted``
    The batch answer had an event for it (``event`` decodes it, on first use).
``rejected`` (it did not land; sending it again cannot make it happen twice)
    - the batch answer had a per-item error for it (``error`` has the item's ``httpCode``
      and ``errorText``; the server answered for that item, whatever the code);
    - the whole batch POST got a 4xx (each item of the chunk carries that error), or a
      3xx (redirects are not followed);
    - 429 or 503 still after the transport's retries (or with a ``Retry-After`` longer
      than the policy waits): the server said it did not act on the request (the same
      judgement that lets the transport resend them);
    - the connection could not be made (:class:`ConnectError`, ``sent`` False);
    - the identity provider refused the credentials while renewing the token;
    - invalid before sending (``sent`` False, :class:`InvalidInputError`): not an
      ``EventTrigger``, data JSON cannot carry (a set, bytes, a non-string key, an int
      beyond 64 bits), or a body larger than ``max_batch_bytes`` on its own.
``unknown`` (it was sent and no usable answer came: it may have happened)
    - timeout, a connection cut or reset after the request went out (including a reset
      before the server's handler ran: the client cannot tell the two apart);
    - a 5xx other than 503 (the server may have stored the events before failing);
    - a 2xx whose body is not the documented answer (not JSON, truncated, an array of
      the wrong length, an item that is neither an event nor an error object):
      :class:`ProtocolError` for the whole chunk, as nothing in it can be trusted.

A chunk is sent again only when it surely did not land (connect failure, 429, 503), and
that is the transport's ``retry="unsent"`` rule; this module never retries anything itself.

The call itself raises only when nothing of it can go on: bad options
(:class:`InvalidInputError`, before anything is sent); a token that cannot be had before
the first chunk (refused credentials, server unreachable: nothing was sent); an invalid
trigger with ``reject_invalid=True`` or an input that raises (after the chunks already
sent are awaited and reported); cancellation.

``data`` is encoded exactly as :meth:`XProtectClient.trigger_event` encodes it (orjson):
UUIDs and datetimes become strings, so they are accepted (a naive datetime is written
without an offset, so give it a timezone).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable, Mapping, Sized
from itertools import chain
from typing import TYPE_CHECKING, Any, Literal

import attrs

from . import wire
from .errors import (
    APIError,
    BatchError,
    InvalidInputError,
    ProtocolError,
    RequestError,
    TransportError,
    XProtectError,
    api_error_class,
    shown,
)
from .models import Event, EventTrigger

if TYPE_CHECKING:
    from .client import TriggersLike, XProtectClient

Status = Literal["accepted", "rejected", "unknown"]
#: ``on_progress(done, total)``: triggers accounted for so far, and the total when known.
Progress = Callable[[int, int | None], None]

#: A trigger made ready to send: its JSON body, or why it cannot be sent.
Prepared = bytes | InvalidInputError

#: How many failures ``raise_for_failures`` names in its message (all are in ``failures``).
_NAMED_FAILURES = 5


@attrs.define(kw_only=True)
class TriggerResult:
    """What happened to one trigger; ``index`` is its position in the input.

    ``accepted``: the server stored or processed it, ``event`` is its answer.
    ``rejected``: the server (or the client, before sending: ``sent`` False) refused it;
    ``error`` says why. ``unknown``: it was sent and no answer came; it may have happened.
    """

    index: int
    trigger: EventTrigger | object
    status: Status
    error: XProtectError | None = None
    sent: bool = True
    #: The server's answer for an accepted trigger, as it came; ``event`` decodes it.
    answer: Mapping[str, Any] | None = attrs.field(default=None, repr=False)

    @functools.cached_property
    def event(self) -> Event | None:
        """The event the server answered (accepted only), decoded on first use.

        Decoding is left until asked for: an injector that never looks saves most of the
        per-event cost. :class:`ProtocolError` if the answer is not a valid event.
        """
        return None if self.answer is None else wire.event_from_wire(self.answer)

    @property
    def reason(self) -> str | None:
        return None if self.error is None else str(self.error)


@attrs.frozen(kw_only=True)
class BatchReport:
    """Every trigger's result, in input order, with counts."""

    results: list[TriggerResult]

    @property
    def accepted(self) -> int:
        return sum(r.status == "accepted" for r in self.results)

    @property
    def rejected(self) -> int:
        return sum(r.status == "rejected" for r in self.results)

    @property
    def unknown(self) -> int:
        return sum(r.status == "unknown" for r in self.results)

    @property
    def failures(self) -> list[TriggerResult]:
        return [r for r in self.results if r.status != "accepted"]

    def raise_for_failures(self) -> None:
        """Raise one :class:`BatchError` listing every trigger that was not accepted."""
        failures = self.failures
        if not failures:
            return
        rejected = sum(r.status == "rejected" for r in failures)
        lines = [f"#{r.index} {r.status}: {r.reason}" for r in failures[:_NAMED_FAILURES]]
        if len(failures) > _NAMED_FAILURES:
            lines.append(f"… and {len(failures) - _NAMED_FAILURES} more (see .failures)")
        raise BatchError(
            f"{len(failures)} of {len(self.results)} triggers were not accepted "
            f"({rejected} rejected, {len(failures) - rejected} unknown): " + "; ".join(lines),
            failures=failures,
        )


class InvalidTriggerError(InvalidInputError):
    """``reject_invalid=True`` met a trigger that cannot be sent.

    ``index`` is its position, ``cause`` why. Nothing from its chunk on was sent; ``report``
    (set by ``trigger_events``) holds the results of the chunks sent before it, if any.
    """

    def __init__(self, index: int, cause: InvalidInputError) -> None:
        super().__init__(f"trigger #{index} cannot be sent: {cause}")
        self.index = index
        self.cause = cause
        self.report: BatchReport | None = None


# --------------------------------------------------------------------------- public entry points


async def trigger_events(
    client: XProtectClient,
    triggers: TriggersLike,
    *,
    chunk_size: int,
    concurrency: int,
    on_progress: Progress | None,
    reject_invalid: bool,
) -> BatchReport:
    """Trigger every event and report each one's outcome, in input order."""
    _check_options(client, triggers, chunk_size, concurrency)
    done: list[list[TriggerResult]] = []
    batches = _batches(client, triggers, chunk_size, concurrency, on_progress, reject_invalid)
    try:
        async with contextlib.aclosing(batches):
            async for batch in batches:
                done.append(batch)
    except InvalidTriggerError as exc:
        exc.report = _report(done)
        raise
    return _report(done)


def stream_trigger(
    client: XProtectClient,
    triggers: TriggersLike,
    *,
    chunk_size: int,
    concurrency: int,
    on_progress: Progress | None,
    reject_invalid: bool,
) -> AsyncGenerator[TriggerResult, None]:
    """Results as chunks finish (completion order). Bad options raise here, at once.

    Close it when leaving early (``async with contextlib.aclosing(...)``): that cancels
    the chunks in flight.
    """
    _check_options(client, triggers, chunk_size, concurrency)
    return _flatten(
        _batches(client, triggers, chunk_size, concurrency, on_progress, reject_invalid)
    )


async def _flatten(
    batches: AsyncGenerator[list[TriggerResult], None],
) -> AsyncGenerator[TriggerResult, None]:
    async with contextlib.aclosing(batches):
        async for batch in batches:
            for result in batch:
                yield result


def _report(batches: list[list[TriggerResult]]) -> BatchReport:
    """Each chunk's results are in index order and chunks never overlap: sorting the chunks
    by their first index puts every result in input order."""
    batches.sort(key=lambda batch: batch[0].index)
    return BatchReport(results=list(chain.from_iterable(batches)))


def _check_options(
    client: XProtectClient, triggers: object, chunk_size: int, concurrency: int
) -> None:
    top = client.profile.max_batch
    if not _is_int(chunk_size) or not 1 <= chunk_size <= top:
        raise InvalidInputError(f"chunk_size must be 1 to {top}, got {shown(chunk_size)}")
    limit = client.transport.limit or None  # aiohttp: 0 means no limit
    if not _is_int(concurrency) or concurrency < 1 or (limit and concurrency > limit):
        most = f"1 to {limit} (the connection limit)" if limit else "at least 1"
        raise InvalidInputError(f"concurrency must be {most}, got {shown(concurrency)}")
    if not isinstance(triggers, Iterable | AsyncIterable):
        raise InvalidInputError(
            f"triggers must be an iterable or async iterable, got {type(triggers).__name__}"
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --------------------------------------------------------------------------- the pipeline


async def _batches(
    client: XProtectClient,
    triggers: TriggersLike,
    chunk_size: int,
    concurrency: int,
    on_progress: Progress | None,
    reject_invalid: bool,
) -> AsyncGenerator[list[TriggerResult], None]:
    """Fill a chunk, wait for room, start it; yield each chunk's results as it finishes.

    An async input is read in a task of its own, so that chunks finishing while it waits
    for its next trigger are reported at once. If reading the input fails (or
    ``reject_invalid`` meets an invalid trigger), the chunks already sent are still
    awaited and reported before the error is raised.
    """
    total = len(triggers) if isinstance(triggers, Sized) else None
    flight = _Flight(client, concurrency, total, on_progress)
    chunks = _chunks(triggers, chunk_size, client.profile.max_batch_bytes, reject_invalid)
    reading: asyncio.Task[_Chunk | None] | None = None
    failure: Exception | None = None
    try:
        try:
            while True:
                if isinstance(triggers, AsyncIterable):
                    reading = asyncio.create_task(_next(chunks))
                    while not reading.done():
                        for batch in await flight.wait(reading):
                            yield batch
                    chunk, reading = reading.result(), None
                else:
                    chunk = await _next(chunks)
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
        if failure is not None:
            raise failure
    finally:
        if reading is not None:
            reading.cancel()
            await asyncio.wait([reading])
            if not reading.cancelled():
                reading.exception()  # retrieved: the caller is leaving for another reason
        await chunks.aclose()
        await flight.cancel()


async def _next(chunks: AsyncGenerator[_Chunk, None]) -> _Chunk | None:
    return await anext(chunks, None)


class _Flight:
    """The chunk tasks in flight, and the progress of those that finished."""

    def __init__(
        self,
        client: XProtectClient,
        concurrency: int,
        total: int | None,
        on_progress: Progress | None,
    ) -> None:
        self.client = client
        self.concurrency = concurrency
        self.total = total
        self.on_progress = on_progress
        self.tasks: set[asyncio.Task[list[TriggerResult]]] = set()
        self.done = 0
        self.logged_in = False

    @property
    def full(self) -> bool:
        return len(self.tasks) >= self.concurrency

    async def start(self, chunk: _Chunk) -> None:
        if chunk.bodies and not self.logged_in:
            # Refused credentials fail the whole call here, before anything is sent,
            # rather than once per chunk.
            await self.client.login()
            self.logged_in = True
        self.tasks.add(asyncio.create_task(_send(self.client, chunk)))

    def finished(self) -> list[list[TriggerResult]]:
        """The results of the chunks that have finished, without waiting."""
        return self._collect([task for task in self.tasks if task.done()])

    async def wait(self, reading: asyncio.Task[Any] | None = None) -> list[list[TriggerResult]]:
        """Wait until a chunk finishes (or ``reading`` does); the results of those that did."""
        waiting: set[asyncio.Future[Any]] = set(self.tasks)
        if reading is not None:
            waiting.add(reading)
        ready, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        return self._collect([task for task in self.tasks if task in ready])

    def _collect(
        self, ready: Iterable[asyncio.Task[list[TriggerResult]]]
    ) -> list[list[TriggerResult]]:
        batches = []
        for task in ready:
            self.tasks.discard(task)
            batch = task.result()  # chunk tasks never raise
            batches.append(batch)
            self.done += len(batch)
            if self.on_progress is not None:
                self.on_progress(self.done, self.total)
        return batches

    async def cancel(self) -> None:
        """Cancel the chunks still in flight and wait until they are gone."""
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks)
        self.tasks.clear()


# --------------------------------------------------------------------------- chunking


class _Chunk:
    """Consecutive triggers: the bodies to send, and the invalid ones already decided."""

    __slots__ = ("bodies", "count", "indices", "invalid", "size", "triggers")

    def __init__(self) -> None:
        self.indices: list[int] = []
        self.triggers: list[object] = []
        self.bodies: list[bytes] = []
        self.invalid: list[TriggerResult] = []
        self.count = 0  # triggers, valid or not
        self.size = 1  # of the JSON array: "[", then each body and its "," or "]"

    def payload(self) -> bytes:
        return b"[" + b",".join(self.bodies) + b"]"


class _Chunker:
    """Cuts prepared triggers into chunks by count and by encoded size."""

    def __init__(self, chunk_size: int, max_bytes: int, reject_invalid: bool) -> None:
        self.chunk_size = chunk_size
        self.max_bytes = max_bytes
        self.reject_invalid = reject_invalid
        self.chunk = _Chunk()

    def add(self, index: int, trigger: object, prepared: Prepared) -> _Chunk | None:
        """Add one trigger; the chunk this completed, if any.

        A chunk is cut as soon as it holds ``chunk_size`` triggers, and before a body that
        would make it too large. Both cannot happen on one call: a size cut leaves one
        trigger in the new chunk, and a chunk of one is full only when ``chunk_size`` is 1,
        in which case the chunk was empty and nothing had to be cut for size.
        """
        chunk = self.chunk
        done = None
        if isinstance(prepared, bytes):
            if chunk.bodies and chunk.size + len(prepared) + 1 > self.max_bytes:
                done, chunk = chunk, self._next()
            chunk.size += len(prepared) + 1
            chunk.indices.append(index)
            chunk.triggers.append(trigger)
            chunk.bodies.append(prepared)
        elif self.reject_invalid:
            raise InvalidTriggerError(index, prepared)
        else:
            chunk.invalid.append(_not_sent(index, trigger, prepared))
        chunk.count += 1
        if chunk.count >= self.chunk_size:
            self._next()
            return chunk
        return done

    def _next(self) -> _Chunk:
        self.chunk = _Chunk()
        return self.chunk

    def take(self) -> _Chunk | None:
        """The last, partly filled chunk, if it holds anything."""
        chunk = self.chunk
        return chunk if chunk.count else None


async def _chunks(
    triggers: TriggersLike, chunk_size: int, max_bytes: int, reject_invalid: bool
) -> AsyncGenerator[_Chunk, None]:
    """The input, prepared and cut into chunks; read only as chunks are asked for."""
    chunker = _Chunker(chunk_size, max_bytes, reject_invalid)
    if isinstance(triggers, AsyncIterable):
        index = 0
        async for trigger in triggers:
            chunk = chunker.add(index, trigger, _prepare(trigger, max_bytes))
            index += 1
            if chunk is not None:
                yield chunk
    else:
        items: Iterable[object] = triggers
        checked = None
        if reject_invalid and isinstance(triggers, Sized):
            items, checked = _checked(triggers, max_bytes)
        for index, item in enumerate(items):
            body = _prepare(item, max_bytes) if checked is None else checked[index]
            chunk = chunker.add(index, item, body)
            if chunk is not None:
                yield chunk
    last = chunker.take()
    if last is not None:
        yield last


def _checked(triggers: Iterable[object], max_bytes: int) -> tuple[list[object], list[bytes]]:
    """Every trigger and its body, or :class:`InvalidTriggerError` for the first that has
    none: a sized input with ``reject_invalid`` is checked whole before anything is sent."""
    items = list(triggers)
    bodies = []
    for index, item in enumerate(items):
        body = _prepare(item, max_bytes)
        if isinstance(body, InvalidInputError):
            raise InvalidTriggerError(index, body)
        bodies.append(body)
    return items, bodies


def _prepare(trigger: object, max_bytes: int) -> Prepared:
    """The JSON body of a trigger, or the :class:`InvalidInputError` that keeps it unsent."""
    if not isinstance(trigger, EventTrigger):
        return InvalidInputError(f"expected an EventTrigger, got {type(trigger).__name__}")
    try:
        body = wire.dumps(wire.trigger_to_wire(trigger))
    except InvalidInputError as exc:
        return exc
    if len(body) + 2 > max_bytes:
        return InvalidInputError(
            f"the trigger's body is {len(body)} bytes; a batch may carry {max_bytes} in all"
        )
    return body


def _not_sent(index: int, trigger: object, error: InvalidInputError) -> TriggerResult:
    return TriggerResult(index=index, trigger=trigger, status="rejected", error=error, sent=False)


# --------------------------------------------------------------------------- one chunk


async def _send(client: XProtectClient, chunk: _Chunk) -> list[TriggerResult]:
    """POST one chunk; its results in index order. Never raises (but when cancelled)."""
    if not chunk.bodies:
        return chunk.invalid
    path = client.profile.batch_path
    try:
        response = await client.request(
            "POST", path, params=client._trigger_params(), body=chunk.payload(), retry="unsent"
        )
        results = client.decode(response, lambda body: _answers(client, chunk, body), "POST", path)
    except Exception as exc:
        results = _failed(client, chunk, exc)
    if chunk.invalid:
        results += chunk.invalid
        results.sort(key=lambda result: result.index)
    return results


def _answers(client: XProtectClient, chunk: _Chunk, body: Any) -> list[TriggerResult]:
    """The per-item results of a 2xx answer; a :class:`ProtocolError` if it is malformed."""
    items = wire.array_envelope(body)
    if len(items) != len(chunk.bodies):
        raise ProtocolError(
            f"the batch answer has {len(items)} items for {len(chunk.bodies)} triggers"
        )
    path = _full_path(client)
    return [
        TriggerResult(index=index, trigger=trigger, status="accepted", answer=item)
        if _is_event(item)
        else _rejected(index, trigger, item, path)
        for index, trigger, item in zip(chunk.indices, chunk.triggers, items, strict=True)
    ]


def _is_event(item: Any) -> bool:
    """Whether an answer item is an event (an object with an ``id``), not an error object.

    Only its shape is checked here; it is decoded, and so fully checked, when asked for.
    """
    return isinstance(item, dict) and isinstance(item.get("id"), str)


def _rejected(index: int, trigger: object, item: Any, path: str) -> TriggerResult:
    """The result of a per-item ``{"error": {"httpCode", "details"}}``, as the error the
    server meant; a :class:`ProtocolError` when the item is not an error object either."""
    wrapped = isinstance(item, dict) and isinstance(item.get("error"), dict)
    parsed = wire.parse_error_body(wire.dumps(item)) if wrapped else None
    if parsed is None or parsed.http_code is None or not 400 <= parsed.http_code <= 599:
        raise ProtocolError(f"a batch answer item is neither an event nor an error: {item!r:.200}")
    status = parsed.http_code
    error = api_error_class(status)(method="POST", path=path, status=status, details=parsed.details)
    return TriggerResult(index=index, trigger=trigger, status="rejected", error=error)


def _failed(client: XProtectClient, chunk: _Chunk, exc: Exception) -> list[TriggerResult]:
    """The whole chunk's results when the POST got no per-item answer."""
    status, sent = _outcome(exc)
    if not isinstance(exc, XProtectError):
        error: XProtectError = RequestError(
            f"unexpected {type(exc).__name__}: {exc}", method="POST", path=_full_path(client)
        )
        error.__cause__ = exc
    else:
        error = exc
    return [
        TriggerResult(index=index, trigger=trigger, status=status, error=error, sent=sent)
        for index, trigger in zip(chunk.indices, chunk.triggers, strict=True)
    ]


def _full_path(client: XProtectClient) -> str:
    return client.profile.api_path + client.profile.batch_path


def _outcome(exc: Exception) -> tuple[Status, bool]:
    """``(status, sent)`` of every trigger of a chunk whose POST raised ``exc``."""
    if isinstance(exc, TransportError):
        return ("unknown", True) if exc.sent else ("rejected", False)
    if isinstance(exc, APIError):
        landed_maybe = exc.status >= 500 and exc.status != 503
        return ("unknown" if landed_maybe else "rejected"), True
    if isinstance(exc, ProtocolError):
        redirected = exc.status is not None and 300 <= exc.status < 400
        return ("rejected" if redirected else "unknown"), True
    if isinstance(exc, XProtectError):  # credentials refused: nothing was processed
        return "rejected", True
    return "unknown", True
