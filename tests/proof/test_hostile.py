"""Proof (issue 12): a hostile server cannot exhaust, stall, repeat or crash the client.

Against :class:`tests.hostile.Hostile` over loopback: 200 MB, endless, lying and gzip-bomb
bodies stop at ``max_response_bytes`` (memory by tracemalloc, in this process); no
``Retry-After`` stalls anything past ``RetryPolicy.max_retry_after`` (the waits the client
logs are compared with the cap; a deadline only keeps a failing client from hanging the
run); a session never yields an event twice; huge numbers and a closed client are library
errors; control characters never leave. Nothing here asserts speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import orjson
import pytest

from tests.helpers import wait_until
from tests.hostile import (
    CAMERA,
    HOSTILE_RETRY_AFTER,
    MB,
    PASSWORD,
    TOKEN,
    TYPE_ID,
    USERNAME,
    Hostile,
    error_json,
    event,
)
from xprotect_events import (
    APIError,
    EventTrigger,
    InvalidInputError,
    ProtocolError,
    RetryPolicy,
    SessionChange,
    TransportError,
    XProtectClient,
    XProtectError,
)

LIMIT = 8 * MB
BIG = 200 * MB
DEADLINE = 30.0
CAP = 1.0
QUICK = RetryPolicy(attempts=2, backoff_max=0.05, jitter=0.01, max_retry_after=CAP)


def user(hostile: Hostile, **options: Any) -> XProtectClient:
    options.setdefault("retry", QUICK)
    return XProtectClient(hostile.url, username=USERNAME, password=PASSWORD, **options)


async def raised(call: Awaitable[object]) -> Exception:
    """The exception ``call`` raises (within the deadline); fails if it returns."""
    try:
        async with asyncio.timeout(DEADLINE):
            result = await call
    except Exception as exc:
        return exc
    pytest.fail(f"expected an error, got {result!r:.200}")


async def page(client: XProtectClient) -> list[object]:
    return [e async for e in client.list_events()]


class Peak:
    bytes = 0  # the peak, once the block is done


@contextlib.contextmanager
def traced() -> Iterator[Peak]:
    """The peak of Python memory allocated above the start, while the block runs."""
    peak = Peak()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    try:
        yield peak
    finally:
        peak.bytes = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()


def names_the_limit(exc: BaseException) -> bool:
    """The message says the limit (8 MiB, spelled any usual way) and the option to raise."""
    text = str(exc)
    spelled = re.search(r"8[ ,.]?388[ ,.]?608|\b8(\.0+)? ?Mi?B", text)
    return "max_response_bytes" in text and spelled is not None


# ============================================================================ bounded reads


async def test_a_200_mb_page_stops_at_max_response_bytes(hostile: Hostile) -> None:
    hostile.on("list", hostile.big(BIG))
    with traced() as peak:
        async with user(hostile, max_response_bytes=LIMIT) as client:
            exc = await raised(page(client))
    assert isinstance(exc, ProtocolError | TransportError), repr(exc)
    assert names_the_limit(exc), str(exc)
    assert peak.bytes < 4 * LIMIT, f"the client grew by {peak.bytes / MB:.0f} MB"
    assert hostile.sent["list"] < 4 * LIMIT, "the client read on past its limit"


async def test_a_200_mb_html_error_page_is_cut_to_a_snippet(hostile: Hostile) -> None:
    head = b"<html><body><h1>Bad Gateway at the hostile proxy</h1><pre>"
    hostile.on("list", hostile.big(BIG, status=502, content_type="text/html", head=head))
    with traced() as peak:
        async with user(hostile, retry=RetryPolicy(attempts=1)) as client:
            exc = await raised(page(client))
    assert isinstance(exc, APIError | ProtocolError | TransportError), repr(exc)
    assert len(str(exc)) < 1000
    if isinstance(exc, APIError):
        assert "Bad Gateway at the hostile proxy" in str(exc)
    assert peak.bytes < 16 * MB, f"the client grew by {peak.bytes / MB:.0f} MB for an error"
    assert hostile.sent["list"] < 64 * MB, "the client read a whole error page"


async def test_a_200_mb_token_answer_keeps_memory_small(hostile: Hostile) -> None:
    head = b'{"expires_in": 3600, "padding": "'
    hostile.on("token", hostile.big(BIG, head=head))
    with traced() as peak:
        async with user(hostile, retry=RetryPolicy(attempts=1)) as client:
            exc = await raised(client.login())
    assert isinstance(exc, XProtectError), repr(exc)
    assert peak.bytes < 16 * MB, f"the client grew by {peak.bytes / MB:.0f} MB for a token"


async def test_an_endless_chunked_body_stops_at_max_response_bytes(hostile: Hostile) -> None:
    hostile.on("list", hostile.endless(stop_after=256 * MB))
    with traced() as peak:
        async with user(hostile, max_response_bytes=LIMIT) as client:
            exc = await raised(page(client))
    assert isinstance(exc, ProtocolError | TransportError), repr(exc)
    assert names_the_limit(exc), str(exc)
    assert peak.bytes < 4 * LIMIT, f"the client grew by {peak.bytes / MB:.0f} MB"
    assert hostile.sent["list"] < 4 * LIMIT, "the client read on past its limit"


async def test_a_gzip_bomb_counts_its_inflated_size(hostile: Hostile) -> None:
    hostile.on("list", hostile.gzip_bomb(256 * MB))
    with traced() as peak:
        async with user(hostile, max_response_bytes=LIMIT) as client:
            exc = await raised(page(client))
    assert isinstance(exc, ProtocolError | TransportError), repr(exc)
    assert names_the_limit(exc), str(exc)
    assert peak.bytes < 4 * LIMIT, f"the client grew by {peak.bytes / MB:.0f} MB"


async def test_a_declared_length_above_the_limit_is_refused_before_reading(
    hostile: Hostile,
) -> None:
    hostile.on("list", hostile.lying_length(10 * 1024 * MB, b'{"array": [', then="hang"))
    async with user(hostile, max_response_bytes=LIMIT, timeout=5.0) as client:
        exc = await raised(page(client))
    assert isinstance(exc, ProtocolError | TransportError), repr(exc)
    assert names_the_limit(exc), str(exc)


SMUGGLED = orjson.dumps({"_links": {}, "array": [event(9, tag="smuggled")]})
LIES = {
    "longer than sent, then cut": ("close", 1000),
    "longer than sent, then silent": ("hang", 1000),
    "shorter than sent, a second answer smuggled behind": ("extra", 0),
}


@pytest.mark.parametrize("lie", sorted(LIES))
async def test_a_content_length_that_lies_is_a_library_error(hostile: Hostile, lie: str) -> None:
    body = orjson.dumps({"_links": {}, "array": [event(1)]})
    then, more = LIES[lie]
    if then == "extra":
        smuggled = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(SMUGGLED) + SMUGGLED
        handler = hostile.lying_length(len(body), body + smuggled)
    else:
        handler = hostile.lying_length(len(body) + more, body, then=then)
    hostile.on("list", hostile.then(handler))
    hostile.events = [event(2, tag="honest")]
    async with user(hostile, timeout=1.0, retry=RetryPolicy(attempts=1)) as client:
        try:
            async with asyncio.timeout(DEADLINE):
                first = await page(client)
        except XProtectError:
            first = []
        try:
            second = await page(client)
        except XProtectError:
            second = []
    tags = [e.tag for e in [*first, *second]]  # type: ignore[attr-defined]
    assert "smuggled" not in tags, "a response smuggled behind a lie was taken as an answer"


# ============================================================================ capped waits

_WAIT = re.compile(r"(?:waiting|resuming in|retrying in|sleeping(?: for)?)\s+(\d+(?:\.\d+)?)\s*s\b")


def announced_waits(records: list[logging.LogRecord]) -> list[float]:
    return [
        float(seconds)
        for record in records
        if record.name.startswith("xprotect_events")
        for seconds in _WAIT.findall(record.getMessage())
    ]


async def within_the_cap(call: Awaitable[Any], caplog: pytest.LogCaptureFixture) -> Any:
    """The outcome of ``call`` (its result or its exception). Fails as soon as the client
    announces a wait longer than the policy's cap, or when the deadline passes."""
    task = asyncio.ensure_future(call)
    try:
        async with asyncio.timeout(DEADLINE):
            while not task.done():
                longest = max(announced_waits(caplog.records), default=0.0)
                if longest > CAP:
                    pytest.fail(f"the client is waiting {longest:.0f} s (the cap is {CAP} s)")
                await asyncio.sleep(0.01)
    except TimeoutError:
        pytest.fail(f"no outcome in {DEADLINE} s (the cap is {CAP} s)")
    finally:
        task.cancel()
        await asyncio.wait([task])
    assert max(announced_waits(caplog.records), default=0.0) <= CAP
    return task.exception() or task.result()


