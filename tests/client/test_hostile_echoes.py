"""Hostile servers that echo a secret where the library did not look (review of the REST
client): in a reply aiohttp cannot parse (its error quotes the raw bytes), in an accepted
batch item that is no event, in an odd batch item too long to show whole, in what a proxy
sends back (its password, the Basic pair); and answers or inputs that made the library raise
a raw Python error (a huge ``expires_in``, credentials with a lone surrogate, a redirect to
bytes that are not UTF-8).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import urllib.parse
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from aiohttp import web

from tests.hostile import (
    CLIENT_ID,
    CLIENT_SECRET,
    PASSWORD,
    TOKEN,
    TYPE_ID,
    USERNAME,
    Hostile,
    event,
    leaks,
)
from tests.proof.test_hostile_secrets import exposed
from xprotect_events import (
    BatchError,
    EventTrigger,
    InvalidInputError,
    ProtocolError,
    RetryPolicy,
    TransportError,
    XProtectClient,
    XProtectError,
)

ONCE = RetryPolicy(attempts=1)
SECRETS = {"the password": PASSWORD, "the client secret": CLIENT_SECRET, "the token": TOKEN}
PROXY_PASSWORD = "Pr0xy+Pass&w\u00f6rd=/" + "aabbccddeeff00112233445566778899"
#: What ``Proxy-Authorization`` carries (aiohttp encodes the pair as Latin-1).
PROXY_PAIR = base64.b64encode(f"puser:{PROXY_PASSWORD}".encode("latin-1")).decode()
EVENT_ID = "0b2c9a8e-56e1-4d4e-9f3a-000000000001"

#: What the raw server answers an API request: ``answer(headers, body)`` -> the raw reply.
Answer = Callable[[dict[str, str], bytes], bytes]


def good_token() -> bytes:
    body = orjson.dumps({"access_token": TOKEN, "expires_in": 3600})
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    return head % len(body) + body


async def _request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    lines = head.split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    body = await reader.readexactly(length) if length else b""
    return lines[0].split(" ")[1], headers, body


@contextlib.asynccontextmanager
async def raw_server(answer: Answer, *, grants: bool = True) -> AsyncIterator[str]:
    """A loopback server that grants a token (``grants``) and answers anything else with
    the raw bytes of ``answer`` (also as a proxy: it reads absolute-URI requests alike)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                target, headers, body = await _request(reader)
                granting = grants and "connect/token" in target.lower()
                writer.write(good_token() if granting else answer(headers, body))
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


def echo_form(_: dict[str, str], body: bytes) -> bytes:
    """The token endpoint's reply: a header line that repeats the form it got."""
    return b"HTTP/1.1 400 Bad Request\r\n" + body + b"\r\nContent-Length: 0\r\n\r\n"


def auth(headers: dict[str, str]) -> bytes:
    return headers.get("authorization", "").encode()


#: Replies aiohttp cannot parse, each quoting what the request's Authorization carried.
MALFORMED: dict[str, Answer] = {
    "bad header name": lambda h, _: b"HTTP/1.1 200 OK\r\n" + auth(h) + b"\r\n\r\n{}",
    "bad content-length": lambda h, _: (
        b"HTTP/1.1 200 OK\r\nContent-Length: " + auth(h) + b"\r\n\r\n"
    ),
    "bad chunk size": lambda h, _: (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + auth(h)[7:] + b"\r\n{}"
    ),
    "header line too long, cut inside the token": lambda h, _: (
        b"HTTP/1.1 200 OK\r\nX-Echo: " + b"a" * 60 + auth(h)[7:] + b"a" * 9000 + b"\r\n\r\n"
    ),
}


def prefix_shown(text: str, secret: str, most: int = 12) -> bool:
    """Whether ``text`` shows more than ``most`` leading characters of ``secret`` (raw or
    URL-encoded): a secret cut short is no longer recognised as such."""
    lowered = text.lower()
    for form in (secret, urllib.parse.quote(secret, safe="")):
        if form[: most + 1].lower() in lowered:
            return True
    return False


