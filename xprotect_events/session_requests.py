"""An event session's requests over the client core: create (``POST /eventSessions``), read
(``GET /eventSessions/{id}``) and delete (``DELETE /eventSessions/{id}``), each with the care
:mod:`.sessions` describes: a create cut short by cancellation is waited for (bounded) and
the session it made is deleted; a read that may have reached the server is never resent on
the same session; a delete is bounded in time and never raises.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from . import typed, wire
from .core import Core
from .errors import NotFoundError
from .filters import SessionFilter, SessionOrder
from .options import SessionSpec
from .responses import Response
from .session_cleanup import describe, finish_even_if_cancelled
from .typed import FastRead

log = logging.getLogger("xprotect_events.sessions")

_PATH = "/eventSessions"


class SessionRequests:
    """The requests of one :class:`~xprotect_events.sessions.EventSession` (its filters,
    order, read query and ``close_timeout`` from the spec)."""

    def __init__(self, core: Core, spec: SessionSpec) -> None:
        self._core = core
        self._filters = spec.filters
        self._order = spec.order
        self._params = spec.read_params
        self._close_timeout = spec.close_timeout

    async def create(self, after: datetime | None) -> str:
        """A new session with the spec's filters (and ``time gt after``, to resume), ordered
        by time; its id."""
        filters = self._filters
        if after is not None:
            filters = [*filters, SessionFilter("time", "gt", after)]
        body = {
            "filterBy": [f.to_wire() for f in filters],
            "orderBy": [SessionOrder("time", self._order).to_wire()],
        }
        # Retried like a GET: a create that happened twice leaves only an unused session,
        # which the server drops when idle; no event happens twice.
        creating = asyncio.ensure_future(self._core.request("POST", _PATH, json=body, retry="safe"))
        try:
            response = await asyncio.shield(creating)
        except asyncio.CancelledError:
            # The POST may have reached the server, which then creates the session whether
            # or not we wait: wait for its answer (bounded) and delete what it made.
            await finish_even_if_cancelled(self._forget(creating))
            raise
        return self._created(response)

    def _created(self, response: Response) -> str:
        return self._core.decode(response, wire.session_id_from_wire, "POST", _PATH)

    async def _forget(self, creating: asyncio.Future[Response]) -> None:
        """Delete the session a create abandoned by cancellation made, if it made one."""
        try:
            async with asyncio.timeout(self._close_timeout):
                response = await creating
            session_id = self._created(response)
        except Exception as exc:  # it failed, or took too long: nothing we know to delete
            log.info("an event session create abandoned on cancellation: %s", describe(exc))
            return
        await self.delete(session_id, self._close_timeout)

    async def read(self, session_id: str) -> FastRead:
        """One read of the session, decoded whole."""
        # "unsent": a read that may have reached the server is never resent on the same
        # session (the server may have counted its events as returned): the event session
        # resumes in a new one.
        path = f"{_PATH}/{session_id}"
        decode = typed.session_read
        return await self._core.call(
            "GET", path, decode, params=self._params, retry="unsent", raw=True
        )

    async def delete(self, session_id: str, seconds: float) -> None:
        """Delete the session, waiting at most ``seconds``; a failure is only logged."""
        path = f"{_PATH}/{session_id}"
        try:
            async with asyncio.timeout(seconds):
                await self._core.request("DELETE", path)
        except NotFoundError:
            pass  # already gone: dropped as idle or lost in a restart
        except Exception as exc:  # cleanup never masks what the consumer is handling
            log.warning("could not delete event session %s: %s", session_id, describe(exc))
