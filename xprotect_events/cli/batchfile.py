"""The files of ``trigger-batch``: JSON Lines triggers in, a rejects file out.

A rejects file holds each line that did not land, with ``_reject`` saying why (``line``,
``status``, ``reason``) and keeping the line as it was first read (``raw``, byte for
byte; ``raw_base64`` when it was not UTF-8; neither for a line longer than
:data:`~xprotect_events.jsonlines.MAX_LINE_BYTES`, which is never held). A line that was
a JSON object is written out as that object plus ``_reject``, so it can be fixed in
place; any other line as ``{"_reject": {…}}`` alone. Sent again (fixed or not), a
rejects file is read like any input: ``_reject`` is ignored, a record without trigger
fields stands for its ``raw`` line, and a line rejected again keeps its first ``raw``
(any number of resends).

The rejects file is written to a temporary file beside it and moved into place at the
end, so no input is overwritten while it is being read; a rejects path that is the input
or the journal (the same file by any name, or the file stdin comes from) is refused
before anything is read (:func:`.paths.clash`). A run with no rejects removes the
rejects file an earlier run left, so the file always describes the last run; while a run
goes on, it holds a lock beside the file (``<rejects>.lock``, removed at the end), so
that a second run given the same rejects file is refused before it sends anything.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import concurrent.futures
import contextlib
import os
import queue
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import attrs
import orjson

from ..durable_files import FileLock
from ..errors import InvalidInputError
from ..jsonlines import (
    BLOCK_BYTES,
    LONG_LINE,
    LineSplitter,
    LongLine,
    json_value,
    trigger_from_json,
)
from ..models import EventTrigger
from .paths import is_regular, is_stream, lock_path

#: The key a rejects file adds to each line; ignored when the line is sent again.
REJECT_KEY = "_reject"


@attrs.frozen
class InputLine:
    """One line of the input: ``text`` is what is parsed (the line, or the ``raw`` a bare
    reject record stands for), ``raw`` the line as first read (None for a line too long
    to keep, a :class:`~xprotect_events.jsonlines.LongLine`), ``value`` its JSON (or the
    error that says it is not JSON)."""

    number: int
    text: str
    raw: str | None
    value: Any

    @property
    def journaled(self) -> str:
        """The text the journal hashes: the raw line (empty for a line too long to keep,
        as :mod:`.journaling` reads it again)."""
        return self.raw or ""


def input_line(number: int, data: bytes) -> InputLine:
    """An input line, followed through the rejects records it may be."""
    if isinstance(data, LongLine):
        return InputLine(number, "", None, InvalidInputError(LONG_LINE))
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
    if isinstance(line.value, dict) and set(line.value) == {REJECT_KEY}:
        raise InvalidInputError(
            f"a rejects record that keeps no line ({REJECT_KEY}.raw): nothing to send"
        )
    return trigger_from_json(line.value, ignore=(REJECT_KEY,))


def record_of(line: InputLine, status: str, reason: str) -> dict[str, Any]:
    """The line as it was read, with ``_reject`` saying why: fix it and send it again."""
    note: dict[str, Any] = {"line": line.number, "status": status, "reason": reason}
    if line.raw is not None:  # None: too long to keep (the reason says so)
        note.update(_kept(line.raw))
    if isinstance(line.value, dict) and set(line.value) - {REJECT_KEY}:
        fields = {k: v for k, v in line.value.items() if k != REJECT_KEY}
        return {**fields, REJECT_KEY: note}
    return {REJECT_KEY: note}


def _kept(raw: str) -> dict[str, str]:
    """``raw``, or ``raw_base64`` for bytes that are not UTF-8 (kept as they were)."""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        data = raw.encode("utf-8", "surrogateescape")
        return {"raw_base64": base64.b64encode(data).decode("ascii")}
    return {"raw": raw}


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
    reject on, and moved into place by :meth:`close` (never a half-written file there).

    After :meth:`close` the file describes this run only: its rejects, or (when it had
    none, or they could not be written) no file at all: a rejects file an earlier run left
    there is removed, so it is never resent by mistake. A write that fails (a full disk)
    is kept in :attr:`error`; the run goes on counting.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        #: Where it goes: the file a symbolic link names (the link stays a link).
        self.target = Path(os.path.realpath(path))
        #: ``-`` (stdout), a device (/dev/null), a FIFO: written to as it is, never
        #: replaced or removed (as root, a replaced /dev/null would break the system).
        self.stream = is_stream(path)
        self.count = 0
        self.error: OSError | None = None
        #: Whether :meth:`close` removed a rejects file of an earlier run.
        self.removed_stale = False
        self._file: IO[bytes] | None = None
        self._temporary: str | None = None
        self._lock = FileLock(lock_path(self.target), path, user="trigger-batch run", remove=True)

    def lock(self) -> None:
        """Take the lock beside the file (``<rejects>.lock``, removed by :meth:`unlock`),
        to hold for the whole run: two runs never write one rejects file (the last would
        replace the other's). :class:`~xprotect_events.CheckpointError` if another run
        holds it. A stream (``-``, a device, a FIFO) is written as it is, unlocked."""
        if not self.stream:
            self._lock.acquire()

    def unlock(self) -> None:
        self._lock.release()

    @property
    def name(self) -> str:
        """The rejects file as the summary names it."""
        return "stdout" if str(self.path) == "-" else str(self.path)

    def write(self, record: Mapping[str, Any]) -> None:
        self.count += 1
        if self.error is not None:
            return
        try:
            if self._file is None:
                self._file = self._open()
            self._file.write(orjson.dumps(record) + b"\n")
        except OSError as exc:
            self.error = exc
            self._discard()

    def _open(self) -> IO[bytes]:
        if str(self.path) == "-":
            return os.fdopen(os.dup(sys.stdout.fileno()), "wb")
        if self.stream:
            return self.path.open("wb")  # as named: a pipe has no path to resolve
        handle, self._temporary = tempfile.mkstemp(
            prefix=f".{self.target.name}.", suffix=".part", dir=self.target.parent
        )
        return os.fdopen(handle, "wb")

    def close(self) -> None:
        """Move this run's rejects into place, or remove an earlier run's file."""
        file, self._file = self._file, None
        if self.stream:
            if file is not None:
                try:
                    file.close()
                except OSError as exc:
                    self.error = self.error or exc
            return
        if file is not None and self._temporary is not None and self.error is None:
            try:
                file.flush()
                os.fsync(file.fileno())
                file.close()
                os.replace(self._temporary, self.target)
                self._temporary = None
                return
            except OSError as exc:
                self.error = exc
        self._discard(file)
        try:
            self.target.unlink()
            self.removed_stale = True
        except FileNotFoundError:
            pass
        except OSError as exc:
            self.error = self.error or exc

    def _discard(self, file: IO[bytes] | None = None) -> None:
        file = file or self._file
        self._file = None
        if file is not None:
            with contextlib.suppress(OSError):
                file.close()
        if self._temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._temporary)
            self._temporary = None


def unbuffered_copy(stream: IO[bytes]) -> IO[bytes] | None:
    """A pipe's own unbuffered reader (a duplicate of its descriptor; None without one):
    a thread blocked in its ``read`` holds no lock of the stream's buffer, which the
    interpreter takes at exit (a daemon thread holding it there aborts the process).
    The stream must not have been read from yet (its buffer would be skipped)."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        return None
    return open(os.dup(fd), "rb", buffering=0)  # closed by InputReader.close


#: A read for the daemon thread: where its result goes, and how many bytes at most.
_Job = tuple[concurrent.futures.Future[bytes], int]


class DaemonReader:
    """One daemon thread that runs the reads it is given, in order: a read blocked on a
    pipe whose writer goes on (``tail -f``) never keeps a stopped run from exiting, as a
    pool's worker thread (which the interpreter joins at exit) would."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="xprotect-events-input", daemon=True).start()

    def submit(self, size: int) -> concurrent.futures.Future[bytes]:
        """``read(size)``, done in the thread."""
        future: concurrent.futures.Future[bytes] = concurrent.futures.Future()
        self._jobs.put((future, size))
        return future

    def stop(self) -> None:
        """The thread ends after the read under way, if any."""
        self._jobs.put(None)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, size = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(self._read(size))
                except BaseException as exc:  # handed to the awaiting side
                    future.set_exception(exc)


class InputReader:
    """The lines of the input, numbered, as :func:`~xprotect_events.jsonlines.read_lines`
    reads them (a block at a time, off the event loop, by a
    :class:`~xprotect_events.jsonlines.LineSplitter`: blank lines skipped and counted in
    :attr:`blank`, a line too long to hold given as a ``LongLine``), with nothing read
    ever lost: when a run stops early, :meth:`rest` gives the lines not handed out yet,
    those read ahead first, then (for a regular file) the rest of the input, read to its
    end a block at a time (flat memory)."""

    def __init__(self, stream: IO[bytes]) -> None:
        #: Whether the rest can be read to its end now (a regular file, not a pipe).
        self.regular = is_regular(stream)
        self._own: IO[bytes] | None = None if self.regular else unbuffered_copy(stream)
        source = self._own or stream
        self._read = getattr(source, "read1", source.read)
        self._reader = DaemonReader(self._read)
        self._lines = LineSplitter()
        self.ended = False
        self._ready: collections.deque[tuple[int, bytes]] = collections.deque()
        self._reading: concurrent.futures.Future[bytes] | None = None

    async def lines(self) -> AsyncIterator[tuple[int, bytes]]:
        while True:
            while self._ready:
                yield self._ready.popleft()
            if self.ended:
                return
            self._reading = self._reader.submit(BLOCK_BYTES)
            data = await asyncio.wrap_future(self._reading)
            self._reading = None
            self._feed(data)

    def rest(self) -> Iterator[tuple[int, bytes]]:
        """The lines not handed out by :meth:`lines`: read ahead, then (a regular file)
        the rest of the input. :class:`OSError` if it cannot be read."""
        while True:
            while self._ready:
                yield self._ready.popleft()
            if self.ended or not self.regular:
                return
            reading, self._reading = self._reading, None
            if reading is not None and not reading.cancelled():
                data = reading.result()  # the block a stopped run was reading
            else:
                data = self._read(BLOCK_BYTES)
            self._feed(data)

    @property
    def complete(self) -> bool:
        """Whether every line of the input was handed out."""
        return self.ended and not self._ready

    def close(self) -> None:
        self._reader.stop()
        reading, self._reading = self._reading, None
        if reading is not None and not reading.cancel():
            return  # a read under way on a pipe: its thread and descriptor end with the process
        if self._own is not None:
            self._own.close()

    @property
    def number(self) -> int:
        """Lines read so far, blank ones too."""
        return self._lines.number

    @property
    def blank(self) -> int:
        """Blank lines read so far (skipped)."""
        return self._lines.blank

    def _feed(self, data: bytes) -> None:
        if data:
            self._ready.extend(self._lines.feed(data))
        else:
            self.ended = True
            self._ready.extend(self._lines.end())


def count_lines(path: Path) -> int:
    """The lines of ``path`` that are not blank, read as :class:`InputReader` reads them
    (a block at a time: a line too long to hold is never held)."""
    lines = LineSplitter()
    with path.open("rb") as f:
        while data := f.read(BLOCK_BYTES):
            lines.feed(data)
    lines.end()
    return lines.number - lines.blank