def client(url: str, **kw: Any) -> XProtectClient:
    given = kw or {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    return XProtectClient(url, retry=ONCE, **given)


async def failure(call: Callable[[XProtectClient], Any], url: str, **kw: Any) -> XProtectError:
    async with client(url, **kw) as c:
        with pytest.raises(XProtectError) as caught:
            await call(c)
    return caught.value


# ------------------------------------------------------------------- replies aiohttp rejects


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_a_malformed_reply_quoting_the_token_never_shows_it(case: str) -> None:
    async with raw_server(MALFORMED[case]) as url:
        error = await failure(lambda c: c.get_event(EVENT_ID), url)
    assert isinstance(error, TransportError), repr(error)
    seen = exposed(error)
    assert leaks(seen, SECRETS) == [], str(error)
    assert not prefix_shown(seen, TOKEN), str(error)


@pytest.mark.parametrize("kind", ["password", "client secret"])
async def test_a_malformed_grant_reply_quoting_the_form_never_shows_the_secret(kind: str) -> None:
    kw = {"username": USERNAME, "password": PASSWORD} if kind == "password" else {}
    async with raw_server(echo_form, grants=False) as url:
        error = await failure(lambda c: c.login(), url, **kw)
    assert isinstance(error, TransportError), repr(error)
    assert "/connect/token" in str(error)
    assert leaks(exposed(error), SECRETS) == [], str(error)


async def test_a_malformed_batch_reply_leaves_the_token_out_of_reasons() -> None:
    async with raw_server(MALFORMED["bad header name"]) as url, client(url) as c:
        report = await c.trigger_events([EventTrigger(type=TYPE_ID)])
    (result,) = report.results
    assert result.status == "unknown"
    with pytest.raises(BatchError) as caught:
        report.raise_for_failures()
    assert leaks(f"{result.reason} {result!r} {exposed(caught.value)}", SECRETS) == []


# ------------------------------------------------------------------------- the proxy's secrets


def html_page(status: int, text: str) -> bytes:
    body = b"<html><body><pre>You sent: %s</pre></body></html>" % text.encode()
    head = b"HTTP/1.1 %d X\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n"
    return head % (status, len(body)) + body


PROXY_ANSWERS: dict[str, Answer] = {
    "a malformed reply": lambda h, _: b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
    "407 echoing Proxy-Authorization": lambda h, _: html_page(407, h["proxy-authorization"]),
    "502 echoing the password": lambda h, _: html_page(502, PROXY_PASSWORD),
}


@pytest.mark.parametrize("case", sorted(PROXY_ANSWERS))
async def test_the_proxy_credentials_never_show(case: str) -> None:
    async with raw_server(PROXY_ANSWERS[case]) as proxy_url:
        quoted = urllib.parse.quote(PROXY_PASSWORD, safe="")
        proxy = proxy_url.replace("http://", f"http://puser:{quoted}@")
        kw = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "proxy": proxy}
        error = await failure(lambda c: anext(c.list_events()), "http://127.0.0.2:9", **kw)
    secrets = {"the proxy password": PROXY_PASSWORD, "the Basic pair": PROXY_PAIR}
    assert leaks(exposed(error), secrets) == [], exposed(error)
    assert PROXY_PAIR not in exposed(error)


# ----------------------------------------------------------------------------- batch answers


@pytest.mark.parametrize("where", ["id", "time", "type"])
async def test_an_accepted_item_echoing_the_token_decodes_to_a_scrubbed_error(
    hostile: Hostile, where: str
) -> None:
    async def batch(request: web.Request) -> web.StreamResponse:
        item = {**event(1), where: request.headers["Authorization"][7:]}
        return web.json_response({"array": [item]})

    hostile.on("batch", batch)
    async with client(hostile.url) as c:
        report = await c.trigger_events([EventTrigger(type=TYPE_ID)])
    (result,) = report.results
    assert result.status == "accepted"
    with pytest.raises(ProtocolError) as caught:
        result.event  # noqa: B018 (decoding it is the test)
    assert (caught.value.method, caught.value.path) == ("POST", "/api/rest/v1/events/batch")
    assert leaks(exposed(caught.value) + repr(result), SECRETS) == [], str(caught.value)


