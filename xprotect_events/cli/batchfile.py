"""The files of ``trigger-batch``: JSON Lines triggers in, a rejects file out.

A rejects file holds each trigger that did not land as it was read, with ``_reject``
saying why; fixed, it is sent again as it is (``_reject`` is ignored on input).
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import IO, Any

import orjson

from .. import EventTrigger, InvalidInputError, ProtocolError
from ..wire import parse_time

TRIGGER_KEYS = frozenset(("type", "source", "time", "tag", "datatype", "data"))
#: The key a rejects file adds to each line; ignored when the line is sent again.
REJECT_KEY = "_reject"


def parse_trigger_line(text: str) -> EventTrigger:
    """One JSON Lines trigger in wire form; :class:`InvalidInputError` says what is wrong."""
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"not JSON: {exc.msg}") from None
    if not isinstance(obj, dict):
        raise InvalidInputError(f"expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - TRIGGER_KEYS - {REJECT_KEY})
    if unknown:
        known = ", ".join(sorted(TRIGGER_KEYS))
        raise InvalidInputError(f"unknown field(s) {', '.join(unknown)}; known: {known}")
    if obj.get("type") is None:
        raise InvalidInputError("no 'type' (the event type's GUID)")
    when = obj.get("time")
    try:
        parsed_time = parse_time(when) if when is not None else None
    except ProtocolError as exc:
        raise InvalidInputError(f"time: {exc}") from None
    return EventTrigger(
        type=obj["type"],
        source=obj.get("source"),
        time=parsed_time,
        tag=obj.get("tag"),
        datatype=obj.get("datatype"),
        data=obj.get("data"),
    )


def reject_record(line: int, text: str, status: str, reason: str) -> dict[str, Any]:
    """The trigger as it was read, with ``_reject`` saying why: fix it and send it again."""
    note = {"line": line, "status": status, "reason": reason}
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict):
        return {REJECT_KEY: {**note, "raw": text}}
    obj.pop(REJECT_KEY, None)
    obj[REJECT_KEY] = note
    return obj


class RejectsFile:
    """The rejects file, created at the first reject."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._file: IO[bytes] | None = None

    def write(self, record: Mapping[str, Any]) -> None:
        if self._file is None:
            self._file = self.path.open("wb")
        self._file.write(orjson.dumps(record) + b"\n")
        self.count += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


async def read_lines(stream: IO[bytes]) -> AsyncIterator[tuple[int, str]]:
    """``(line number, text)`` of each non-blank line; a pipe is read off the event loop."""
    regular = stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    number = 0
    while True:
        raw = stream.readline() if regular else await asyncio.to_thread(stream.readline)
        if not raw:
            return
        number += 1
        text = raw.decode("utf-8", "replace").strip()
        if text:
            yield number, text


def count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())
