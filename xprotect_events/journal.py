"""The ``trigger-batch --journal`` journal: what happened to each input line, across runs.

An append-only JSON Lines file. The first line is a header naming the format and its
version; each later line is one :class:`JournalEntry`: the input line's number, a hash of
its text, and an outcome:

``sent``
    written (and fsynced) *before* the line is handed over for sending: a line without a
    journal entry was surely never sent, so a rerun may send it; a line whose last entry is
    ``sent`` may have landed (the run died before its answer was journaled);
``accepted`` / ``rejected``
    the answer came (``event`` is the stored event's id; ``reason`` says why it was
    rejected); a rerun skips these lines;
``unknown``
    sent, no usable answer: a rerun reconciles it (:mod:`xprotect_events.reconcile`) before
    deciding to send it again.

Entries are written a block at a time, one write + flush + fsync per :meth:`Journal.record`
call (per chunk), never per line. A crash may leave the last line torn: reading skips it,
and :meth:`Journal.open` cuts it off before appending, so the next entry starts on a line of
its own. The last entry of a line wins. While a run has the journal open it holds a lock
(``<journal>.lock``): two runs never write one journal, and when a rerun gets the lock the
run before it has ended, so nothing it sent is still on its way out (``opened_at``).

:func:`plan` compares the journal with the input: lines to skip (accepted or rejected
before), lines to reconcile (sent or unknown), lines never sent. If a line's text is not the
one journaled (its hash differs), or the journal names a line the input no longer has, the
input changed: :class:`CheckpointError`, before anything is sent.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

import attrs
import orjson

from .durable_files import FileLock, sync_directory
from .errors import CheckpointError, InvalidInputError, ProtocolError, shown
from .models import to_uuid
from .wire import format_time, parse_time

Outcome = Literal["sent", "accepted", "rejected", "unknown"]
_OUTCOMES: tuple[Outcome, ...] = ("sent", "accepted", "rejected", "unknown")

JOURNAL_VERSION = 1
HEADER = {"journal": "xprotect-events trigger-batch", "version": JOURNAL_VERSION}


def line_hash(text: str) -> str:
    """The hash a journal keeps of an input line's text (BLAKE2b, 128 bits, hex)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _check_line(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"a journal line number must be an int >= 1, got {shown(value)}")


def _check_outcome(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if value not in _OUTCOMES:
        raise InvalidInputError(
            f"outcome must be one of {', '.join(_OUTCOMES)}, got {shown(value)}"
        )


@attrs.frozen(kw_only=True)
class JournalEntry:
    """One line's outcome. ``sent_from``/``sent_until`` bound when it may have been sent."""

    line: int = attrs.field(validator=_check_line)
    hash: str
    outcome: Outcome = attrs.field(validator=_check_outcome)
    event_id: uuid.UUID | None = None
    reason: str | None = None
    sent_from: datetime | None = None
    sent_until: datetime | None = None

    @classmethod
    def of(cls, line: int, text: str, outcome: Outcome, **fields: Any) -> JournalEntry:
        """The entry for input line ``line`` whose text is ``text``."""
        return cls(line=line, hash=line_hash(text), outcome=outcome, **fields)

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"line": self.line, "hash": self.hash, "outcome": self.outcome}
        if self.event_id is not None:
            doc["event"] = str(self.event_id)
        if self.reason is not None:
            doc["reason"] = self.reason
        for key in ("sent_from", "sent_until"):
            value = getattr(self, key)
            if value is not None:
                doc[key] = format_time(value)
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> JournalEntry:
        event = doc.get("event")
        times = {k: parse_time(doc[k]) for k in ("sent_from", "sent_until") if k in doc}
        return cls(
            line=_line(doc),
            hash=_text(doc, "hash"),
            outcome=_outcome(doc),
            event_id=None if event is None else to_uuid(event, "event"),
            reason=None if doc.get("reason") is None else _text(doc, "reason"),
            **times,
        )


@attrs.frozen(kw_only=True)
class JournalState:
    """What the journal says: the last entry of each line, and when this run opened it."""

    entries: Mapping[int, JournalEntry]
    #: Whether a torn last line (a crash mid-write) was left out.
    torn: bool = False
    #: When the lock was taken: the run before had surely stopped sending by then.
    opened_at: datetime | None = None


@attrs.frozen(kw_only=True)
class Plan:
    """What a rerun does with each input line (line numbers, in input order)."""

    skip: tuple[int, ...]
    #: Sent before with no answer journaled: reconcile first (``sent_until`` is filled in).
    reconcile: tuple[JournalEntry, ...]
    new: tuple[int, ...]


def plan(state: JournalState, lines: Iterable[tuple[int, str]]) -> Plan:
    """Compare the journal with the input lines ``(number, text)``, as read the first time.

    :class:`CheckpointError` when the input changed since the journal was written.
    """
    skip: list[int] = []
    reconcile: list[JournalEntry] = []
    new: list[int] = []
    seen: set[int] = set()
    for number, text in lines:
        entry = state.entries.get(number)
        if entry is None:
            new.append(number)
            continue
        seen.add(number)
        if entry.hash != line_hash(text):
            raise CheckpointError(
                f"the input changed since the journal was written: line {number} is not "
                "the one journaled; use a new journal for a new input"
            )
        if entry.outcome in ("accepted", "rejected"):
            skip.append(number)
        else:
            until = entry.sent_until or state.opened_at
            reconcile.append(attrs.evolve(entry, sent_until=until))
    if len(seen) != len(state.entries):
        missing = min(set(state.entries) - seen)
        raise CheckpointError(
            f"the input changed since the journal was written: line {missing} is in the "
            "journal but not in the input; use a new journal for a new input"
        )
    return Plan(skip=tuple(skip), reconcile=tuple(reconcile), new=tuple(new))