async def test_an_odd_item_echoing_a_long_token_shows_none_of_it(hostile: Hostile) -> None:
    long_token = "eyJhbGciOiJSUzI1NiJ9." + TOKEN * 9
    hostile.token_answer = {"access_token": long_token, "expires_in": 3600}

    async def batch(request: web.Request) -> web.StreamResponse:
        return web.json_response({"array": [{"echo": request.headers["Authorization"][7:]}]})

    hostile.on("batch", batch)
    async with client(hostile.url) as c:
        report = await c.trigger_events([EventTrigger(type=TYPE_ID)])
    (result,) = report.results
    assert result.status == "unknown"
    assert "neither an event nor an error" in str(result.reason)
    assert not prefix_shown(f"{result.reason} {exposed(result.error)}", long_token)


# ------------------------------------------------------------------------ raw Python errors


@pytest.mark.parametrize("expires_in", [1e308, 1e14, 300_000_000_000, "300000000000"])
async def test_an_absurd_expires_in_is_a_protocol_error(hostile: Hostile, expires_in: Any) -> None:
    hostile.token_answer = {"access_token": TOKEN, "expires_in": expires_in}
    error = await failure(lambda c: c.login(), hostile.url)
    assert isinstance(error, ProtocolError), repr(error)
    assert "expires_in" in str(error)
    assert "/connect/token" in str(error)


@pytest.mark.parametrize("field", ["username", "password", "client_id", "client_secret"])
async def test_credentials_with_a_lone_surrogate_are_refused_unseen(
    hostile: Hostile, field: str
) -> None:
    secret = "s3cretPassw0rd-\udcff-0123456789abcdef"
    pair = ("username", "password") if field in ("username", "password") else ("client_id",)
    kw = dict.fromkeys(pair + (("client_secret",) if pair == ("client_id",) else ()), "ok-value")
    kw[field] = secret
    with pytest.raises(InvalidInputError) as caught:
        XProtectClient(hostile.url, retry=ONCE, **kw)
    assert field in str(caught.value)
    assert "s3cretPassw0rd" not in exposed(caught.value)
    assert hostile.seen == []


async def test_a_redirect_to_bytes_that_are_not_utf8_gives_a_printable_error() -> None:
    reply = (
        b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere/\xff\xfe\r\nContent-Length: 0\r\n\r\n"
    )
    async with raw_server(lambda h, _: reply) as url:
        error = await failure(lambda c: c.get_event(EVENT_ID), url)
    assert isinstance(error, ProtocolError)
    assert error.status == 302
    assert re.search(r"redirected to http://elsewhere/\S+;", str(error))
    str(error).encode("utf-8")  # no lone surrogate left in it
    repr(error).encode("utf-8")


@pytest.mark.parametrize(
    "echo",
    [
        b"b'Pa+ss&w\\xc3\\xb6rd=\\xc3\\xa9/%s'",  # a Python bytes repr
        b"Pa\\x2bss\\x26w\\xc3\\xb6rd=\\xc3\\xa9/%s",  # JavaScript \x escapes
        b"BASE64",  # the password in base64
    ],
)
async def test_an_echo_in_hex_escapes_or_base64_never_shows_the_password(
    hostile: Hostile, echo: bytes
) -> None:
    tail = PASSWORD.rsplit("/", 1)[1].encode()
    text = base64.b64encode(PASSWORD.encode()) if echo == b"BASE64" else echo % tail
    body = b'{"error": "invalid_grant", "error_description": "bad: %s"}' % text.replace(
        b"\\", b"\\\\"
    )
    hostile.on("token", hostile.answer(400, body))
    error = await failure(lambda c: c.login(), hostile.url, username=USERNAME, password=PASSWORD)
    assert "[redacted]" in str(error)
    assert tail.decode() not in exposed(error)
