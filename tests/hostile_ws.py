"""A scripted Events and State WebSocket server for tests: each connection runs the test's
scenario, which answers (or does not answer) the client's commands as it likes.

Beside the socket it serves the token endpoint (one token, with characters that escaping
changes) and ``GET /events`` from a list of stored events (``time gt`` honoured), for
gap fills. Every command each connection received is kept, in order.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from xprotect_events import Event, Gap, RetryPolicy, XProtectClient
from xprotect_events.live import LiveStream

TOKEN = "Tok+en/Ab&Cd=" + uuid.uuid4().hex
TYPE_ID = "afbbf1ed-2068-40fa-97a3-7225149024c6"
CAMERA = "cameras/c13f6958-8bc5-4390-b1d7-4b4f9d661563"
FAST = RetryPolicy(attempts=4, backoff_initial=0.01, backoff_max=0.05, jitter=0.01)

Scenario = Callable[["Socket"], Awaitable[None]]
#: Answers the upgrade request instead of the socket (a refused upgrade), or None.
Upgrade = Callable[[web.Request], Awaitable[web.StreamResponse | None]]


def event(n: int) -> dict[str, Any]:
    """Event number ``n`` (0-59999), ``n`` ms after 12:00:00, its number in its id."""
    return {
        "id": str(uuid.UUID(int=n + 1)),
        "time": f"2024-05-01T12:00:{n // 1000:02d}.{n % 1000:03d}0000Z",
        "type": TYPE_ID,
        "source": CAMERA,
        "datatype": None,
    }


async def items(live: LiveStream, count: int) -> list[Event | Gap]:
    """The next ``count`` items of the stream (fewer if it ends), within 10 s."""
    got: list[Event | Gap] = []
    async with asyncio.timeout(10):
        async for item in live:
            got.append(item)
            if len(got) == count:
                return got
    return got


def number(item: object) -> int:
    """The number of an event made by :func:`event` (``-1`` for anything else)."""
    event_id = getattr(item, "id", None)
    return event_id.int - 1 if isinstance(event_id, uuid.UUID) else -1


class Socket:
    """One accepted connection, as its scenario sees it."""

    def __init__(
        self, ws: web.WebSocketResponse, number: int, request: web.Request | None = None
    ) -> None:
        self.ws = ws
        self.number = number
        self.request = request
        self.commands: list[dict[str, Any]] = []
        #: The close code the client sent, once the scenario is over (None: it sent none).
        self.close_code: int | None = None

    async def command(self, name: str | None = None) -> dict[str, Any]:
        """The next command (checked to be ``name``); AssertionError if the socket ends."""
        msg = await self.ws.receive()
        assert msg.type.name == "TEXT", msg
        command: dict[str, Any] = json.loads(msg.data)
        self.commands.append(command)
        assert name is None or command["command"] == name, command
        return command

    async def send(self, frame: Any) -> None:
        await self.ws.send_str(json.dumps(frame))

    async def answer(self, command: dict[str, Any], status: int = 200, **body: Any) -> None:
        await self.send({"commandId": command["commandId"], "status": status, **body})

    async def events(self, *numbers: int, **changed: Any) -> None:
        await self.send({"events": [dict(event(n), **changed) for n in numbers]})

    async def open(self, session_id: str, status: int = 201) -> None:
        """Answer ``startSession`` (and, for a new session, ``addSubscription``)."""
        await self.answer(await self.command("startSession"), status, sessionId=session_id)
        if status == 201:
            command = await self.command("addSubscription")
            await self.answer(command, subscriptionId=f"sub-{self.number}")

    async def until_closed(self) -> None:
        """Read (and keep) commands, answering none, until the client closes."""
        while (msg := await self.ws.receive()).type.name == "TEXT":
            self.commands.append(json.loads(msg.data))

    async def serve(self) -> None:
        """Answer every command as a server would (a subscription id, no states), until
        the client closes."""
        while (msg := await self.ws.receive()).type.name == "TEXT":
            command = json.loads(msg.data)
            self.commands.append(command)
            extra = {"addSubscription": {"subscriptionId": "s"}, "getState": {"states": []}}
            await self.answer(command, **extra.get(command["command"], {}))

    async def raw(self, first: int, payload: bytes) -> None:
        """One frame as written: ``first`` is its first byte (FIN bit and opcode), the
        payload unmasked (a server's frame), of any length and opcode."""
        size = len(payload)
        if size < 126:
            header = bytes([first, size])
        elif size < 1 << 16:
            header = bytes([first, 126]) + size.to_bytes(2, "big")
        else:
            header = bytes([first, 127]) + size.to_bytes(8, "big")
        self._transport().write(header + payload)

    def _transport(self) -> asyncio.Transport:
        transport = self.request.transport if self.request else None
        assert isinstance(transport, asyncio.Transport)
        return transport

    @property
    def closing(self) -> bool:
        """Whether the connection is closed or closing."""
        return self.ws.closed or self._transport().is_closing()

    def stop_reading(self) -> None:
        """Read nothing more: what the client sends waits in the socket buffers."""
        self._transport().pause_reading()

    def read_again(self) -> None:
        self._transport().resume_reading()


class HostileWS:
    """``async with HostileWS(scenario) as server:``; ``server.client()`` connects to it."""

    def __init__(
        self, scenario: Scenario, upgrade: Upgrade | None = None, *, autoping: bool = True
    ) -> None:
        self.scenario = scenario
        self.upgrade = upgrade
        #: Whether the server answers pings (False: it never sends a pong).
        self.autoping = autoping
        #: Upgrade requests, answered or refused.
        self.upgrades = 0
        self.sockets: list[Socket] = []
        self.stored: list[dict[str, Any]] = []
        self.queries: list[str] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> HostileWS:
        app = web.Application()
        app.router.add_get("/api/ws/events/v1", self._socket)
        app.router.add_post("/API/IDP/connect/token", self._token)
        app.router.add_get("/api/rest/v1/events", self._listing)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def client(self, **options: Any) -> XProtectClient:
        options.setdefault("retry", FAST)
        return XProtectClient(self.url, client_id="svc", client_secret="Se+cret/x", **options)

    async def _token(self, _: web.Request) -> web.Response:
        return web.json_response({"access_token": TOKEN, "expires_in": 3600})

    async def _listing(self, request: web.Request) -> web.Response:
        return await self._list(request)  # looked up now: a test may replace it

    async def _list(self, request: web.Request) -> web.Response:
        self.queries.append(request.query_string)
        found = re.fullmatch(r"gt:'([^']+)'", request.query.get("time", ""))
        since = _time(found[1]) if found else None
        array = [e for e in self.stored if since is None or _time(e["time"]) > since]
        return web.json_response({"array": sorted(array, key=lambda e: _time(e["time"]))})

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        self.upgrades += 1
        if self.upgrade is not None and (refused := await self.upgrade(request)) is not None:
            return refused
        # frames as written, sizes as sent
        ws = web.WebSocketResponse(compress=False, autoping=self.autoping)
        await ws.prepare(request)
        socket = Socket(ws, len(self.sockets) + 1, request)
        self.sockets.append(socket)
        await self.scenario(socket)
        socket.close_code = ws.close_code
        await ws.close()
        return ws


def _time(text: str) -> datetime:
    """A wire time (7 fraction digits, ``Z``) as an aware datetime, to the microsecond."""
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", text.replace("Z", "+00:00")))
