"""``client.subscribe`` against a WebSocket server that echoes the token back (in every
form: raw, URL-encoded, JSON ``\\uXXXX`` escapes, base64) where the client may show it:
a refused upgrade's body, reason and headers, a command's ``errorText``, a close reason,
a session id. Nothing of an error (its chain and traceback included), no DEBUG record and
no repr may show it."""

from __future__ import annotations

import base64
import json
import logging
import urllib.parse
from collections.abc import Callable

import pytest
from aiohttp import web

from tests.hostile import leaks
from tests.hostile_ws import TOKEN, TYPE_ID, HostileWS, Socket
from tests.proof.test_hostile_secrets import exposed, logged
from xprotect_events import APIError, CommandError, RetryPolicy, UnauthorizedError
from xprotect_events.profile import Profile

ONCE = RetryPolicy(attempts=1)

FORMS: dict[str, Callable[[str], str]] = {
    "raw": lambda s: s,
    "url-encoded": lambda s: urllib.parse.quote(s, safe=""),
    "json \\u escapes": lambda s: "".join(f"\\u{ord(c):04X}" for c in s),
    "dotnet \\u002B": lambda s: json.dumps(s)[1:-1].replace("+", "\\u002B"),
    "base64": lambda s: base64.b64encode(s.encode()).decode(),
    "base64 of the header": lambda s: base64.b64encode(f"Bearer {s}".encode()).decode(),
    "base64url of a json": lambda s: base64.urlsafe_b64encode(
        json.dumps({"token": s}).encode()
    ).decode(),
}


def shows(text: str, form: str) -> bool:
    """Whether ``text`` shows the token as the server echoed it in ``form``."""
    if leaks(text, {"token": TOKEN}):
        return True
    echoed = FORMS[form](TOKEN)
    core = echoed[8:-8] if form.startswith("base64") else echoed  # whatever its alignment
    return core.lower() in text.lower()


def refusal(status: int, form: str) -> Callable[[web.Request], object]:
    echo = FORMS[form](TOKEN)

    async def upgrade(request: web.Request) -> web.StreamResponse:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        return web.Response(
            status=status,
            reason=f"No {echo}"[:200],
            text=f'{{"error": "bad token {echo}"}}',
            headers={
                "WWW-Authenticate": f'Bearer error="invalid_token", token="{echo}"',
                "Location": f"http://127.0.0.1:1/login?token={echo}",
            },
        )

    return upgrade


async def never(socket: Socket) -> None:
    raise AssertionError("the upgrade is refused")


@pytest.mark.parametrize("status", [401, 403, 500])
@pytest.mark.parametrize("form", sorted(FORMS))
async def test_a_refused_upgrade_never_shows_the_token(
    status: int, form: str, caplog: pytest.LogCaptureFixture
) -> None:
    # broke: aiohttp's handshake error rode along as the __context__ of ours, with its copy
    # of the request's headers (Authorization: Bearer <token>) and the server's headers
    caplog.set_level(logging.DEBUG)
    async with (
        HostileWS(never, upgrade=refusal(status, form)) as server,  # type: ignore[arg-type]
        server.client(retry=ONCE) as client,
    ):
        with pytest.raises(APIError) as caught:
            async with client.subscribe(types=[TYPE_ID]):
                pass
    assert caught.value.status == status
    assert not shows(exposed(caught.value), form)
    assert not shows(logged(caplog), form)


@pytest.mark.parametrize("form", sorted(FORMS))
async def test_an_error_text_never_shows_the_token(
    form: str, caplog: pytest.LogCaptureFixture
) -> None:
    # the base64 forms broke: only the whole token's base64 was hunted, so the token in
    # base64 after a prefix (``Bearer ``) or inside a JSON text showed
    async def scenario(socket: Socket) -> None:
        await socket.open("S1")
        command = await socket.command("getState")
        await socket.answer(command, 400, error={"errorText": f"bad token {FORMS[form](TOKEN)}"})
        await socket.until_closed()

    caplog.set_level(logging.DEBUG)
    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        with pytest.raises(CommandError) as caught:
            await live.state()
    assert caught.value.status == 400
    assert "[redacted]" in str(caught.value)
    assert not shows(str(caught.value.error_text or ""), form)
    assert not shows(exposed(caught.value), form)
    assert not shows(logged(caplog), form)


@pytest.mark.parametrize("form", sorted(FORMS))
async def test_a_close_reason_never_shows_the_token(
    form: str, caplog: pytest.LogCaptureFixture
) -> None:
    # held before (not tested): the close reason is never quoted
    async def scenario(socket: Socket) -> None:
        if socket.number == 1:
            await socket.open("S1")
            await socket.ws.close(code=4001, message=FORMS[form](TOKEN)[:120].encode())
            return
        await socket.answer(await socket.command("startSession"), 200, sessionId="S1")
        await socket.serve()

    caplog.set_level(logging.DEBUG)
    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        await live.state()  # on the second connection
    assert live.reconnects == 1
    assert not shows(logged(caplog), form)


async def test_a_session_id_echoing_the_token_is_not_shown_by_the_stream() -> None:
    # broke: repr(live) showed the server's session id as it came
    async def scenario(socket: Socket) -> None:
        await socket.open(f"S-{TOKEN}")
        await socket.serve()

    async with (
        HostileWS(scenario) as server,
        server.client() as client,
        client.subscribe(types=[TYPE_ID]) as live,
    ):
        assert live.session_id == f"S-{TOKEN}"  # the attribute is the server's, as sent
        assert leaks(repr(live), {"token": TOKEN}) == []


@pytest.mark.parametrize("form", sorted(FORMS))
async def test_a_refused_authenticate_command_never_shows_the_token(
    form: str, caplog: pytest.LogCaptureFixture
) -> None:
    # held before (not tested): the token sent in the authenticate command, echoed back
    async def scenario(socket: Socket) -> None:
        command = await socket.command("authenticate")
        assert command["token"] == f"Bearer {TOKEN}"
        await socket.answer(command, 401, error={"errorText": f"bad {FORMS[form](TOKEN)}"})
        await socket.until_closed()

    caplog.set_level(logging.DEBUG)
    async with (
        HostileWS(scenario) as server,
        server.client(profile=Profile(ws_auth="command")) as client,
    ):
        with pytest.raises(UnauthorizedError) as caught:
            async with client.subscribe(types=[TYPE_ID]):
                pass
    assert len(server.sockets) == 2  # renewed once
    assert not shows(exposed(caught.value), form)
    assert not shows(logged(caplog), form)