def told_to_wait(hostile: Hostile, status: int, retry_after: str) -> Any:
    headers = {"Retry-After": HOSTILE_RETRY_AFTER[retry_after]}
    return hostile.answer(status, error_json(status, b"come back later"), headers)


WAITS = [(s, r) for s in (429, 503) for r in sorted(HOSTILE_RETRY_AFTER)]


@pytest.mark.parametrize(("status", "retry_after"), WAITS)
async def test_a_session_read_told_to_wait_a_day_waits_at_most_the_cap(
    hostile: Hostile, caplog: pytest.LogCaptureFixture, status: int, retry_after: str
) -> None:
    caplog.set_level(logging.DEBUG)
    hostile.on("read", hostile.then(told_to_wait(hostile, status, retry_after)))
    hostile.reads = [[event(1)]]
    async with user(hostile) as client, client.event_session(poll_interval=0.01) as session:
        outcome = await within_the_cap(anext(session), caplog)
    assert isinstance(outcome, SessionChange | XProtectError), repr(outcome)


@pytest.mark.parametrize(("status", "retry_after"), WAITS)
@pytest.mark.parametrize("call", ["list_events", "get_event", "login"])
async def test_a_request_told_to_wait_a_day_is_an_error_at_once(
    hostile: Hostile, caplog: pytest.LogCaptureFixture, call: str, status: int, retry_after: str
) -> None:
    caplog.set_level(logging.DEBUG)
    route = {"list_events": "list", "get_event": "get", "login": "token"}[call]
    hostile.on(route, told_to_wait(hostile, status, retry_after))
    async with user(hostile) as client:
        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "list_events": lambda: page(client),
            "get_event": lambda: client.get_event(uuid.uuid4()),
            "login": client.login,
        }
        outcome = await within_the_cap(calls[call](), caplog)
    assert isinstance(outcome, XProtectError), repr(outcome)
    assert len(hostile.requests(route)) == 1


