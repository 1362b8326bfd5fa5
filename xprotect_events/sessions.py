"""The event-session poller: server-side sessions as an async iterator of changes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from .filters import SessionFilter
from .models import SessionChange

if TYPE_CHECKING:
    from .client import XProtectClient


class EventSession:
    """``async with client.event_session(...) as session: async for change in session``."""

    def __init__(
        self,
        client: XProtectClient,
        *,
        types: Iterable[uuid.UUID | str] | None,
        sources: Iterable[uuid.UUID | str] | None,
        source_names: Iterable[str] | None,
        filters: Iterable[SessionFilter] | None,
        since: datetime | None,
        order: Literal["asc", "desc"],
        include_data: bool,
        max_size: int,
        poll_interval: float,
    ) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> EventSession:
        raise NotImplementedError

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        raise NotImplementedError

    def __aiter__(self) -> AsyncIterator[SessionChange]:
        raise NotImplementedError
