"""``trigger-batch --journal J``: each line's outcome kept across runs (issue 16).

A run with a journal (:mod:`xprotect_events.journal`) first compares it with the input:

- lines accepted before are skipped (counted as accepted), lines rejected before are
  skipped and written to the rejects file again with their journaled reason;
- lines sent before with no answer journaled (the run died, or the answer was unknown)
  are reconciled (``client.reconcile``): found in the store → accepted; not found after
  ``--settle`` seconds → sent again; the store cannot tell → left unknown (in the rejects
  file with the reason, and reconciled again by the next run);
- the rest are sent. Before a block of lines is handed over for sending, a ``sent`` entry
  for each is written and fsynced; each outcome is appended as its chunk is accounted,
  one write and fsync per chunk (at the end of each burst of results).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

import click

from .. import TriggerResult, XProtectClient, XProtectError
from ..journal import Journal, JournalEntry, plan
from ..jsonlines import read_lines
from ..lookup import reconcile
from .batchfile import InputLine, input_line, trigger_of
from .params import Seconds

F = TypeVar("F", bound=Callable[..., Any])


def journal_options(command: F) -> F:
    """``--journal J`` and ``--settle S`` of ``trigger-batch``."""
    command = click.option(
        "--settle",
        type=Seconds(min=0),
        default=10.0,
        show_default=True,
        help="With --journal: seconds after sending before 'not in the store' means 'resend'.",
    )(command)
    return click.option(
        "--journal",
        type=click.Path(dir_okay=False),
        help="Keep each line's outcome here; a rerun skips, reconciles and resends as needed.",
    )(command)


@contextlib.contextmanager
def open_journal(path: str | None, block: int) -> Iterator[BatchJournal | None]:
    """The run's journal, open and locked (None without ``--journal``)."""
    if path is None:
        yield None
        return
    with BatchJournal(path, block=block) as journal:
        yield journal


class Accounting(Protocol):
    """What a run counts and reports (``trigger.BatchRun``)."""

    accepted: int

    def accept(self, number: int, result: TriggerResult) -> None: ...

    def reject(self, line: InputLine, status: str, reason: str) -> None: ...


