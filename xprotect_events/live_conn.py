"""One Events and State WebSocket: the upgrade with its token, commands by ``commandId``,
and a reader that routes every frame (a response to the command waiting for it, an event
batch to the stream's sink) so that events keep flowing while a command waits.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import aiohttp
import attrs
from yarl import URL

from . import ws_wire
from .errors import (
    APIError,
    ConnectError,
    ErrorDetail,
    ProtocolError,
    RequestTimeoutError,
    TransportError,
    UnauthorizedError,
    XProtectError,
    api_error_class,
)
from .models import Event
from .policy import parse_retry_after
from .redaction import scrubbed
from .responses import shown_text
from .transport_errors import without_secrets

log = logging.getLogger("xprotect_events.live")

#: Where errors name the API.
WS_PATH = "/api/ws/events/v1"
#: How long closing a socket may take before it is cut.
CLOSE_TIMEOUT = 2.0
#: The longest text of an error about a frame: a bad value or an ``errorText`` is quoted
#: up to this.
MAX_MESSAGE = 1000
#: The close codes of aiohttp's errors for a frame that breaks RFC 6455: protocol error,
#: invalid UTF-8 in a text frame.
_BROKEN_FRAME = (1002, 1007)


class TokenSource(Protocol):
    """What a connection needs of the token manager (``auth.TokenManager`` fits)."""

    async def token(self) -> str: ...

    async def renew(self, stale: str) -> str: ...


class CommandError(APIError):
    """A WebSocket command failed: ``status`` and ``error_text`` are the server's."""


#: Called with the connection and each event batch, in order; awaiting it is the
#: back-pressure. ``wake`` is called when a command starts waiting for its answer.
Sink = Callable[["Connection", list[Event]], Awaitable[None]]
#: What no message may show (the tokens, the credentials' and the proxy's secrets), asked
#: when a message is made.
Secrets = Callable[[], tuple[str, ...]]
#: What to do with the answer to a command whose wait was cut short.
Late = Callable[[ws_wire.Reply], None]


