"""The places where the library leans on aiohttp beyond its documented API.

Kept here, and only here, so that an aiohttp upgrade that changes them shows in one file;
``tests/client/test_aiohttp_internals.py`` fails loudly if either is gone or changed.

1. ``ClientSession._retry_connection`` (aiohttp >= 3.9): aiohttp silently resends a GET or
   DELETE once when a kept-alive connection turns out to be cut, even after the server
   acted on it (an event-session read whose answer was lost would then skip a page).
   Retrying is :mod:`.policy`'s decision alone, so it is switched off on every session.
2. ``TCPConnector.connect(req, traces, timeout)``: NTLM authenticates a TCP connection,
   not a request, so the handshake must know that both of its POSTs used one connection.
   :class:`OneConnection` overrides ``connect`` to record the connection each request got.
3. ``ClientSession.ws_connect`` follows redirects and takes no ``allow_redirects``: a live
   stream's upgrade would go wherever a ``Location`` says (the token, in the header to the
   same origin or in an ``authenticate`` command to any). :func:`refusing_redirects` is a
   trace config whose redirect hook raises instead, on the session that makes the upgrades
   (:attr:`.transport.Transport.ws_session`; every other request says
   ``allow_redirects=False``, and a trace config costs each request some microseconds).
"""

from __future__ import annotations

import asyncio
import ssl

import aiohttp
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection
from aiohttp.tracing import Trace


def without_silent_resend(session: aiohttp.ClientSession) -> aiohttp.ClientSession:
    """``session``, told never to resend a request by itself (see 1. above)."""
    session._retry_connection = False
    return session


def refusing_redirects() -> aiohttp.TraceConfig:
    """A trace config that stops a redirect before it is followed (see 3. above): the
    redirect answer raises :class:`aiohttp.WSServerHandshakeError` with its status (the
    live stream reports it as that refused upgrade)."""

    async def refuse(
        _: aiohttp.ClientSession, __: object, params: aiohttp.TraceRequestRedirectParams
    ) -> None:
        answer = params.response
        raise aiohttp.WSServerHandshakeError(
            answer.request_info,
            (),  # no history: its responses would keep the request's headers unmasked
            status=answer.status,
            message="redirect not followed",
            headers=answer.headers,
        )

    config = aiohttp.TraceConfig()
    config.on_request_redirect.append(refuse)
    return config


class OneConnection(aiohttp.TCPConnector):
    """A connector of at most one kept-alive connection that remembers which one each
    request used (so the NTLM handshake can tell whether its legs shared it)."""

    def __init__(self, tls: ssl.SSLContext | bool) -> None:
        super().__init__(limit=1, limit_per_host=1, force_close=False, ssl=tls)
        self.used: list[asyncio.BaseTransport | None] = []

    async def connect(
        self,
        req: ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109
    ) -> Connection:
        connection = await super().connect(req, traces, timeout)
        self.used.append(connection.transport)
        return connection

    @property
    def one_connection(self) -> bool:
        """Whether every request so far went over the same connection."""
        return all(t is not None and t is self.used[0] for t in self.used)
