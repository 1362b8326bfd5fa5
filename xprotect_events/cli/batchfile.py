"""The files of ``trigger-batch``: JSON Lines triggers in, a rejects file out.

A rejects file holds each line that did not land, with ``_reject`` saying why (``line``,
``status``, ``reason``) and keeping the line as it was first read (``raw``, byte for
byte; ``raw_base64`` when it was not UTF-8). A line that was a JSON object is written
out as that object plus ``_reject``, so it can be fixed in place; any other line as
``{"_reject": {…}}`` alone. Sent again (fixed or not), a rejects file is read like any
input: ``_reject`` is ignored, a record without trigger fields stands for its ``raw``
line, and a line rejected again keeps its first ``raw`` (any number of resends).

The rejects file is written to a temporary file beside it and moved into place at the
end, so no input is overwritten while it is being read; a rejects path that is the input
itself (the same file by any name, or the file stdin comes from) is refused before
anything is read.
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import attrs
import orjson

from ..errors import InvalidInputError
from ..jsonlines import json_value, trigger_from_json
from ..models import EventTrigger

#: The key a rejects file adds to each line; ignored when the line is sent again.
REJECT_KEY = "_reject"


@attrs.frozen
class InputLine:
    """One line of the input: ``text`` is what is parsed (the line, or the ``raw`` a bare
    reject record stands for), ``raw`` the line as first read, ``value`` its JSON (or
    the error that says it is not JSON)."""

    number: int
    text: str
    raw: str
    value: Any


def input_line(number: int, data: bytes) -> InputLine:
    """An input line, followed through the rejects records it may be."""
    text = data.decode("utf-8", "surrogateescape")
    raw, value = text, _value(text)
    for _ in range(100):  # a record of a record … (as older rejects files nested them)
        kept = _kept_raw(value)
        if kept is None:
            break
        raw = kept
        if set(value) != {REJECT_KEY}:
            break  # an object with its note: the object is the trigger (fixed, maybe)
        text, value = kept, _value(kept)
    return InputLine(number, text, raw, value)


def parse_trigger_line(text: str) -> EventTrigger:
    """The trigger of one line of text; :class:`InvalidInputError` says what is wrong."""
    return trigger_of(input_line(0, text.encode("utf-8", "surrogateescape")))


def reject_record(number: int, text: str, status: str, reason: str) -> dict[str, Any]:
    """The rejects-file record of line ``number``, ``text``."""
    return record_of(input_line(number, text.encode("utf-8", "surrogateescape")), status, reason)


def trigger_of(line: InputLine) -> EventTrigger:
    """The trigger of a line; :class:`InvalidInputError` says what is wrong."""
    if isinstance(line.value, InvalidInputError):
        raise line.value
    return trigger_from_json(line.value, ignore=(REJECT_KEY,))


def record_of(line: InputLine, status: str, reason: str) -> dict[str, Any]:
    """The line as it was read, with ``_reject`` saying why: fix it and send it again."""
    note: dict[str, Any] = {"line": line.number, "status": status, "reason": reason}
    try:
        line.raw.encode("utf-8")
        note["raw"] = line.raw
    except UnicodeEncodeError:  # bytes that are not UTF-8: kept as they were
        data = line.raw.encode("utf-8", "surrogateescape")
        note["raw_base64"] = base64.b64encode(data).decode("ascii")
    if isinstance(line.value, dict) and set(line.value) - {REJECT_KEY}:
        fields = {k: v for k, v in line.value.items() if k != REJECT_KEY}
        return {**fields, REJECT_KEY: note}
    return {REJECT_KEY: note}


def _value(text: str) -> Any:
    try:
        return json_value(text.encode("utf-8", "surrogateescape"))
    except InvalidInputError as exc:
        return exc


def _kept_raw(value: Any) -> str | None:
    """The ``raw`` line a reject record keeps, if ``value`` is one."""
    note = value.get(REJECT_KEY) if isinstance(value, dict) else None
    if not isinstance(note, dict):
        return None
    raw, packed = note.get("raw"), note.get("raw_base64")
    if isinstance(raw, str):
        return raw
    if isinstance(packed, str):
        try:
            return base64.b64decode(packed, validate=True).decode("utf-8", "surrogateescape")
        except binascii.Error:
            return None
    return None


class RejectsFile:
    """The rejects file: written to a temporary file beside ``path`` from the first
    reject on, and moved into place by :meth:`close` (never a half-written file there)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._file: IO[bytes] | None = None
        self._temporary: str | None = None

    def write(self, record: Mapping[str, Any]) -> None:
        if self._file is None:
            folder = self.path.parent
            handle, self._temporary = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".part", dir=folder
            )
            self._file = os.fdopen(handle, "wb")
        self._file.write(orjson.dumps(record) + b"\n")
        self.count += 1

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None and self._temporary is not None:
            file.close()
            os.replace(self._temporary, self.path)


def same_file(rejects: Path, source: str) -> bool:
    """Whether the rejects path is the input: the same file by any name (a symbolic or
    hard link, another spelling) or, for ``-``, the file stdin is redirected from."""
    try:
        written = os.stat(rejects)
        read = os.fstat(0) if source == "-" else os.stat(source)
    except OSError:
        return False
    return (written.st_dev, written.st_ino) == (read.st_dev, read.st_ino)


def count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())