def read_journal(path: str | os.PathLike[str]) -> JournalState:
    """Read a journal (without locking it); a torn last line is left out."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return JournalState(entries={})
    except OSError as exc:
        raise CheckpointError(f"cannot read the journal: {exc.strerror}", path=str(path)) from None
    entries, _, torn = _parse(data, str(path))
    return JournalState(entries=entries, torn=torn)


class Journal:
    """The journal of one run: ``with Journal(path) as journal:`` (or :meth:`open`/:meth:`close`).

    :meth:`open` locks it, reads what earlier runs wrote (:attr:`state`), cuts off a torn
    last line and opens it for appending; :meth:`record` appends a block of entries durably
    (:attr:`state` stays what the earlier runs wrote).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        real = Path(os.path.realpath(path))  # a symlink: locked as the file it names
        self._lock = FileLock(real.with_name(real.name + ".lock"), self.path)
        self._file: IO[bytes] | None = None
        self.state = JournalState(entries={})

    def __repr__(self) -> str:
        return f"<Journal {str(self.path)!r} open={self._file is not None}>"

    def __enter__(self) -> Journal:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> JournalState:
        """Lock the journal and read it; :class:`CheckpointError` if another run has it."""
        if self._file is not None:
            return self.state
        self._lock.acquire()
        opened_at = datetime.now(UTC)
        try:
            self._file, entries, torn = self._open_for_append()
        except BaseException:
            self._lock.release()
            raise
        self.state = JournalState(entries=entries, torn=torn, opened_at=opened_at)
        return self.state

    def _open_for_append(self) -> tuple[IO[bytes], dict[int, JournalEntry], bool]:
        try:
            file = self.path.open("a+b")
        except OSError as exc:
            raise CheckpointError(f"cannot open: {exc.strerror}", path=str(self.path)) from None
        try:
            file.seek(0)
            entries, good, torn = _parse(file.read(), str(self.path))
            if torn:
                file.truncate(good)
            if good == 0:
                file.truncate(0)
                _append(file, [HEADER])
                sync_directory(self.path.parent)
        except BaseException:
            file.close()
            raise
        return file, entries, torn

    def record(self, entries: Iterable[JournalEntry]) -> None:
        """Append ``entries`` with one write, flush and fsync; return once they are durable."""
        if self._file is None:
            raise RuntimeError("open the journal first")
        docs = [e.to_doc() for e in entries]
        if not docs:
            return
        try:
            _append(self._file, docs)
        except OSError as exc:
            raise CheckpointError(f"cannot write: {exc.strerror}", path=str(self.path)) from None

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(OSError):
                file.close()
        self._lock.release()


def _append(file: IO[bytes], docs: Sequence[Mapping[str, Any]]) -> None:
    file.write(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    file.flush()
    os.fsync(file.fileno())


def _parse(data: bytes, path: str) -> tuple[dict[int, JournalEntry], int, bool]:
    """The entries, the length of the well-formed part, and whether a torn tail was left out.

    Only the last line may be torn (no newline, or not JSON), and a first line only if it
    is the start of the header; anything else that is wrong is corruption or another file:
    :class:`CheckpointError`.
    """
    entries: dict[int, JournalEntry] = {}
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the data ends with a newline
    good = len(data) - len(tail)
    torn = bool(tail)
    if not lines and torn and not orjson.dumps(HEADER).startswith(b"".join(tail.split())):
        raise CheckpointError(  # one line, not a torn header: a user's file, never cut off
            "not a trigger-batch journal (no header): left as it is", path=path
        )
    for number, raw in enumerate(lines, start=1):
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise CheckpointError(f"line {number} is not JSON", path=path) from None
        if number == 1:
            _check_header(doc, path)
            continue
        try:
            entry = JournalEntry.from_doc(_object(doc))
        except (InvalidInputError, ProtocolError, CheckpointError) as exc:
            raise CheckpointError(
                f"line {number} is not a journal entry: {exc}", path=path
            ) from None
        entries[entry.line] = entry
    return entries, good, torn


def _check_header(doc: Any, path: str) -> None:
    if not isinstance(doc, dict) or doc.get("journal") != HEADER["journal"]:
        raise CheckpointError("not a trigger-batch journal (no header)", path=path)
    version = doc.get("version")
    if version != JOURNAL_VERSION:
        raise CheckpointError(
            f"journal format version {shown(version)}; this version of xprotect-events reads "
            f"version {JOURNAL_VERSION}",
            path=path,
        )


def _object(doc: Any) -> Mapping[str, Any]:
    if not isinstance(doc, dict):
        raise CheckpointError(f"expected a JSON object, got {shown(doc)}")
    return doc


def _line(doc: Mapping[str, Any]) -> int:
    value = doc.get("line")
    if isinstance(value, bool) or not isinstance(value, int):
        raise CheckpointError(f"'line' must be an int, got {shown(value)}")
    return value


def _outcome(doc: Mapping[str, Any]) -> Outcome:
    value = doc.get("outcome")
    for outcome in _OUTCOMES:
        if value == outcome:
            return outcome
    raise CheckpointError(f"'outcome' must be one of {', '.join(_OUTCOMES)}, got {shown(value)}")


def _text(doc: Mapping[str, Any], key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str):
        raise CheckpointError(f"{key!r} must be a string, got {shown(value)}")
    return value