class BatchJournal:
    """The journal of one ``trigger-batch`` run: plan, reconcile, write-ahead, outcomes."""

    def __init__(self, path: str, *, block: int) -> None:
        self.journal = Journal(path)
        self.block = block
        self.skipped = self.found = self.resent = self.still_unknown = self.sent = 0
        self._resend: set[int] = set()
        self._known: set[int] = set()  # lines the journal has an entry for
        self._quiet: set[int] = set()  # lines whose journal entry stays as it is
        self._sent_from: dict[int, datetime] = {}
        self._accounted: set[int] = set()  # lines :meth:`prepare` counted in this run
        #: Lines read for the next block and not handed on yet (see :meth:`unread`).
        self.held: collections.deque[tuple[int, bytes]] = collections.deque()
        self._buffer: list[JournalEntry] = []
        self._flushing = False

    def __enter__(self) -> BatchJournal:
        self.journal.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()
        self.journal.close()

    async def prepare(
        self, client: XProtectClient, file: Path, run: Accounting, settle: float
    ) -> None:
        """Compare the journal with ``file``; skip, and reconcile what an earlier run sent."""
        state = self.journal.state
        if not state.entries:
            return
        texts: dict[int, bytes] = {}

        async def lines() -> AsyncIterator[tuple[int, str]]:
            with file.open("rb") as stream:
                async for number, data in read_lines(stream):
                    entry = state.entries.get(number)
                    if entry is not None and entry.outcome != "accepted":
                        texts[number] = data
                    yield number, _text(data)

        steps = plan(state, [item async for item in lines()])
        self._known = set(state.entries)
        for number in steps.skip:
            self.skipped += 1
            self._quiet.add(number)
            self._accounted.add(number)
            entry = state.entries[number]
            if entry.outcome == "accepted":
                run.accepted += 1
            else:
                run.reject(
                    input_line(number, texts[number]), "rejected", entry.reason or "rejected"
                )
        held = {e.event_id for e in state.entries.values() if e.outcome == "accepted"}
        await self._reconcile(client, steps.reconcile, texts, run, settle, held)

    async def _reconcile(
        self,
        client: XProtectClient,
        entries: tuple[JournalEntry, ...],
        texts: dict[int, bytes],
        run: Accounting,
        settle: float,
        held: set[uuid.UUID | None],
    ) -> None:
        """Look up what an earlier run sent without an answer; the events its accepted lines
        hold (``held``) are never taken for them."""
        results = []
        for entry in entries:
            try:
                trigger = trigger_of(input_line(entry.line, texts[entry.line]))
            except XProtectError:  # never sent as such: send it again to get its verdict
                self._resend.add(entry.line)
                continue
            results.append(
                TriggerResult(
                    index=entry.line,
                    trigger=trigger,
                    status="unknown",
                    sent_from=entry.sent_from,
                    sent_until=entry.sent_until,
                )
            )
        claimed = {event_id for event_id in held if event_id is not None}
        settled = await reconcile(
            client.core, results, settle=timedelta(seconds=settle), claimed=claimed
        )
        for result in settled:
            number = result.index
            if result.status != "rejected":
                self._accounted.add(number)
            if result.status == "accepted":
                self.found += 1
                self.outcome(number, _text(texts[number]), "accepted", None, result)
                run.accept(number, result)
            elif result.status == "rejected":
                self.resent += 1
                self._resend.add(number)
            else:
                self.still_unknown += 1
                self._quiet.add(number)  # its sent entry stays: the next run looks again
                reason = f"sent by an earlier run; still unknown: {result.reason}"
                run.reject(input_line(number, texts[number]), "unknown", reason)

    async def lines(
        self, lines: AsyncIterator[tuple[int, bytes]]
    ) -> AsyncIterator[tuple[int, bytes]]:
        """The lines to send, each block's ``sent`` entries durable before it is handed on."""
        held = self.held
        async for number, data in lines:
            if number in self._known and number not in self._resend:
                continue
            held.append((number, data))
            if len(held) >= self.block:
                self._ahead(held)
                while held:
                    yield held.popleft()
        self._ahead(held)
        while held:
            yield held.popleft()

    def _ahead(self, block: Iterable[tuple[int, bytes]]) -> None:
        now = datetime.now(UTC)
        entries = []
        for number, data in block:
            if _valid(number, data):
                entries.append(JournalEntry.of(number, _text(data), "sent", sent_from=now))
                self._sent_from[number] = now
        self.journal.record(entries)
        self.sent += len(entries)

    def unread(self, number: int) -> tuple[str, str | None] | None:
        """How a line this run did not read stands: None if it was accounted already
        (by :meth:`prepare`), else its status and reason: ``accepted`` or ``rejected`` by
        an earlier run, ``unknown`` (sent by an earlier run, not reconciled yet) or ``not
        sent``. Its journal entry stays as it is."""
        if number in self._accounted:
            return None
        entry = self.journal.state.entries.get(number)
        if entry is None or number in self._resend:
            return "not sent", None
        self._quiet.add(number)
        if entry.outcome == "accepted":
            return "accepted", None
        if entry.outcome == "rejected":
            return "rejected", entry.reason or "rejected"
        return "unknown", "sent by an earlier run and not reconciled yet: rerun with --journal"

    def outcome(
        self, number: int, text: str, status: str, reason: str | None, result: object = None
    ) -> None:
        """Journal a line's outcome (buffered; written at the end of this burst of results).

        A line that may have landed stays ``unknown`` with when it was sent; an ``unknown``
        with no ``sent`` entry was never handed over, so it is journaled ``rejected``.
        """
        if number in self._quiet:
            return
        sent_from = self._sent_from.pop(number, None)
        if status == "accepted":
            entry = JournalEntry.of(number, text, "accepted", event_id=_event_id(result))
        elif status == "unknown" and sent_from is not None:
            entry = JournalEntry.of(number, text, "unknown", reason=reason, sent_from=sent_from)
        else:
            entry = JournalEntry.of(number, text, "rejected", reason=reason)
        self._buffer.append(entry)
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._flushing = False
        buffer, self._buffer = self._buffer, []
        if buffer:
            self.journal.record(buffer)

    def summary(self) -> str:
        return (
            f"journal {self.journal.path}: {self.skipped} skipped, "
            f"{self.found + self.resent + self.still_unknown} reconciled ({self.found} found, "
            f"{self.resent} resent, {self.still_unknown} still unknown), {self.sent} sent"
        )


def _text(data: bytes) -> str:
    """A line as the journal hashes it (as :class:`InputLine` keeps it raw)."""
    return data.decode("utf-8", "surrogateescape")


def _valid(number: int, data: bytes) -> bool:
    try:
        trigger_of(input_line(number, data))
    except XProtectError:
        return False
    return True


def _event_id(result: object) -> uuid.UUID | None:
    answer = getattr(result, "answer", None)
    try:
        return uuid.UUID(str(answer["id"])) if answer is not None else None
    except (KeyError, TypeError, ValueError):
        return None
