"""Triggers from JSON Lines: a line's wire-form object as an :class:`EventTrigger`, and
the lines of a file or a pipe read in blocks, off the event loop.

Each line is a trigger in wire form, ``{"type", "source", "time", "tag", "datatype",
"data"}``, checked exactly as :class:`EventTrigger` checks what it is given: a ``time``
must carry its offset (``Z`` or ``+02:00``; a naive time is refused, not read as UTC).
:func:`read_lines` reads a block at a time (at most :data:`BLOCK_BYTES`, whatever is
there: a slow pipe's lines come as they are written), one thread hop per block rather
than one per line.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from datetime import datetime
from typing import IO, Any

import orjson

from .errors import InvalidInputError, ProtocolError, shown
from .models import EventTrigger
from .wire import parse_time

#: The fields of a wire-form trigger.
TRIGGER_KEYS = frozenset(("type", "source", "time", "tag", "datatype", "data"))
#: The most read from the input at once.
BLOCK_BYTES = 64 * 1024


def input_time(value: object) -> datetime:
    """An ISO 8601 time given as input: it must say its offset (``Z``, ``+02:00``)."""
    if not isinstance(value, str):
        raise InvalidInputError(f"time must be an ISO 8601 string, got {shown(value)}")
    try:
        naive = datetime.fromisoformat(value).tzinfo is None
        parsed = parse_time(value)
    except (ValueError, ProtocolError):
        raise InvalidInputError(f"time is not an ISO 8601 time: {shown(value)}") from None
    if naive:
        raise InvalidInputError(
            f"time {shown(value)} is naive (no time zone offset): add Z or +hh:mm"
        )
    return parsed


def trigger_from_json(obj: object, *, ignore: Collection[str] = ()) -> EventTrigger:
    """The :class:`EventTrigger` of a wire-form object; :class:`InvalidInputError` says
    what is wrong. Keys in ``ignore`` are allowed and left out."""
    if not isinstance(obj, dict):
        raise InvalidInputError(f"expected a JSON object, got {_json_kind(obj)}")
    unknown = sorted(k for k in obj if k not in TRIGGER_KEYS and k not in ignore)
    if unknown:
        known = ", ".join(sorted(TRIGGER_KEYS))
        raise InvalidInputError(f"unknown field(s) {shown(', '.join(unknown))}; known: {known}")
    if obj.get("type") is None:
        raise InvalidInputError("no 'type' (the event type's GUID)")
    when = obj.get("time")
    return EventTrigger(
        type=obj["type"],
        source=obj.get("source"),
        time=input_time(when) if when is not None else None,
        tag=obj.get("tag"),
        datatype=obj.get("datatype"),
        data=obj.get("data"),
    )


def _json_kind(value: object) -> str:
    """What a JSON value is, in JSON's words (``null``, not ``NoneType``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    kinds = {list: "an array", str: "a string", int: "a number", float: "a number"}
    return kinds.get(type(value), type(value).__name__)


def json_value(text: str | bytes) -> Any:
    """The JSON value of one line; :class:`InvalidInputError` if it is not JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(_not_utf8(text) or f"not JSON: {exc.msg}") from None


def _not_utf8(text: str | bytes) -> str | None:
    """Why a line is not UTF-8 text, if it is not (orjson says "surrogates not allowed")."""
    try:
        (text if isinstance(text, bytes) else text.encode("utf-8")).decode("utf-8")
    except UnicodeError as exc:
        start = getattr(exc, "start", 0)
        data = text if isinstance(text, bytes) else b""
        byte = f"byte 0x{data[start]:02x} at position {start}" if data else "a lone surrogate"
        return f"not UTF-8 text ({byte}): save the file as UTF-8 (not UTF-16 or Latin-1)"
    return None


def parse_trigger(text: str | bytes, *, ignore: Collection[str] = ()) -> EventTrigger:
    """The trigger of one JSON Lines line."""
    return trigger_from_json(json_value(text), ignore=ignore)


async def read_blocks(stream: IO[bytes]) -> AsyncIterator[list[tuple[int, bytes]]]:
    """``(line number, line)`` of the lines that are not blank, a block at a time; a
    line keeps every byte but its ``\\n``. The last line needs no ``\\n``."""
    read = getattr(stream, "read1", stream.read)
    number = 0
    rest = b""
    while True:
        data: bytes = await asyncio.to_thread(read, BLOCK_BYTES)
        if not data:
            break
        if b"\n" not in data:  # a long line: gather it without splitting again
            rest += data
            continue
        lines = (rest + data).split(b"\n")
        rest = lines.pop()
        block = []
        for line in lines:
            number += 1
            if line.strip():
                block.append((number, line))
        if block:
            yield block
    if rest.strip():
        yield [(number + 1, rest)]


async def read_lines(stream: IO[bytes]) -> AsyncIterator[tuple[int, bytes]]:
    """:func:`read_blocks`, line by line."""
    async for block in read_blocks(stream):
        for line in block:
            yield line