@pytest.mark.parametrize(("status", "retry_after"), WAITS)
async def test_a_batch_told_to_wait_a_day_accounts_every_trigger_at_once(
    hostile: Hostile, caplog: pytest.LogCaptureFixture, status: int, retry_after: str
) -> None:
    caplog.set_level(logging.DEBUG)
    hostile.on("batch", told_to_wait(hostile, status, retry_after))
    triggers = [EventTrigger(type=TYPE_ID, source=CAMERA, tag=f"t{i}") for i in range(5)]
    async with user(hostile) as client:
        report = await within_the_cap(client.trigger_events(triggers), caplog)
    assert [r.status for r in report.results] == ["rejected"] * 5
    assert len(hostile.requests("batch")) == 1


# ============================================================================ no repeats

A, B, C, D = (event(n) for n in (1, 2, 3, 4))
REPEATS = {
    "the same event twice in one read": ([[A, A, B]], ["e1", "e2"]),
    "again in the next read": ([[A, B], [B, C]], ["e1", "e2", "e3"]),
    "again, out of order": ([[A, B, C], [C, A], [B, D]], ["e1", "e2", "e3", "e4"]),
    "a late event among repeats": ([[B, C], [A, C, B]], ["e2", "e3", "e1"]),
}


@pytest.mark.parametrize("case", sorted(REPEATS))
async def test_an_event_session_never_yields_an_event_twice(hostile: Hostile, case: str) -> None:
    reads, expected = REPEATS[case]
    hostile.reads = [list(r) for r in reads]
    tags: list[str | None] = []
    async with user(hostile) as client, client.event_session(poll_interval=0.01) as session:

        async def collect() -> None:
            async for change in session:
                tags.append(change.event.tag)

        task = asyncio.create_task(collect(), name="the consumer")
        try:
            more = len(reads) + 2
            await wait_until(lambda: len(hostile.requests("read")) >= more, "reads", watch=task)
        finally:
            task.cancel()
            await asyncio.wait([task])
    assert tags == expected


