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
#: The UTF-8 byte order mark, dropped at the start of the input.
BOM = b"\xef\xbb\xbf"
#: The longest line read (8 MiB): twice the most one batch POST carries (the profile's
#: ``max_batch_bytes``), so no trigger that can be sent is longer. A longer line is not
#: held in memory (an endless line without a newline cannot exhaust it): it comes as a
#: :class:`LongLine`, and is rejected as a line of its own.
MAX_LINE_BYTES = 8 * 1024 * 1024


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
    if isinstance(text, LongLine):
        raise InvalidInputError(LONG_LINE)
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


class LongLine(bytes):
    """A line longer than :data:`MAX_LINE_BYTES`, as the readers give it: empty (the line
    was not kept), and a line all the same, so that it is accounted for; parsing it raises
    :class:`InvalidInputError` (:data:`LONG_LINE`)."""


#: Why a :class:`LongLine` is no trigger.
LONG_LINE = (
    f"the line is longer than {MAX_LINE_BYTES // 2**20} MiB, the most a line may be (no "
    "trigger that long can be sent): it was skipped, not read nor kept"
)


class LineSplitter:
    """Cuts blocks of input into numbered lines (each keeps every byte but its ``\\n``),
    in linear time: a line that spans blocks is joined once, when it ends. A line longer
    than ``max_line`` bytes is never held whole: it is given as a :class:`LongLine` as
    soon as it is known to be too long, and the rest of it is skipped. Blank lines are
    counted (:attr:`blank`), not given. A UTF-8 byte order mark at the very start of the
    input (:data:`BOM`, as editors on Windows save it) is no part of the first line: it is
    dropped there, and only there (one anywhere else stays, and that line is not JSON)."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self.max_line = max_line
        #: The first bytes of the input while they may still be a BOM (None once past).
        self._head: bytes | None = b""
        #: Lines so far, blank ones too.
        self.number = 0
        self.blank = 0
        self._parts: list[bytes] = []  # the start of the line under way
        self._size = 0
        self._long = False  # the line under way was given as a LongLine: skip the rest

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """The lines that ``data`` ends (or makes too long), in order."""
        lines: list[tuple[int, bytes]] = []
        if self._head is not None:
            data = self._head + data
            if BOM.startswith(data) and data != BOM:  # a part of a BOM: wait for the rest
                self._head = data
                return lines
            self._head = None
            data = data.removeprefix(BOM)
        pieces = data.split(b"\n")
        last = pieces.pop()
        if pieces:
            self._end(pieces[0], lines)
            for piece in pieces[1:]:
                self._line(piece, lines)
        self._add(last, lines)
        return lines

    def end(self) -> list[tuple[int, bytes]]:
        """The last line, if the input did not end with a ``\\n``."""
        lines: list[tuple[int, bytes]] = []
        head, self._head = self._head, None
        if head:  # the input is one or two bytes of a BOM: a line of its own
            lines = self.feed(head + b"\n")
        if self._parts:
            self._end(b"", lines)
        self._long = False
        return lines

    def _add(self, piece: bytes, lines: list[tuple[int, bytes]]) -> None:
        if self._long or not piece:
            return
        self._size += len(piece)
        if self._size <= self.max_line:
            self._parts.append(piece)
            return
        self._parts, self._size, self._long = [], 0, True
        self.number += 1
        lines.append((self.number, LongLine()))

    def _end(self, piece: bytes, lines: list[tuple[int, bytes]]) -> None:
        if self._long:
            self._long = False
            return
        if self._parts:
            self._parts.append(piece)
            piece = b"".join(self._parts)
            self._parts, self._size = [], 0
        self._line(piece, lines)

    def _line(self, line: bytes, lines: list[tuple[int, bytes]]) -> None:
        self.number += 1
        if len(line) > self.max_line:
            lines.append((self.number, LongLine()))
        elif line.strip():
            lines.append((self.number, line))
        else:
            self.blank += 1


async def read_blocks(stream: IO[bytes]) -> AsyncIterator[list[tuple[int, bytes]]]:
    """``(line number, line)`` of the lines that are not blank, a block at a time
    (:class:`LineSplitter`: a line longer than :data:`MAX_LINE_BYTES` comes as a
    :class:`LongLine`). The last line needs no ``\\n``."""
    read = getattr(stream, "read1", stream.read)
    lines = LineSplitter()
    while data := await asyncio.to_thread(read, BLOCK_BYTES):
        block = lines.feed(data)
        if block:
            yield block
    block = lines.end()
    if block:
        yield block


async def read_lines(stream: IO[bytes]) -> AsyncIterator[tuple[int, bytes]]:
    """:func:`read_blocks`, line by line."""
    async for block in read_blocks(stream):
        for line in block:
            yield line