class Connection:
    """A connected socket; :meth:`command` sends and waits for the matching response.

    Every message made of what the server sent (a command's ``errorText``, a bad frame's
    values, the socket's failure) has ``secrets()`` taken out, whatever their escaping.
    """

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        sink: Sink,
        max_frame: int,
        wake: Callable[[], None] | None = None,
        secrets: Secrets = tuple,
    ) -> None:
        self.ws = ws
        self._sink = sink
        self._wake = wake
        self._max_frame = max_frame
        self._secrets = secrets
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[ws_wire.Reply]] = {}
        self._names: dict[int, str] = {}  # of the commands sent and not done yet, by id
        self._late: dict[int, Late] = {}  # the commands cut short, whose answer is wanted
        self._oversized = False
        #: Why the connection ended (None while it is open or when we closed it).
        self.error: XProtectError | None = None
        #: Whether the error is the stream's to raise (a bad frame: the server would send
        #: it again on every resume), not a reason to reconnect.
        self.fatal = False
        #: Whether a new event came (the sink says so: a repeat does not count).
        self.received = False
        self.reader = asyncio.create_task(self._read(), name="xprotect-live-reader")

    @property
    def commands_waiting(self) -> bool:
        return bool(self._waiting)

    @property
    def closed(self) -> bool:
        return self.reader.done()

    async def command(
        self, name: str, within: float | None = None, late: Late | None = None, **fields: Any
    ) -> ws_wire.Reply:
        """Send a command; its response, or :class:`CommandError` for a non-2xx status
        (:class:`RequestTimeoutError` if it is not sent and answered ``within`` seconds).
        ``late``: called with the answer if it comes after the wait was cut short (the
        timeout, or the caller cancelled): the server may have done what was asked."""
        if self.closed:
            raise self.error or TransportError(
                "the connection is closed", method=name, path=WS_PATH
            )
        command_id = next(self._ids)
        future: asyncio.Future[ws_wire.Reply] = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = future
        self._names[command_id] = name
        if self._wake is not None:
            self._wake()
        try:
            frame = ws_wire.command(name, command_id, **fields)
            async with asyncio.timeout(within):  # a server that stops reading: the send waits
                await self.ws.send_frame(frame, aiohttp.WSMsgType.TEXT)
                reply = await future
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise TransportError(
                f"the connection failed: {exc}", method=name, path=WS_PATH
            ) from None
        except TimeoutError:
            text = f"no answer in {within} s"
            raise RequestTimeoutError(text, method=name, path=WS_PATH) from None
        finally:
            self._waiting.pop(command_id, None)
            del self._names[command_id]
            if late is not None and (future.cancelled() or not future.done()):  # unanswered
                self._late[command_id] = late
        if not reply.ok:
            raise failed(name, reply, self._secrets())
        return reply

    async def states(self, within: float | None) -> list[Event]:
        """``getState``: the states its answer gives."""
        reply = await self.command("getState", within)
        try:
            return ws_wire.states_from_reply(reply)
        except ProtocolError as exc:
            raise self._bad(exc, "getState") from None

    async def start_session(
        self, previous: str | None, last: uuid.UUID | None, within: float | None
    ) -> tuple[str, bool]:
        """``startSession``: resume the session ``previous`` after the event ``last`` (None:
        a new session); the session id the answer names (:class:`ProtocolError` if none),
        and whether it resumed ``previous`` (``200`` with its id)."""
        last_id = "" if last is None or previous is None else str(last)
        reply = await self.command(
            "startSession", within, sessionId=previous or "", eventId=last_id
        )
        session_id = reply.body.get("sessionId")
        if not isinstance(session_id, str) or not session_id:
            text = "the answer has no 'sessionId'"
            raise ProtocolError(text, method="startSession", path=WS_PATH)
        return session_id, reply.status == 200 and previous is not None and session_id == previous

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    if (frame := self._parse(msg.data)) is not None:
                        await self._route(frame)
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    raise ProtocolError("the server sent a binary frame", path=WS_PATH)
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    raise self._frame_error(msg.data)
            self.error = _closed_error(self.ws.close_code)
        except XProtectError as exc:
            self.error = exc
            # a frame over the limit while a command waits is most likely its answer:
            # the command fails, and the stream reconnects
            self.fatal = isinstance(exc, ProtocolError) and not (self._oversized and self._waiting)
        except (aiohttp.ClientError, ConnectionError) as exc:
            self.error = self._frame_error(exc)
        finally:
            error = self.error or TransportError("the connection was closed", path=WS_PATH)
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(error)
            await self._close_quietly()

    def _parse(self, text: str) -> ws_wire.Reply | list[Event] | None:
        """The frame; None for a malformed answer to a waiting command, which gets the
        :class:`ProtocolError` (any other bad frame raises it: it ends the connection)."""
        try:
            return ws_wire.parse_frame(text)
        except ProtocolError as exc:
            command_id = ws_wire.command_id_of(text) or 0  # (ids start at 1)
            future = self._waiting.pop(command_id, None)
            if future is None:
                raise self._bad(exc) from None
            if not future.done():
                future.set_exception(self._bad(exc, self._names.get(command_id, "")))
            return None

    async def _route(self, frame: ws_wire.Reply | list[Event]) -> None:
        if isinstance(frame, list):
            await self._sink(self, frame)
            return
        future = self._waiting.pop(frame.command_id, None)  # answered: no longer waiting
        if future is not None and not future.done():
            future.set_result(frame)
        elif (late := self._late.pop(frame.command_id, None)) is not None:
            late(frame)

    def _bad(self, exc: ProtocolError, method: str = "") -> ProtocolError:
        """``exc`` about the command ``method`` (none: a frame no command waited for) on
        this API's path, without the secrets its message may quote, cut if it quotes a
        huge value."""
        text = shown_text(self._scrubbed(exc.args[0]), MAX_MESSAGE)
        return ProtocolError(text, method=method, path=WS_PATH)

    def _scrubbed(self, text: str) -> str:
        return scrubbed(text, self._secrets())

    def _frame_error(self, exc: object) -> XProtectError:
        if isinstance(exc, aiohttp.WebSocketError) and exc.code in _BROKEN_FRAME:
            # the server's bug (invalid UTF-8 in a text frame, a bad opcode or length …):
            # it would send it again on every resume
            text = self._scrubbed(f"the server sent a frame that breaks the protocol: {exc}")
            return ProtocolError(text, path=WS_PATH)
        if isinstance(exc, aiohttp.WebSocketError) and exc.code == 1009:
            self._oversized = True
            return ProtocolError(
                f"the server sent a frame over max_frame_size ({self._max_frame} bytes; close "
                "code 1009): raise max_frame_size (a getState answer of a large system is "
                "tens of MB)",
                path=WS_PATH,
            )
        return TransportError(self._scrubbed(f"the connection failed: {exc}"), path=WS_PATH)

    async def close(self) -> None:
        """Close the socket (code 1000) and stop the reader; safe to call twice."""
        await self._close_quietly()
        if not self.reader.done():
            self.reader.cancel()
        await asyncio.gather(self.reader, return_exceptions=True)

    async def _close_quietly(self) -> None:
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self.ws.close()
        except (TimeoutError, aiohttp.ClientError, ConnectionError):
            pass


