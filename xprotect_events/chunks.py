"""Batch input, prepared and cut into chunks: by count and by the encoded size. Pure.

Each trigger is encoded once (or found invalid, with the :class:`InvalidInputError` that
keeps it unsent) and chunks are cut at ``chunk_size`` triggers or before a body that would
take the JSON array past ``max_bytes``. The input is read only as chunks are asked for.

The common case is cheaper: ``chunk_size`` valid triggers whose array fits are encoded by
one ``dumps`` of the whole chunk (the same bytes as the joined bodies). Only a
chunk that holds an invalid trigger, or must be cut by size, is encoded trigger by trigger.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable, Iterator, Sized
from itertools import islice
from typing import cast

from . import wire
from .accounting import InvalidTriggerError, TriggerResult, not_sent
from .errors import InvalidInputError
from .models import EventTrigger
from .options import TriggersLike

#: A trigger made ready to send: its JSON body, or why it cannot be sent.
Prepared = bytes | InvalidInputError
#: Triggers encoded in one go: the JSON array, and what an echo of each repeats.
Encoded = tuple[bytes, list[wire.Echo]]
_TRIGGERS_ONLY = frozenset((EventTrigger,))


class Chunk:
    """Consecutive triggers: the bodies to send, and the invalid ones already decided."""

    __slots__ = ("bodies", "count", "echoes", "encoded", "indices", "invalid", "size", "triggers")

    def __init__(self) -> None:
        self.indices: list[int] = []
        self.triggers: list[object] = []  # those to send (valid), in order
        self.bodies: list[bytes] = []
        self.invalid: list[TriggerResult] = []
        self.count = 0  # triggers, valid or not
        self.size = 1  # of the JSON array: "[", then each body and its "," or "]"
        self.encoded: bytes | None = None  # the whole array, when encoded in one go
        self.echoes: list[wire.Echo] | None = None  # then what an echo of each repeats

    @classmethod
    def whole(cls, start: int, triggers: list[object], encoded: Encoded) -> Chunk:
        """Consecutive valid triggers from input index ``start``, already encoded."""
        chunk = cls()
        chunk.indices = list(range(start, start + len(triggers)))
        chunk.triggers = triggers
        chunk.encoded, chunk.echoes = encoded
        chunk.count = len(triggers)
        chunk.size = len(chunk.encoded)
        return chunk

    def payload(self) -> bytes:
        if self.encoded is not None:
            return self.encoded
        return b"[" + b",".join(self.bodies) + b"]"


class Chunker:
    """Cuts prepared triggers into chunks by count and by encoded size."""

    def __init__(self, chunk_size: int, max_bytes: int, reject_invalid: bool) -> None:
        self.chunk_size = chunk_size
        self.max_bytes = max_bytes
        self.reject_invalid = reject_invalid
        self.chunk = Chunk()

    def add(self, index: int, trigger: object, prepared: Prepared) -> Chunk | None:
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
                done, chunk = chunk, self._fresh()
            chunk.size += len(prepared) + 1
            chunk.indices.append(index)
            chunk.triggers.append(trigger)
            chunk.bodies.append(prepared)
        elif self.reject_invalid:
            raise InvalidTriggerError(index, prepared)
        else:
            chunk.invalid.append(not_sent(index, trigger, prepared))
        chunk.count += 1
        if chunk.count >= self.chunk_size:
            self._fresh()
            return chunk
        return done

    def _fresh(self) -> Chunk:
        self.chunk = Chunk()
        return self.chunk

    def take(self) -> Chunk | None:
        """The last, partly filled chunk, if it holds anything."""
        chunk = self.chunk
        return chunk if chunk.count else None


async def chunks_of(
    triggers: TriggersLike, chunk_size: int, max_bytes: int, reject_invalid: bool
) -> AsyncGenerator[Chunk, None]:
    """The input, prepared and cut into chunks; read only as chunks are asked for.

    If reading the input fails (the caller's iterator raises), every trigger read before
    is still chunked, the last chunk too, and the input's exception is raised after them.
    """
    chunker = Chunker(chunk_size, max_bytes, reject_invalid)
    failed: list[Exception] = []
    if isinstance(triggers, AsyncIterable):
        async for index, trigger in _read_async(triggers, failed):
            chunk = chunker.add(index, trigger, prepare(trigger, max_bytes))
            if chunk is not None:
                yield chunk
    elif reject_invalid:
        items: Iterable[object] = triggers
        checked = None
        if isinstance(triggers, Sized):
            items, checked = prepare_all(triggers, max_bytes)
        for index, item in enumerate(_read(items, failed)):
            body = prepare(item, max_bytes) if checked is None else checked[index]
            chunk = chunker.add(index, item, body)
            if chunk is not None:
                yield chunk
    else:
        for chunk in _sliced(iter(triggers), chunker, failed):
            yield chunk
    last = chunker.take()
    if last is not None:
        yield last
    if failed:
        raise failed[0]


async def _read_async(
    triggers: AsyncIterable[object], failed: list[Exception]
) -> AsyncIterator[tuple[int, object]]:
    """The numbered items of an async input, until it ends or fails (noted in ``failed``)."""
    items, index = aiter(triggers), 0
    while True:
        try:
            item = await anext(items)
        except StopAsyncIteration:
            return
        except Exception as exc:  # the caller's own iterator: anything may come out of it
            failed.append(exc)
            return
        yield index, item
        index += 1


def _read(items: Iterable[object], failed: list[Exception]) -> Iterator[object]:
    """The items of a sync input, until it ends or fails (noted in ``failed``)."""
    iterator = iter(items)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except Exception as exc:
            failed.append(exc)
            return
        yield item


def _sliced(items: Iterator[object], chunker: Chunker, failed: list[Exception]) -> Iterator[Chunk]:
    """Chunks of a sync input: a whole chunk's worth at a time, in one ``dumps`` when it can
    be, else trigger by trigger (the same cuts either way). ``list.extend`` keeps what it
    read before the input failed (noted in ``failed``)."""
    index = 0
    size, max_bytes = chunker.chunk_size, chunker.max_bytes
    while not failed:
        part: list[object] = []
        try:
            part.extend(islice(items, size - chunker.chunk.count))
        except Exception as exc:
            failed.append(exc)
        if not part:
            return
        encoded = encode_all(part, max_bytes) if not chunker.chunk.count else None
        if encoded is not None:
            yield Chunk.whole(index, part, encoded)
        else:
            for offset, item in enumerate(part):
                chunk = chunker.add(index + offset, item, prepare(item, max_bytes))
                if chunk is not None:
                    yield chunk
        index += len(part)


def encode_all(triggers: list[object], max_bytes: int) -> Encoded | None:
    """The JSON array of these triggers in one ``dumps`` (and what an echo of each
    repeats); None if any is invalid or the array is larger than ``max_bytes`` (then each
    is prepared on its own)."""
    if set(map(type, triggers)) != _TRIGGERS_ONLY:  # (a subclass: prepared on its own)
        return None
    plain = wire.plain_triggers_json(cast("list[EventTrigger]", triggers))
    if plain is not None:
        return plain if len(plain[0]) <= max_bytes else None
    try:
        bodies, echoes = wire.triggers_to_wire(cast("list[EventTrigger]", triggers))
    except InvalidInputError:  # a time out of range
        return None
    encoded = wire.try_dumps(bodies)  # None: data JSON cannot carry
    if encoded is None or len(encoded) > max_bytes:
        return None
    return encoded, echoes


def prepare_all(triggers: Iterable[object], max_bytes: int) -> tuple[list[object], list[bytes]]:
    """Every trigger and its body, or :class:`InvalidTriggerError` for the first that has
    none: a sized input with ``reject_invalid`` is checked whole before anything is sent."""
    items = list(triggers)
    bodies = []
    for index, item in enumerate(items):
        body = prepare(item, max_bytes)
        if isinstance(body, InvalidInputError):
            raise InvalidTriggerError(index, body)
        bodies.append(body)
    return items, bodies


def not_a_trigger(value: object) -> InvalidInputError:
    """The error for ``value`` given where an :class:`EventTrigger` belongs; for a dict
    (a trigger in wire form, as JSON Lines hold them), the function that makes it one."""
    hint = ""
    if isinstance(value, dict):
        hint = " (a wire-form dict becomes one with xprotect_events.jsonlines.trigger_from_json)"
    return InvalidInputError(f"expected an EventTrigger, got {type(value).__name__}{hint}")


def prepare(trigger: object, max_bytes: int) -> Prepared:
    """The JSON body of a trigger, or the :class:`InvalidInputError` that keeps it unsent."""
    if not isinstance(trigger, EventTrigger):
        return not_a_trigger(trigger)
    try:
        body = wire.dumps(wire.trigger_to_wire(trigger))
    except InvalidInputError as exc:
        return exc
    if len(body) + 2 > max_bytes:
        return InvalidInputError(
            f"the trigger's body is {len(body)} bytes; a batch may carry {max_bytes} in all"
        )
    return body
