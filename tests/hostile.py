"""A deliberately hostile loopback server for the trust proofs (issue 12).

It speaks enough of the wire (WIRE.md: the token grant, events list/get, trigger, batch,
event sessions) to get a client into each bad case, and misbehaves per route as a test
says: ``hostile.on("list", hostile.big(200 * MB))``. Big bodies are generated lazily in
small chunks, so the server never holds them; ``sent[route]`` counts the body bytes it
managed to write (a client that stops early stops the server too).

Routes: ``token``, ``list``, ``get``, ``trigger``, ``batch``, ``create``, ``read``,
``delete``, ``cameras``, ``eventTypes``, ``eventType`` (the last three have no good answer:
a test says).
Every request is recorded in ``seen`` (route, method, URL, body).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
import struct
import urllib.parse
import uuid
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import cache
from typing import Any

import attrs
import orjson
from aiohttp import web

MB = 1024 * 1024
CHUNK = 64 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Secrets with the characters servers escape: ``+``, ``&``, ``=``, ``/`` and non-ASCII.
TOKEN = "Tok+en/Ab&Cd=" + uuid.uuid4().hex
PASSWORD = "Pa+ss&w\u00f6rd=\u00e9/" + uuid.uuid4().hex
CLIENT_SECRET = "Cl+ient&S\u00e9cret=/" + uuid.uuid4().hex
USERNAME = "hostile-user"
CLIENT_ID = "hostile-service"

TYPE_ID = "afbbf1ed-2068-40fa-97a3-7225149024c6"
CAMERA = "cameras/c13f6958-8bc5-4390-b1d7-4b4f9d661563"
SESSION_ID = "5a1e0c51-2f0b-4a3e-8d6e-0f6c9b7a1e22"

HOSTILE_RETRY_AFTER = {"100000 s": "100000", "a date in 2100": "Fri, 01 Jan 2100 00:00:00 GMT"}


def event(number: int, *, tag: str | None = None) -> dict[str, Any]:
    """Event ``number`` in wire form: a fixed id per number, one millisecond apart."""
    return {
        "id": str(uuid.UUID(int=0x0B2C9A8E_56E1_4D4E_9F3A_000000000000 + number)),
        "time": f"2024-05-01T12:00:00.{number:03d}0000Z",
        "type": TYPE_ID,
        "source": CAMERA,
        "tag": tag if tag is not None else f"e{number}",
        "datatype": None,
    }


def echo(number: int, body: dict[str, Any]) -> dict[str, Any]:
    """Event ``number`` as a server answers the trigger ``body``: its fields, an id, a time."""
    fields = {k: body.get(k) for k in ("type", "source", "tag", "datatype")}
    return {**event(number), **fields}


def error_json(status: int, text: bytes) -> bytes:
    """The wrapped error body whose ``errorText`` is ``text``, already JSON string content."""
    return b'{"error":{"httpCode":%d,"details":[{"errorText":"echo: %s"}]}}' % (status, text)


# ---------------------------------------------------------------------------- secret forms


def _json_content(text: str) -> bytes:
    return orjson.dumps(text)[1:-1]


def _dotnet(text: str, *, upper: bool = True, everything: bool = False) -> bytes:
    """JSON string content as .NET writes it: ``+&<>'`` and non-ASCII as ``\\u002B``…"""
    out = []
    for ch in text:
        if everything or ch in "+&<>'\"\\" or not ch.isascii() or not ch.isprintable():
            code = f"{ord(ch):04X}" if upper else f"{ord(ch):04x}"
            out.append(f"\\u{code}")
        else:
            out.append(ch)
    return "".join(out).encode()


#: How a server may echo a secret, as the JSON string content of an error text.
FORMS: dict[str, Callable[[str], bytes]] = {
    "raw": _json_content,
    "url-encoded (+)": lambda s: _json_content(urllib.parse.quote_plus(s)),
    "url-encoded (%20)": lambda s: _json_content(urllib.parse.quote(s, safe="")),
    "url-encoded, lower-case hex": lambda s: _json_content(urllib.parse.quote(s, safe="").lower()),
    "html-escaped": lambda s: _json_content(html.escape(s)),
    "lower-case": lambda s: _json_content(s.lower()),
    ".NET \\u002B": _dotnet,
    ".NET \\u002b (lower hex)": lambda s: _dotnet(s, upper=False),
    ".NET all escaped": lambda s: _dotnet(s, everything=True),
}


_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _decodings(text: str) -> set[str]:
    """``text`` and its readings with URL, HTML and JSON escapes undone (twice over)."""
    variants = {text}
    for _ in range(2):
        for v in list(variants):
            variants |= {
                urllib.parse.unquote(v),
                urllib.parse.unquote_plus(v),
                html.unescape(v),
                _ESCAPE.sub(lambda m: chr(int(m[1], 16)), v),
            }
    return variants


