"""A batch's results, kept compactly per chunk and built as objects only when read. Pure.

A million triggers must not leave a million objects behind (nor make the cyclic GC walk
them again and again): a :class:`ChunkReport` keeps what a chunk's answer said with no
object per trigger in the common case, and :class:`BatchReport` builds the
:class:`TriggerResult` objects when ``results`` or ``failures`` is read. What each status
means is :mod:`.accounting`'s; this module only stores and rebuilds.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import chain
from typing import Any, Literal

import attrs

from . import wire
from .checks import read_list
from .errors import BatchError, InvalidInputError, ProtocolError, XProtectError, shown
from .models import Event, EventTrigger
from .redaction import scrubbed

Status = Literal["accepted", "rejected", "unknown"]
#: Decodes an accepted trigger's answer item into its event (:class:`ProtocolError` if not).
ReadEvent = Callable[[Mapping[str, Any]], Event]

#: How many failures ``raise_for_failures`` names in its message (all are in ``failures``).
_NAMED_FAILURES = 5

#: The lengths of a canonical GUID and of a 7-digit ``Z`` time, as servers write them.
_ID_LENGTH = 36
_TIME_LENGTH = 28
_NO_ID = "-" * _ID_LENGTH
_NO_TIME = "-" * _TIME_LENGTH
_ABSENT = object()


@attrs.define(kw_only=True)
class TriggerResult:
    """What happened to one trigger; ``index`` is its position in the input.

    ``accepted``: the server stored or processed it, ``event`` is its answer.
    ``rejected``: the server (or the client, before sending: ``sent`` False) refused it;
    ``error`` says why. ``unknown``: it was sent and no answer came; it may have happened.
    """

    index: int
    trigger: object
    status: Status
    error: XProtectError | None = None
    sent: bool = True
    #: The server's answer for an accepted trigger, as it came; ``event`` decodes it.
    answer: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    #: For an ``unknown`` one: when its chunk was sent, and when it was given up on (this
    #: machine's clock); what ``client.reconcile`` looks in.
    sent_from: datetime | None = attrs.field(default=None, repr=False)
    sent_until: datetime | None = attrs.field(default=None, repr=False)
    #: How ``event`` decodes ``answer`` (:func:`event_reader`: errors naming the batch POST).
    read_event: ReadEvent = attrs.field(default=wire.event_from_wire, repr=False, eq=False)

    @functools.cached_property
    def event(self) -> Event | None:
        """The event the server answered (accepted only), decoded on first use.

        Decoding is left until asked for: an injector that never looks saves most of the
        per-event cost. :class:`ProtocolError` if the answer is not a valid event.
        """
        return None if self.answer is None else self.read_event(self.answer)

    @property
    def reason(self) -> str | None:
        """Why it was not accepted, in words (None when accepted)."""
        return None if self.error is None else str(self.error)


#: Decides the answer item at a position that is not a plain echo: None for an event, else
#: the error (it raises :class:`ProtocolError` for an item that is neither, or that is the
#: event of another trigger).
Classify = Callable[[int, Any], XProtectError | None]


def event_reader(path: str, secrets: Sequence[str]) -> ReadEvent:
    """How the accepted answers of a batch POST to ``path`` are decoded, when asked: a
    :class:`ProtocolError` names that POST and shows none of ``secrets`` (a closure, so
    that no repr shows them)."""
    hidden = tuple(secrets)

    def read(answer: Mapping[str, Any]) -> Event:
        try:
            return wire.event_from_wire(answer)
        except ProtocolError as exc:
            text = scrubbed(str(exc), hidden)
        # raised out here: chained to ``exc``, even suppressed, it would show the secret
        raise ProtocolError(text, method="POST", path=path)

    return read


class ChunkReport:
    """One chunk's results without an object per trigger.

    An accepted trigger whose answer item is exactly its own body plus an ``id`` and a
    ``time`` (what servers answer) keeps only those two texts, joined into one string per
    chunk; the answer is rebuilt, equal, when read. Any other item is kept as it came
    (``odd``), a per-item error as its error (``errors``); a chunk whose POST failed keeps
    one ``(status, error, sent)`` for all. ``invalid`` holds the chunk's unsent triggers.
    """

    __slots__ = (
        "errors",
        "failure",
        "ids",
        "indices",
        "invalid",
        "odd",
        "read_event",
        "sent_window",
        "times",
        "triggers",
    )

    def __init__(self, indices: Sequence[int], triggers: Sequence[object]) -> None:
        first = indices[0] if indices else 0
        consecutive = not indices or indices[-1] - first == len(indices) - 1
        self.indices: Sequence[int] = range(first, first + len(indices)) if consecutive else indices
        self.triggers = triggers
        self.ids = ""
        self.times = ""  # one time for every item, or _TIME_LENGTH characters per item
        self.odd: dict[int, Mapping[str, Any]] = {}
        self.errors: dict[int, XProtectError] = {}
        self.failure: tuple[Status, XProtectError, bool] | None = None
        self.sent_window: tuple[datetime | None, datetime | None] = (None, None)
        self.invalid: list[TriggerResult] = []
        self.read_event: ReadEvent = wire.event_from_wire

    def keep(self, items: Sequence[Any], classify: Classify) -> None:
        """Keep a checked answer: one item per trigger sent, in order."""
        ids: list[str] = []
        times: list[str] = []
        last_type: object = None
        type_text = ""
        for pos, (trigger, item) in enumerate(zip(self.triggers, items, strict=True)):
            t: Any = trigger
            if (
                type(item) is dict
                and len(item) == 6
                and type(t) is EventTrigger  # (a subclass's fields are its own code)
                and t.data is None
            ):
                if t.type is not last_type:
                    last_type, type_text = t.type, str(t.type)
                id_, when = item.get("id"), item.get("time")
                if (
                    type(id_) is str
                    and len(id_) == _ID_LENGTH
                    and type(when) is str
                    and len(when) == _TIME_LENGTH
                    and item.get("type") == type_text
                    and item.get("source", _ABSENT) == t.source
                    and item.get("tag", _ABSENT) == t.tag
                    and item.get("datatype", _ABSENT) == t.datatype
                ):
                    ids.append(id_)
                    times.append(when)
                    continue
            error = classify(pos, item)
            if error is None:
                self.odd[pos] = item
            else:
                self.errors[pos] = error
            ids.append(_NO_ID)
            times.append(_NO_TIME)
        self.echoes("".join(ids), times)

    def echoes(self, ids: str, times: list[str]) -> None:
        """Keep the ids (joined) and times of an answer, one per trigger sent."""
        self.ids = ids
        same = bool(times) and times.count(times[0]) == len(times)
        self.times = times[0] if same else "".join(times)

    def fail(self, status: Status, error: XProtectError, sent: bool) -> None:
        """Every trigger sent in this chunk had the same outcome."""
        self.failure = (status, error, sent)

    def stamp(self, started: datetime, until: datetime) -> None:
        """When a failed chunk may have been sent: what ``client.reconcile`` looks in."""
        self.sent_window = (started, until)

    @property
    def count(self) -> int:
        """Triggers in the chunk, sent or not."""
        return len(self.indices) + len(self.invalid)

    @property
    def first(self) -> int:
        """The input index of the chunk's first trigger."""
        heads = [r.index for r in self.invalid[:1]]
        heads += self.indices[:1]
        return min(heads)

    def counts(self) -> tuple[int, int, int]:
        """``(accepted, rejected, unknown)``."""
        sent = len(self.indices)
        unsent = len(self.invalid)
        if self.failure is None:
            return sent - len(self.errors), len(self.errors) + unsent, 0
        if self.failure[0] == "unknown":
            return 0, unsent, sent
        return 0, sent + unsent, 0

    def results(self) -> list[TriggerResult]:
        """Every trigger's result, in index order."""
        return self._merged([self._result(pos) for pos in range(len(self.indices))])

    def failures(self) -> list[TriggerResult]:
        """The results that are not ``accepted``, in index order."""
        failing: Iterable[int] = range(len(self.indices)) if self.failure else sorted(self.errors)
        return self._merged([self._result(pos) for pos in failing])

    def _merged(self, results: list[TriggerResult]) -> list[TriggerResult]:
        if self.invalid:
            results += self.invalid
            results.sort(key=_index_of)
        return results

    def _result(self, pos: int) -> TriggerResult:
        index, trigger = self.indices[pos], self.triggers[pos]
        if self.failure is not None:
            status, failure, sent = self.failure
            sent_from, sent_until = self.sent_window if status == "unknown" else (None, None)
            return TriggerResult(
                index=index,
                trigger=trigger,
                status=status,
                error=failure,
                sent=sent,
                sent_from=sent_from,
                sent_until=sent_until,
            )
        error = self.errors.get(pos)
        if error is not None:
            return TriggerResult(index=index, trigger=trigger, status="rejected", error=error)
        answer = self.odd.get(pos)
        if answer is None:
            answer = self._echo(pos, trigger)
        return TriggerResult(
            index=index,
            trigger=trigger,
            status="accepted",
            answer=answer,
            read_event=self.read_event,
        )

    def _echo(self, pos: int, trigger: Any) -> dict[str, Any]:
        """The answer item :meth:`keep` reduced to its id and time, rebuilt."""
        times = self.times
        when = times if len(times) == _TIME_LENGTH else times[pos * _TIME_LENGTH :][:_TIME_LENGTH]
        return {
            "id": self.ids[pos * _ID_LENGTH : (pos + 1) * _ID_LENGTH],
            "time": when,
            "type": str(trigger.type),
            "source": trigger.source,
            "tag": trigger.tag,
            "datatype": trigger.datatype,
        }


