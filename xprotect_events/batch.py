"""Chunked, concurrent triggering with a result for every trigger."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Literal

import attrs

from .errors import BatchError, XProtectError
from .models import Event, EventTrigger

if TYPE_CHECKING:
    from .client import TriggersLike, XProtectClient

Status = Literal["accepted", "rejected", "unknown"]
#: ``on_progress(done, total)``: triggers accounted for so far, and the total when known.
Progress = Callable[[int, int | None], None]


@attrs.frozen(kw_only=True)
class TriggerResult:
    """What happened to one trigger; ``index`` is its position in the input.

    ``accepted``: the server stored or processed it, ``event`` is its answer.
    ``rejected``: the server (or the client, before sending: ``sent`` False) refused it;
    ``error`` says why. ``unknown``: it was sent and no answer came; it may have happened.
    """

    index: int
    trigger: EventTrigger | object
    status: Status
    event: Event | None = None
    error: XProtectError | None = None
    sent: bool = True

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
        if failures:
            raise BatchError(
                f"{len(failures)} of {len(self.results)} triggers did not land",
                failures=failures,
            )


async def trigger_events(
    client: XProtectClient,
    triggers: TriggersLike,
    *,
    chunk_size: int,
    concurrency: int,
    on_progress: Progress | None,
    reject_invalid: bool,
) -> BatchReport:
    raise NotImplementedError


def stream_trigger(
    client: XProtectClient,
    triggers: TriggersLike,
    *,
    chunk_size: int,
    concurrency: int,
    on_progress: Progress | None,
    reject_invalid: bool,
) -> AsyncIterator[TriggerResult]:
    raise NotImplementedError
