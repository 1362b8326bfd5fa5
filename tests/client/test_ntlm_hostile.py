"""A hostile identity provider against the Windows (NTLM) login (fresh-eyes audit): the
AUTHENTICATE message the client sent (its NTLMv2 response: the password can be cracked
from it offline) is a credential like the password; an answer echoing it, in any
escaping, never shows it in an error, a repr or a log line."""

from __future__ import annotations

import base64
import logging
import re
import traceback
import urllib.parse
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from xprotect_events import AuthenticationError, RetryPolicy, XProtectClient

spnego = pytest.importorskip("spnego")

PASSWORD = "Win+Pass&w\u00f6rd=/0123456789abcdef"
ONCE = RetryPolicy(attempts=1)

#: How the server echoes the AUTHENTICATE message's base64.
FORMS: dict[str, Callable[[str], str]] = {
    "raw": lambda s: s,
    "url-encoded": lambda s: urllib.parse.quote(s, safe=""),
    "json \\u escapes": lambda s: s.replace("+", "\\u002B").replace("/", "\\u002F"),
    "the whole header": lambda s: f"NTLM {s}",
}


class EchoingIdP:
    """NEGOTIATE gets a real CHALLENGE; AUTHENTICATE gets a 400 echoing it (in ``form``)."""

    def __init__(self, form: Callable[[str], str]) -> None:
        self.form = form
        self.sent: list[str] = []  # the AUTHENTICATE messages, as base64
        self.url = ""

    async def token(self, request: web.Request) -> web.Response:
        await request.read()
        blob = request.headers.get("Authorization", "").partition(" ")[2]
        message = base64.b64decode(blob)
        if message[8:12] == b"\x01\x00\x00\x00":  # NEGOTIATE
            server = spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)
            challenge = base64.b64encode(server.step(message) or b"").decode()
            return web.Response(status=401, headers={"WWW-Authenticate": f"NTLM {challenge}"})
        self.sent.append(blob)
        echo = self.form(blob)
        body = {"error": "invalid_grant", "error_description": f"refused {echo}"}
        return web.Response(status=400, body=orjson.dumps(body), content_type="application/json")


@pytest.fixture
async def idp(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EchoingIdP]:
    users = tmp_path / "ntlm-users"
    users.write_text("")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    server = EchoingIdP(FORMS[request.param])
    app = web.Application()
    app.router.add_post("/IDP/connect/token", server.token)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield server
    finally:
        await runner.cleanup()


def readable(text: str) -> str:
    """``text`` with the echo's escapes undone (URL, JSON ``\\u00XX``)."""
    return urllib.parse.unquote(re.sub(r"\\u00([0-9A-F]{2})", lambda m: chr(int(m[1], 16)), text))


async def refused_login(idp: EchoingIdP) -> tuple[AuthenticationError, str]:
    """The refused login's error, and the middle of the AUTHENTICATE message it sent (its
    own bytes in any base64 alignment)."""
    async with XProtectClient(
        idp.url, username="CORP\\alice", password=PASSWORD, windows=True, retry=ONCE
    ) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.login()
    [blob] = idp.sent
    return caught.value, blob[16:-16]


@pytest.mark.parametrize("idp", sorted(FORMS), indirect=True)
async def test_an_echoed_authenticate_message_never_shows_in_the_error(idp: EchoingIdP) -> None:
    exc, middle = await refused_login(idp)
    shown = [str(exc), repr(exc), str(exc.error_description), *traceback.format_exception(exc)]
    assert middle not in readable(" ".join(shown))
    assert "refused" in str(exc)  # the server's words are still shown, without the message


@pytest.mark.parametrize("idp", ["raw"], indirect=True)
async def test_the_handshake_messages_are_never_logged(
    idp: EchoingIdP, caplog: pytest.LogCaptureFixture
) -> None:
    # pyspnego logs every message it makes at DEBUG, and --debug turns on every logger
    caplog.set_level(logging.DEBUG)
    _, middle = await refused_login(idp)
    assert caplog.records
    assert not [r for r in caplog.records if middle in r.getMessage()]