def leaks(text: str, secrets: Mapping[str, str]) -> list[str]:
    """The secrets ``text`` shows, in any escaping or case, whole or by their random tail."""
    readings = [v.lower() for v in _decodings(text)]
    found = []
    for name, secret in secrets.items():
        tail = secret[-32:].lower()
        if any(secret.lower() in r or tail in r for r in readings):
            found.append(name)
    return found


# ---------------------------------------------------------------------------- the server


@attrs.frozen
class Seen:
    route: str
    method: str
    url: str
    body: bytes


def _route(method: str, path: str) -> str:
    path = path.lower().rstrip("/")
    if method == "POST" and path.endswith("/connect/token"):
        return "token"
    api = "/api/rest/v1"
    if not path.startswith(api):
        return "unknown"
    rest = path[len(api) :].split("/")[1:]
    routes = {
        ("GET", 1, "events"): "list",
        ("GET", 2, "events"): "get",
        ("POST", 1, "events"): "trigger",
        ("POST", 2, "events"): "batch",
        ("POST", 1, "eventsessions"): "create",
        ("GET", 2, "eventsessions"): "read",
        ("GET", 1, "cameras"): "cameras",
        ("GET", 1, "eventtypes"): "eventTypes",
        ("GET", 2, "eventtypes"): "eventType",
        ("DELETE", 2, "eventsessions"): "delete",
    }
    return routes.get((method, len(rest), rest[0] if rest else ""), "unknown")