# ============================================================================ library errors

EXPIRES_IN = {
    "400 digits as a string": b'"' + b"9" * 400 + b'"',
    "400 digits as a number": b"9" * 400,
    "1e400 as a string": b'"1e400"',
}


@pytest.mark.parametrize("expires_in", sorted(EXPIRES_IN))
async def test_a_huge_expires_in_is_a_library_error(hostile: Hostile, expires_in: str) -> None:
    body = b'{"access_token": %s, "expires_in": %s}' % (orjson.dumps(TOKEN), EXPIRES_IN[expires_in])
    hostile.on("token", hostile.answer(200, body))
    async with user(hostile) as client:
        exc = await raised(client.login())
    assert isinstance(exc, XProtectError), repr(exc)


async def test_closing_the_client_while_a_stream_reads_is_a_library_error(
    hostile: Hostile,
) -> None:
    release = asyncio.Event()
    hostile.on("read", hostile.hold(release))
    client = user(hostile)
    await client.open()
    try:
        async with client.event_session(poll_interval=0.01) as session:
            task = asyncio.create_task(anext(session), name="the stream")
            await wait_until(lambda: hostile.in_flight["read"] > 0, "a read is waiting", watch=task)
            await client.close()
            exc = await raised(task)
    finally:
        release.set()
        await client.close()
    assert isinstance(exc, XProtectError), repr(exc)


async def test_a_call_on_a_closed_client_is_a_library_error(hostile: Hostile) -> None:
    async with user(hostile) as client:
        await client.login()
    exc = await raised(client.get_event(uuid.uuid4()))
    assert isinstance(exc, XProtectError), repr(exc)


# ============================================================================ control characters

CONTROLS = [chr(c) for c in range(32)] + ["\x7f"]
GUID = CAMERA.rpartition("/")[2]


@pytest.mark.parametrize("char", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
async def test_a_control_character_in_a_tag_is_refused_before_sending(
    hostile: Hostile, char: str
) -> None:
    async with user(hostile) as client:
        with pytest.raises(InvalidInputError):
            await client.trigger_event(EventTrigger(type=TYPE_ID, tag=f"door{char}opened"))
    assert hostile.seen == [], "something was sent"


@pytest.mark.parametrize("char", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
async def test_a_control_character_in_a_source_is_refused_before_sending(
    hostile: Hostile, char: str
) -> None:
    # A GUID with one digit swapped for a blank still parses (int() skips blanks), so the
    # character must be refused on its own, not left to the GUID parser.
    guids = [f"{char}{GUID}", f"{GUID}{char}", f"{char}{GUID[1:]}", f"{GUID[:-1]}{char}"]
    sources = [*guids, *(f"cameras/{g}" for g in guids)]
    async with user(hostile) as client:
        for source in sources:
            with pytest.raises(InvalidInputError):
                await client.trigger_event(EventTrigger(type=TYPE_ID, source=source))
    assert hostile.seen == [], "something was sent"
