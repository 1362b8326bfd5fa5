"""What a hostile server writes into an error answer is shown safely (fresh-eyes audit of
the transport): an ``errorText`` or ``error_description`` with terminal escape sequences
(ESC ... sets the window title, clears the screen, moves the cursor up to overwrite what
was printed) or newlines, and 60 KB long, came through whole into the error message that
the command line prints as its one line on stderr. The live stream already cut its
command errors to 1000 characters; the REST ones now escape and cut alike."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest

from tests.hostile import PASSWORD, TYPE_ID, USERNAME, Hostile
from xprotect_events import EventTrigger, RetryPolicy, XProtectClient, XProtectError

ONCE = RetryPolicy(attempts=1)
HOSTILE_TEXT = "\x1b]0;owned\x07\x1b[2J\x1b[1Afake success\r\nsecond line\u2028" + "A" * 60_000


def user(hostile: Hostile) -> XProtectClient:
    return XProtectClient(hostile.url, username=USERNAME, password=PASSWORD, retry=ONCE)


def assert_safe(text: str) -> None:
    assert text.isprintable(), repr(text[:200])
    assert len(text) < 2000
    assert "fake success" in text  # the server's words are still there, escaped


ANSWERS = {
    "an API error": (
        "get",
        {"error": {"httpCode": 400, "details": [{"errorText": HOSTILE_TEXT}]}},
    ),
    "an identity provider's refusal": (
        "token",
        {"error": "invalid_grant", "error_description": HOSTILE_TEXT},
    ),
}


@pytest.mark.parametrize("case", sorted(ANSWERS))
async def test_an_error_text_with_escapes_is_shown_escaped_and_cut(
    hostile: Hostile, case: str
) -> None:
    route, body = ANSWERS[case]
    hostile.on(route, hostile.answer(400, orjson.dumps(body)))
    async with user(hostile) as client:
        with pytest.raises(XProtectError) as caught:
            await client.get_event(uuid.uuid4())
    assert_safe(str(caught.value))


async def test_an_html_error_page_with_escapes_is_shown_escaped(hostile: Hostile) -> None:
    page = f"<html><body>{HOSTILE_TEXT[:100]}</body></html>".encode()
    hostile.on("get", hostile.answer(502, page, {"Content-Type": "text/html"}))
    async with user(hostile) as client:
        with pytest.raises(XProtectError) as caught:
            await client.get_event(uuid.uuid4())
    assert_safe(str(caught.value))


async def test_a_batch_items_error_text_is_shown_escaped_and_cut(hostile: Hostile) -> None:
    item = {"error": {"httpCode": 400, "details": [{"errorText": HOSTILE_TEXT}]}}
    hostile.on("batch", hostile.answer(200, orjson.dumps({"array": [item]})))
    async with user(hostile) as client:
        report = await client.trigger_events([EventTrigger(type=TYPE_ID, tag="t")])
    [result] = report.results
    assert result.status == "rejected"
    assert_safe(str(result.reason))


async def test_a_redirect_location_with_escapes_is_shown_escaped() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere/\x1b]0;owned\x07\x1b[2J"
            b"fake success\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        async with XProtectClient(
            f"http://127.0.0.1:{port}", client_id="c", client_secret="s", retry=ONCE
        ) as client:
            with pytest.raises(XProtectError) as caught:
                await client.login()
    assert_safe(str(caught.value))