class Hostile:
    """``async with Hostile() as hostile:``; ``hostile.url``; ``hostile.on(route, handler)``.

    By default every route answers well: a token, one page of ``events``, an event per
    batch item, a session whose reads return ``reads`` one by one (then nothing).
    """

    def __init__(self) -> None:
        self.token_answer: dict[str, Any] = {"access_token": TOKEN, "expires_in": 3600}
        self.events: list[dict[str, Any]] = [event(1)]
        self.reads: list[list[dict[str, Any]]] = []
        self.seen: list[Seen] = []
        self.sent: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.closing = asyncio.Event()
        self._behaviour: dict[str, Handler] = {}
        self._runner: web.AppRunner | None = None
        self._port = 0

    async def __aenter__(self) -> Hostile:
        app = web.Application(client_max_size=16 * MB)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.05)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self._port = server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def on(self, route: str, handler: Handler) -> None:
        self._behaviour[route] = handler

    def requests(self, route: str) -> list[Seen]:
        return [s for s in self.seen if s.route == route]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        route = _route(request.method, request.path)
        self.seen.append(Seen(route, request.method, str(request.rel_url), await request.read()))
        handler = self._behaviour.get(route) or getattr(self, f"_good_{route}", None)
        if handler is None:
            return web.json_response({"error": {"httpCode": 404, "details": []}}, status=404)
        self.in_flight[route] += 1
        try:
            return await handler(request)
        finally:
            self.in_flight[route] -= 1

    # ------------------------------------------------------------------ good answers

    async def _good(self, request: web.Request) -> web.StreamResponse:
        good: Handler = getattr(self, f"_good_{_route(request.method, request.path)}")
        return await good(request)

    async def _good_token(self, _: web.Request) -> web.StreamResponse:
        return web.Response(body=orjson.dumps(self.token_answer), content_type="application/json")

    async def _good_list(self, _: web.Request) -> web.StreamResponse:
        return web.json_response({"_links": {}, "array": self.events})

    async def _good_get(self, _: web.Request) -> web.StreamResponse:
        return web.json_response({"data": self.events[0]})

    async def _good_trigger(self, request: web.Request) -> web.StreamResponse:
        stored = {**self.events[0], **orjson.loads(await request.read())}  # what was sent
        return web.json_response({"data": stored}, status=202)

    async def _good_batch(self, request: web.Request) -> web.StreamResponse:
        bodies = orjson.loads(await request.read())
        return web.json_response({"array": [echo(i, b) for i, b in enumerate(bodies)]})

    async def _good_create(self, _: web.Request) -> web.StreamResponse:
        return web.json_response({"filterBy": [], "orderBy": [], "id": SESSION_ID}, status=201)

    async def _good_read(self, _: web.Request) -> web.StreamResponse:
        new = self.reads.pop(0) if self.reads else []
        return web.json_response({"data": {"newEvents": new, "deletedEvents": []}})

    async def _good_delete(self, _: web.Request) -> web.StreamResponse:
        return web.json_response({})

    # ------------------------------------------------------------------ misbehaviours

    def answer(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> Handler:
        """Always this status, body (``application/json`` unless told) and headers."""

        async def handler(_: web.Request) -> web.StreamResponse:
            all_headers = {"Content-Type": "application/json", **(headers or {})}
            return web.Response(status=status, body=body, headers=all_headers)

        return handler

    def then(self, first: Handler) -> Handler:
        """``first`` for the first request, the good answer from then on."""
        calls = [0]

        async def handler(request: web.Request) -> web.StreamResponse:
            calls[0] += 1
            if calls[0] == 1:
                return await first(request)
            return await self._good(request)

        return handler

    def big(
        self,
        size: int,
        *,
        status: int = 200,
        content_type: str = "application/json",
        head: bytes = b'{"_links": {}, "array": [], "padding": "',
        tail: bytes = b'"}',
    ) -> Handler:
        """``size`` bytes (``head``, filler, ``tail``), with Content-Length, chunk by chunk."""

        async def handler(request: web.Request) -> web.StreamResponse:
            resp = web.StreamResponse(status=status, headers={"Content-Type": content_type})
            resp.content_length = size
            return await self._stream(request, resp, _filled(size, head, tail))

        return handler

    def endless(self, *, stop_after: int = 256 * MB) -> Handler:
        """A chunked body that never ends (cut after ``stop_after`` bytes, a safety net)."""

        async def handler(request: web.Request) -> web.StreamResponse:
            resp = web.StreamResponse(headers={"Content-Type": "application/json"})
            return await self._stream(request, resp, _cut(request, stop_after))

        return handler

    def lying_length(self, declared: int, body: bytes, *, then: str = "close") -> Handler:
        """``Content-Length: declared`` with ``body``: fewer bytes than declared (``then``
        "close" cuts the connection, "hang" keeps it silent until the server stops), or more
        (the rest is written past the end, onto the kept-alive connection)."""

        async def handler(request: web.Request) -> web.StreamResponse:
            resp = web.StreamResponse(headers={"Content-Type": "application/json"})
            resp.content_length = declared
            await resp.prepare(request)
            await resp.write(body[:declared])
            transport = request.transport
            assert transport is not None
            if len(body) > declared:
                transport.write(body[declared:])
            elif then == "hang":
                await self.closing.wait()
            else:
                transport.abort()
            return resp

        return handler

    def gzip_bomb(self, inflated: int = 256 * MB, *, status: int = 200) -> Handler:
        """A small gzip body (``Content-Encoding: gzip``) that inflates to ``inflated`` bytes."""

        async def handler(request: web.Request) -> web.StreamResponse:
            body = bomb(inflated)
            headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
            self.sent[_route(request.method, request.path)] += len(body)
            return web.Response(status=status, body=body, headers=headers)

        return handler

    def hold(self, release: asyncio.Event) -> Handler:
        """No answer until ``release`` is set (or the server stops), then the good one."""

        async def handler(request: web.Request) -> web.StreamResponse:
            done = asyncio.ensure_future(self.closing.wait())
            try:
                await asyncio.wait(
                    [asyncio.ensure_future(release.wait()), done],
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                done.cancel()
            return await self._good(request)

        return handler

    async def _stream(
        self, request: web.Request, resp: web.StreamResponse, chunks: Iterable[bytes]
    ) -> web.StreamResponse:
        """Write ``chunks`` (counted in ``sent``) and the end of the body."""
        route = _route(request.method, request.path)
        with contextlib.suppress(ConnectionError, RuntimeError):  # the client hung up
            await resp.prepare(request)
            for chunk in chunks:
                await resp.write(chunk)
                self.sent[route] += len(chunk)
            await resp.write_eof()
        return resp


def _filled(size: int, head: bytes, tail: bytes) -> Iterable[bytes]:
    """``head``, ``a`` filler and ``tail``, ``size`` bytes in all, in chunks (lazily)."""
    yield head
    left = size - len(head) - len(tail)
    filler = b"a" * CHUNK
    while left > 0:
        piece = filler[: min(left, CHUNK)]
        left -= len(piece)
        yield piece
    yield tail


def _cut(request: web.Request, size: int) -> Iterable[bytes]:
    """``size`` bytes of a body, then the connection cut (no end of the body)."""
    yield from _filled(size, b'{"array": [', b"")
    if request.transport is not None:
        request.transport.abort()


@cache
def bomb(inflated: int) -> bytes:
    """A gzip stream of about ``inflated`` bytes, fast: past the first megabyte of zeros,
    each megabyte compresses to the same block, which is repeated."""
    head, tail, filler = b'{"array": [], "padding": "', b'"}', b"0" * MB
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [packer.compress(head), packer.compress(filler), packer.flush(zlib.Z_SYNC_FLUSH)]
    block = packer.compress(filler) + packer.flush(zlib.Z_SYNC_FLUSH)
    count = max(1, inflated // MB)
    parts.append(block * (count - 1))
    parts.append(packer.compress(tail) + packer.flush())
    crc = zlib.crc32(head)
    for _ in range(count):
        crc = zlib.crc32(filler, crc)
    crc = zlib.crc32(tail, crc)
    size = len(head) + count * MB + len(tail)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + b"".join(parts) + struct.pack("<II", crc, size & 0xFFFFFFFF)