def failed(name: str, reply: ws_wire.Reply, secrets: tuple[str, ...] = ()) -> CommandError:
    """The error of a command's non-2xx answer (its ``errorText`` without ``secrets``,
    control characters escaped, cut to :data:`MAX_MESSAGE`; scrubbed first: no secret is
    cut in half)."""
    text = reply.error_text and shown_text(scrubbed(reply.error_text, secrets), MAX_MESSAGE)
    message = f"status {reply.status}" + (f": {text}" if text else "")
    details = (ErrorDetail(error_text=text),) if text else ()
    return CommandError(message, method=name, path=WS_PATH, status=reply.status, details=details)


def _closed_error(code: int | None) -> TransportError:
    return TransportError(f"the server closed the connection (code {code})", path=WS_PATH)


@attrs.frozen(kw_only=True)
class SocketOptions:
    """How to open a socket: TLS, where the token goes, pings, frame limit, connect timeout."""

    ssl: ssl.SSLContext | bool
    auth: str
    heartbeat: float | None
    max_frame: int
    connect_within: float
    secrets: Secrets = tuple


async def connect(
    session: aiohttp.ClientSession,
    url: URL,
    tokens: TokenSource,
    options: SocketOptions,
    sink: Sink,
    wake: Callable[[], None],
) -> Connection:
    """Connect and authenticate; a refused token (401) is renewed once and tried again."""

    def connection(ws: aiohttp.ClientWebSocketResponse) -> Connection:
        return Connection(ws, sink, options.max_frame, wake, options.secrets)

    token = await tokens.token()
    try:
        return await _connect_once(session, url, token, options, connection)
    except UnauthorizedError:
        token = await tokens.renew(token)
    return await _connect_once(session, url, token, options, connection)


async def _connect_once(
    session: aiohttp.ClientSession,
    url: URL,
    token: str,
    options: SocketOptions,
    connection: Callable[[aiohttp.ClientWebSocketResponse], Connection],
) -> Connection:
    headers = {"Authorization": f"Bearer {token}"} if options.auth == "header" else {}
    try:
        async with asyncio.timeout(options.connect_within):
            ws = await session.ws_connect(
                url,
                headers=headers,
                heartbeat=options.heartbeat,
                max_msg_size=options.max_frame + 1,  # (aiohttp refuses a message that long)
                ssl=options.ssl,
            )
    except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
        # aiohttp's error rides along as our error's __context__: cleaned of the token
        # (its copy of the request's headers) and of what the server echoed
        raise _upgrade_error(without_secrets(exc, (token, *options.secrets()))) from None
    conn = connection(ws)
    if options.auth == "command":
        await _authenticate(conn, token, options.connect_within)
    return conn


def _upgrade_error(exc: BaseException) -> XProtectError:
    """The library's error for a failed upgrade."""
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        retry_after = parse_retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        return api_error_class(exc.status)(
            f"the upgrade was refused: HTTP {exc.status}",
            method="GET",
            path=WS_PATH,
            status=exc.status,
            retry_after=retry_after,
        )
    if isinstance(exc, aiohttp.ClientConnectorError | TimeoutError):
        text = f"could not connect: {type(exc).__name__}"
        return ConnectError(text, method="GET", path=WS_PATH)
    return TransportError(f"connection failed: {type(exc).__name__}", method="GET", path=WS_PATH)


async def _authenticate(conn: Connection, token: str, within: float) -> None:
    try:
        await conn.command("authenticate", within, token=f"Bearer {token}")
    except CommandError as exc:
        await conn.close()
        if exc.status == 401:
            raise UnauthorizedError(
                exc.args[0], method="authenticate", path=WS_PATH, status=401, details=exc.details
            ) from None
        raise
    except BaseException:
        await conn.close()
        raise


def ws_url(server: URL, path: str) -> URL:
    """``ws://`` or ``wss://`` for the server's ``http://`` or ``https://``."""
    scheme = "wss" if server.scheme == "https" else "ws"
    return server.with_scheme(scheme).with_path(server.path.rstrip("/") + path)