def _index_of(result: TriggerResult) -> int:
    return result.index


class BatchReport:
    """Every trigger's result, in input order, with counts.

    Built by ``trigger_events`` from compact per-chunk records: the counts are at hand,
    ``failures`` builds only the failing results, and ``results`` builds every
    :class:`TriggerResult` on its first read (then keeps the list). ``BatchReport(results=…)``
    makes one from ready results.
    """

    __hash__ = None  # type: ignore[assignment]  # (it holds a list, as it always did)

    def __init__(self, *, results: Iterable[TriggerResult] = ()) -> None:
        self._chunks: list[ChunkReport] = []
        self._results: list[TriggerResult] | None = read_list("results", results)
        for result in self._results:
            if not isinstance(result, TriggerResult):
                raise InvalidInputError(f"a BatchReport holds TriggerResults, got {shown(result)}")
        self._counts = tuple(sum(r.status == s for r in self._results) for s in _STATUSES)
        self._total = len(self._results)

    @classmethod
    def of_chunks(cls, chunks: list[ChunkReport]) -> BatchReport:
        """The report of these chunks (in any order; they never overlap)."""
        report = cls()
        chunks.sort(key=_first_of)
        report._chunks, report._results = chunks, None
        counts = [c.counts() for c in chunks]
        report._counts = tuple(sum(column) for column in zip(*counts, strict=True)) or (0, 0, 0)
        report._total = sum(c.count for c in chunks)
        return report

    def __repr__(self) -> str:
        accepted, rejected, unknown = self._counts
        return (
            f"<BatchReport {self._total} triggers: {accepted} accepted, "
            f"{rejected} rejected, {unknown} unknown>"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BatchReport):
            return NotImplemented
        return self.results == other.results

    @property
    def results(self) -> list[TriggerResult]:
        """Every result, in input order (built on the first read)."""
        if self._results is None:
            self._results = list(chain.from_iterable(c.results() for c in self._chunks))
            self._chunks = []  # the results hold all of it now
        return self._results

    def iter_results(self) -> Iterator[TriggerResult]:
        """The results one at a time, in input order, without keeping them all (as
        ``results`` does)."""
        if self._results is not None:
            return iter(self._results)
        return chain.from_iterable(c.results() for c in self._chunks)

    @property
    def total(self) -> int:
        """How many triggers the report is about."""
        return self._total

    @property
    def accepted(self) -> int:
        """How many triggers were accepted."""
        return self._counts[0]

    @property
    def rejected(self) -> int:
        """How many the server (or the client's checks) refused."""
        return self._counts[1]

    @property
    def unknown(self) -> int:
        """How many were sent without an answer: they may have happened."""
        return self._counts[2]

    @property
    def failures(self) -> list[TriggerResult]:
        """The results that were not accepted, in input order (built only for those)."""
        if self._results is not None:
            return [r for r in self._results if r.status != "accepted"]
        return list(chain.from_iterable(c.failures() for c in self._chunks))

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
            f"{len(failures)} of {self._total} triggers were not accepted "
            f"({rejected} rejected, {len(failures) - rejected} unknown): " + "; ".join(lines),
            failures=failures,
        )


_STATUSES: tuple[Status, ...] = ("accepted", "rejected", "unknown")


def _first_of(chunk: ChunkReport) -> int:
    return chunk.first
