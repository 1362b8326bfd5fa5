"""Proof (issue 12): no secret a hostile server echoes reaches anything the user can see.

The server echoes the password, the client secret or the bearer token in every escaping
of :data:`tests.hostile.FORMS` (raw, URL-encoded, HTML-escaped, lower-case, and the JSON
``\\u002B`` escapes .NET writes by default), in OAuth error answers, API error bodies, HTML
error pages and per-item batch errors. Whatever the form, the secret must not be in
``str``/``repr`` of the error or of anything in its ``__cause__``/``__context__`` chain
(suppressed or not), its traceback, ``repr(client)``, a DEBUG log record, a
``TriggerResult.reason`` or the ``BatchError`` message. A server URL that carries a secret
in its query or fragment is refused, or kept out of sight and off the wire.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
import urllib.parse
from collections.abc import Iterator

import pytest

from tests.hostile import (
    CAMERA,
    CLIENT_ID,
    CLIENT_SECRET,
    FORMS,
    PASSWORD,
    TOKEN,
    TYPE_ID,
    USERNAME,
    Hostile,
    error_json,
    leaks,
)
from xprotect_events import (
    BatchError,
    EventTrigger,
    InvalidInputError,
    RetryPolicy,
    XProtectClient,
    XProtectError,
)

SECRETS = {"the password": PASSWORD, "the client secret": CLIENT_SECRET, "the token": TOKEN}
ONCE = RetryPolicy(attempts=1)


def chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything chained to it, suppressed context included."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [e.__cause__, e.__context__]


def exposed(exc: BaseException | None) -> str:
    """Everything of an error a user or a log can see."""
    if exc is None:
        return ""
    parts = ["".join(traceback.format_exception(exc))]
    for e in chain(exc):
        parts += [str(e), repr(e), repr(e.args)]
    return "\n".join(parts)


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() + "\n" + (r.exc_text or "") for r in caplog.records) + (
        caplog.text
    )


def user(url: str) -> XProtectClient:
    return XProtectClient(url, username=USERNAME, password=PASSWORD, retry=ONCE)


def service(url: str) -> XProtectClient:
    return XProtectClient(url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, retry=ONCE)


def html_page(status: int, text: bytes) -> bytes:
    return b"<html><body><h1>%d</h1><pre>You sent: %s</pre></body></html>" % (status, text)


#: Where the echo comes: (the secret, the route, status, body kind).
ECHOES = {
    "password, token endpoint 400 (OAuth)": ("the password", "token", 400, "oauth"),
    "password, token endpoint 502 (HTML)": ("the password", "token", 502, "html"),
    "client secret, token endpoint 401 (OAuth)": ("the client secret", "token", 401, "oauth"),
    "client secret, token endpoint 500 (JSON)": ("the client secret", "token", 500, "json"),
    "token, API 400 (JSON)": ("the token", "list", 400, "json"),
    "token, API 403 (JSON)": ("the token", "list", 403, "json"),
    "token, API 502 (HTML)": ("the token", "list", 502, "html"),
}


def echo_body(kind: str, status: int, text: bytes) -> tuple[bytes, dict[str, str]]:
    if kind == "oauth":
        body = b'{"error": "invalid_grant", "error_description": "echo: %s"}' % text
        return body, {}
    if kind == "html":
        return html_page(status, text), {"Content-Type": "text/html"}
    return error_json(status, text), {}


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("echo", sorted(ECHOES))
async def test_an_error_echoing_a_secret_never_shows_it(
    hostile: Hostile, caplog: pytest.LogCaptureFixture, echo: str, form: str
) -> None:
    caplog.set_level(logging.DEBUG)
    secret, route, status, kind = ECHOES[echo]
    body, headers = echo_body(kind, status, FORMS[form](SECRETS[secret]))
    hostile.on(route, hostile.answer(status, body, headers))
    client = service(hostile.url) if secret == "the client secret" else user(hostile.url)
    async with client:
        try:
            async with asyncio.timeout(30):
                await (client.login() if route == "token" else anext(client.list_events()))
        except XProtectError as exc:
            error: XProtectError | None = exc
        else:
            error = None
    assert error is not None, "the hostile answer was taken as a success"
    seen = exposed(error) + repr(client) + repr(client.tokens) + logged(caplog)
    assert leaks(seen, SECRETS) == [], f"{type(error).__name__}: {error}"


@pytest.mark.parametrize("form", sorted(FORMS))
async def test_batch_item_errors_echoing_the_token_never_show_it(
    hostile: Hostile, caplog: pytest.LogCaptureFixture, form: str
) -> None:
    caplog.set_level(logging.DEBUG)
    item = b'{"error":{"httpCode":400,"details":[{"errorText":"token: %s"}]}}' % (
        FORMS[form](TOKEN)
    )
    hostile.on("batch", hostile.answer(200, b'{"array": [%s]}' % b",".join([item] * 3)))
    triggers = [EventTrigger(type=TYPE_ID, source=CAMERA, tag=f"t{i}") for i in range(3)]
    async with user(hostile.url) as client:
        report = await client.trigger_events(triggers)
        with pytest.raises(BatchError) as info:
            report.raise_for_failures()
    assert [r.status for r in report.results] == ["rejected"] * 3
    seen = [exposed(info.value), logged(caplog)]
    for result in report.results:
        seen += [str(result.reason), repr(result), exposed(result.error)]
    assert leaks("\n".join(seen), SECRETS) == []


IN_THE_URL = {
    "?password=": f"/?password={urllib.parse.quote(PASSWORD, safe='')}",
    "?client_secret=&…": f"/?x=1&client_secret={urllib.parse.quote(CLIENT_SECRET, safe='')}",
    "#access_token=": f"/#access_token={urllib.parse.quote(TOKEN, safe='')}",
    "?access_token= and #": f"/?access_token={urllib.parse.quote(TOKEN, safe='')}#frag",
}


@pytest.mark.parametrize("where", sorted(IN_THE_URL))
async def test_a_server_url_carrying_a_secret_is_refused_or_never_shown(
    hostile: Hostile, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    caplog.set_level(logging.DEBUG)
    url = hostile.url + IN_THE_URL[where]
    try:
        client = user(url)
    except InvalidInputError as exc:
        refused: InvalidInputError | None = exc
    else:
        refused = None
    if refused is not None:
        assert leaks(exposed(refused), SECRETS) == []
        return
    async with client:
        await client.login()
        events = [e async for e in client.list_events()]
    assert len(events) == 1
    seen = repr(client) + client.url + repr(client.tokens) + logged(caplog)
    assert leaks(seen, SECRETS) == [], repr(client)
    on_the_wire = " ".join(s.url for s in hostile.seen)
    assert leaks(on_the_wire, SECRETS) == [], on_the_wire
