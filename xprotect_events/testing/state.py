"""What the route handlers share (:class:`SimState`, reached with :func:`state_of`) and the
counters a test reads (:class:`Stats`). The state outlives a restart of the web server."""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import attrs
from aiohttp import web
from multidict import MultiDictProxy

from .clock import SimClock
from .cors import CorsPolicy
from .directory import Directory
from .faults import Faults
from .records import Record
from .sessions import SessionTable
from .store import EventStore
from .tokens import Tokens
from .websocket import LiveRoom


@attrs.define
class Stats:
    """Counters a test or a benchmark reads (``sim.stats``); mutable, :meth:`reset` zeroes them.

    ``token_requests``: every POST to the token endpoint; ``tokens_issued``: tokens it gave
    (``sim.issue_token`` is not counted); ``events_accepted``: triggers the server accepted
    (stored or not, by retention); ``events_stored_total``: events ever stored (HTTP and
    ``store_events``); ``requests``: by route key ``"METHOD /route/template"`` (aliases
    folded, faulted requests included). ``in_flight`` is a gauge, not a counter: requests
    being handled right now, including a delayed or cut one whose client already gave up
    (wait for 0 before comparing what was stored; :meth:`reset` leaves it alone).
    """

    token_requests: int = 0
    tokens_issued: int = 0
    events_accepted: int = 0
    events_stored_total: int = 0
    requests: collections.Counter[str] = attrs.field(factory=collections.Counter)
    in_flight: int = 0

    def reset(self) -> None:
        """Zero every counter (not the ``in_flight`` gauge)."""
        self.token_requests = self.tokens_issued = 0
        self.events_accepted = self.events_stored_total = 0
        self.requests.clear()

    def count_stored(self, records: Sequence[Record]) -> None:
        """An :attr:`EventStore.on_stored` listener: counts what the store kept."""
        self.events_stored_total += len(records)


#: Marks a request that came to the identity provider through the API Gateway's path
#: (``request[VIA_GATEWAY]``): a Windows handshake cannot complete there [sample].
VIA_GATEWAY = web.RequestKey("via_gateway", bool)

#: Authenticates a ``windows_credentials`` grant: a username when done, or the response to
#: send (a 401 NTLM challenge). ``idp.challenge_windows`` is the one without NTLM.
WindowsAuth = Callable[[web.Request, MultiDictProxy[Any]], Awaitable["str | web.StreamResponse"]]


@attrs.define
class SimState:
    """Everything the handlers share; it outlives a restart of the web server."""

    clock: SimClock
    directory: Directory
    store: EventStore
    sessions: SessionTable
    tokens: Tokens
    stats: Stats
    faults: Faults
    windows_auth: WindowsAuth
    max_batch: int = 100
    base_url: str = ""
    #: Whether a Windows (NTLM) grant may complete at the gateway's token path (real
    #: gateways do not pass NTLM through [sample]; an installation that differs can).
    ntlm_at_gateway: bool = False
    #: Receives one access-log line per request (None: no access log).
    access_log: Callable[[str], None] | None = None
    #: The API Gateway's CORS settings (None: off, as on a gateway by default).
    cors: CorsPolicy | None = None
    live: LiveRoom | None = None

    def now_us(self) -> int:
        return self.clock.now_us()

    def sweep(self) -> int:
        """Apply retention now (lazy: cheap when nothing is due)."""
        return self.store.sweep(self.clock.now_us())


STATE = web.AppKey("state", SimState)


def state_of(request: web.Request) -> SimState:
    return request.app[STATE]
