"""Proof (issue 7, item 6): bad answers from the server never escape as raw Python errors.

For every client call (get_event, list_events, trigger_event, trigger_events, event-session
creation and reads, list_event_types, list_cameras, the token endpoint) and every kind of
bad answer (missing fields, wrong types, extra nesting, huge bodies, invalid UTF-8, JSON
under another Content-Type, an empty 200, ``{"data": null}``, 204, 202 for 200, a server
that trickles bytes past the read timeout, one that closes mid-header, garbage headers),
the call returns, or raises the library's :class:`ProtocolError` or
:class:`TransportError` (a batch reports its items instead), never ``KeyError``/
``TypeError``/``AttributeError``/a parsing ``ValueError``, and never hangs: every call
here runs under a deadline.

The server is a raw asyncio TCP server that writes whatever bytes a test says: what the
simulator cannot produce (broken headers, slow bytes, cut connections) is produced here
over real loopback sockets; nothing of the client's HTTP layer is mocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import resource
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xprotect_events import (
    APIError,
    EventTrigger,
    ProtocolError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    TransportError,
    XProtectClient,
    XProtectError,
)
from xprotect_events.policy import parse_retry_after

TOKEN = "proof-responses-token-" + uuid.uuid4().hex
EVENT_ID = "0b2c9a8e-56e1-4d4e-9f3a-2a1c1f0e3d11"
TYPE_ID = "afbbf1ed-2068-40fa-97a3-7225149024c6"
CAMERA_ID = "c13f6958-8bc5-4390-b1d7-4b4f9d661563"
SESSION_ID = "5a1e0c51-2f0b-4a3e-8d6e-0f6c9b7a1e22"
EVENT: dict[str, Any] = {
    "id": EVENT_ID,
    "time": "2024-05-01T12:00:00.1234567Z",
    "type": TYPE_ID,
    "source": f"cameras/{CAMERA_ID}",
    "tag": "t",
    "datatype": None,
}
EVENT_TYPE: dict[str, Any] = {
    "id": TYPE_ID,
    "name": "Person Detected",
    "displayName": "Person Detected",
    "generatorType": "MIPDevice",
    "generatorSubtype": "AnalyticsEvent",
    "occursGlobally": False,
    "builtIn": False,
    "sourceArray": ["Camera"],
    "lastModified": "2024-01-01T00:00:00.0000000Z",
}
CAMERA: dict[str, Any] = {"id": CAMERA_ID, "name": "Camera 1", "enabled": True}

#: The documented answer of every route (status, body).
GOOD: dict[str, tuple[int, Any]] = {
    "POST /API/IDP/connect/token": (200, {"access_token": TOKEN, "expires_in": 3600}),
    "GET /api/rest/v1/events/{id}": (200, {"data": EVENT}),
    "GET /api/rest/v1/events": (200, {"_links": {}, "array": [EVENT]}),
    "POST /api/rest/v1/events": (202, {"data": EVENT}),
    "POST /api/rest/v1/events/batch": (200, {"array": [EVENT]}),
    "POST /api/rest/v1/eventSessions": (201, {"id": SESSION_ID, "filterBy": [], "orderBy": []}),
    "GET /api/rest/v1/eventSessions/{id}": (
        200,
        {"data": {"newEvents": [EVENT], "deletedEvents": []}},
    ),
    "DELETE /api/rest/v1/eventSessions/{id}": (200, {}),
    "GET /api/rest/v1/eventTypes": (200, {"array": [EVENT_TYPE]}),
    "GET /api/rest/v1/cameras": (200, {"array": [CAMERA]}),
}
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

#: The longest any single call here may take (generous: nothing here should come close).
DEADLINE = 20.0
#: Short timeouts and one retry, so that timeouts and retries stay quick.
QUICK = RetryPolicy(attempts=2, backoff_initial=0.01, backoff_max=0.02, jitter=0.01)


# ---------------------------------------------------------------------------- the raw server

Reply = bytes | Callable[[asyncio.StreamWriter], Awaitable[None]]


def http(
    status: int,
    body: bytes = b"",
    *,
    content_type: str | None = "application/json",
    headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """One whole HTTP/1.1 answer (``Connection: close``)."""
    head = f"HTTP/1.1 {status} Whatever\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    for name, value in headers:
        head += f"{name}: {value}\r\n"
    return head.encode("utf-8", "surrogateescape") + b"\r\n" + body


def good(route: str) -> bytes:
    status, body = GOOD[route]
    return http(status, orjson.dumps(body))


def trickle(data: bytes, every: float = 0.02) -> Reply:
    """Send ``data`` one byte at a time, then keep sending spaces: a slow-loris server."""

    async def reply(writer: asyncio.StreamWriter) -> None:
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(every)
        while True:
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(every)

    return reply


async def _silence(writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)  # no answer at all (the read timeout must fire)


class RawServer:
    """A loopback HTTP server whose answer for each route is bytes (or a coroutine)."""

    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}
        self.seen: list[str] = []
        self.url = ""
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def reply(self, route: str, reply: Reply) -> None:
        assert route in GOOD, route
        self.replies[route] = reply

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            if length:
                await reader.readexactly(int(length.group(1)))
            route = f"{method} {_GUID.sub('{id}', target.partition('?')[0])}"
            self.seen.append(route)
            reply = self.replies[route] if route in self.replies else good(route)
            if isinstance(reply, bytes):
                writer.write(reply)
                await writer.drain()
            else:
                await reply(writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    raw = RawServer()
    await raw.start()
    yield raw
    await raw.stop()


#: For the tests whose server answers at once: a timeout there is the machine's load.
PATIENT = 10.0


def client_for(url: str, **options: Any) -> XProtectClient:
    settings_: dict[str, Any] = {"timeout": 0.5, "connect_timeout": 1.0, "retry": QUICK}
    settings_.update(options)
    return XProtectClient(url, username="u", password="p", **settings_)


# ---------------------------------------------------------------------------- the calls


async def _list(client: XProtectClient) -> object:
    return [e async for e in client.list_events(limit=5)]


async def _session(client: XProtectClient) -> object:
    """Create a session and take its first change. A valid read with no new events is not
    an error: the session then polls on, so waiting for a change is bounded here."""
    async with client.event_session(poll_interval=0.01) as session:
        try:
            async with asyncio.timeout(0.25):
                return await anext(session)
        except TimeoutError:
            return None


async def _login(client: XProtectClient) -> object:
    """Log in, then use the token (a token that cannot be sent fails only when used)."""
    await client.login()
    return await client.list_cameras()


async def _batch(client: XProtectClient) -> object:
    trigger = EventTrigger(type=uuid.UUID(TYPE_ID), source=f"cameras/{CAMERA_ID}")
    report = await client.trigger_events([trigger])
    for result in report.results:  # a batch reports, never raises
        if result.status == "accepted":
            with contextlib.suppress(ProtocolError):  # decoded on first use [documented]
                _ = result.event
        else:
            assert isinstance(result.error, XProtectError)
    return report


CALLS: dict[str, tuple[str, Callable[[XProtectClient], Awaitable[object]]]] = {
    "login": ("POST /API/IDP/connect/token", _login),
    "get_event": ("GET /api/rest/v1/events/{id}", lambda c: c.get_event(EVENT_ID)),
    "list_events": ("GET /api/rest/v1/events", _list),
    "trigger_event": (
        "POST /api/rest/v1/events",
        lambda c: c.trigger_event(EventTrigger(type=uuid.UUID(TYPE_ID))),
    ),
    "trigger_events": ("POST /api/rest/v1/events/batch", _batch),
    "session_create": ("POST /api/rest/v1/eventSessions", _session),
    "session_read": ("GET /api/rest/v1/eventSessions/{id}", _session),
    "list_event_types": ("GET /api/rest/v1/eventTypes", lambda c: c.list_event_types()),
    "list_cameras": ("GET /api/rest/v1/cameras", lambda c: c.list_cameras()),
}

#: What a call may raise on a bad answer: the library's errors for it, nothing raw.
ALLOWED = (ProtocolError, TransportError)


async def outcome(url: str, call: str, **options: Any) -> BaseException | None:
    """Run one call against ``url`` under the deadline: None if it returned, else the
    library error it raised. Anything else (a raw error, a hang) fails the test."""
    client = client_for(url, **options)
    async with asyncio.timeout(DEADLINE), client:
        try:
            await CALLS[call][1](client)
        except ALLOWED as exc:
            return exc
    return None


# ============================================================================ the harness


@pytest.mark.parametrize("call", sorted(CALLS))
async def test_every_call_works_against_the_good_answers(server: RawServer, call: str) -> None:
    """The raw server's default answers are the documented ones: each call succeeds."""
    assert await outcome(server.url, call) is None
    assert CALLS[call][0] in server.seen


# ============================================================================ bad bodies

E = orjson.dumps(EVENT)
BAD_BODIES: dict[str, bytes] = {
    "empty 200": http(200, b"", content_type=None),
    "204": b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
    "null": http(200, b"null"),
    "data null": http(200, b'{"data": null}'),
    "array null": http(200, b'{"array": null}'),
    "empty object": http(200, b"{}"),
    "top-level array": http(200, b"[" + E + b"]"),
    "top-level string": http(200, b'"ok"'),
    "not JSON": http(200, b"<html>ok</html>", content_type="text/html"),
    "truncated JSON": http(200, b'{"array": [' + E[:20]),
    "invalid UTF-8": http(200, b'{"data": "\xff\xfe", "array": ["\xc3\x28"]}'),
    "lone surrogate escape": http(200, b'{"access_token": "\\ud800", "data": "\\udc00"}'),
    "deep nesting": http(200, b"[" * 5000 + b"]" * 5000),
    "number out of range": http(200, b'{"array": [1e999], "data": 1e999}'),
    "data is a list": http(200, b'{"data": [' + E + b"]}"),
    "array is an object": http(200, b'{"array": {"0": ' + E + b"}}"),
    "extra nesting": http(200, b'{"data": {"data": ' + E + b'}, "array": [[' + E + b"]]}"),
    "event without id": http(200, b'{"data": {"time": "2024-05-01T12:00:00Z", "type": "x"}}'),
    "wrong field types": http(
        200,
        orjson.dumps(
            {
                "data": {"id": 5, "time": [], "type": {}, "source": 1, "newEvents": "x"},
                "array": [{"id": True, "name": 5, "sourceArray": "x", "time": None}],
                "access_token": 5,
                "expires_in": "soon",
                "id": 7,
            }
        ),
    ),
    "time out of range": http(
        200,
        orjson.dumps(
            {
                "data": {**EVENT, "time": "9999-12-31T23:59:59.9999999Z"},
                "array": [{**EVENT_TYPE, **EVENT, "lastModified": "0001-01-01T00:00:00-01:00"}],
            }
        ),
    ),
    "links of the wrong type": http(200, b'{"array": [], "_links": {"next": 5}}'),
    "session id not a GUID": http(201, b'{"id": "../../x", "data": {"newEvents": {}}}'),
    "token with a newline": http(200, b'{"access_token": "a\\r\\nX-Evil: 1", "expires_in": 60}'),
    "empty token": http(200, b'{"access_token": "", "expires_in": 60}'),
    "token expiring in the past": http(200, b'{"access_token": "abc", "expires_in": -5}'),
}


@pytest.mark.parametrize("body", sorted(BAD_BODIES))
@pytest.mark.parametrize("call", sorted(CALLS))
async def test_bad_bodies_are_protocol_errors_or_tolerated(
    server: RawServer, call: str, body: str
) -> None:
    server.reply(CALLS[call][0], BAD_BODIES[body])
    result = await outcome(server.url, call)
    assert result is None or isinstance(result, ProtocolError), repr(result)


#: Answers that are not the documented one in any reading: the call must not succeed.
NEVER_OK = ("empty 200", "204", "null", "data null", "not JSON", "truncated JSON", "invalid UTF-8")


@pytest.mark.parametrize("body", NEVER_OK)
@pytest.mark.parametrize("call", sorted(set(CALLS) - {"trigger_events"}))
async def test_answers_without_the_documented_body_are_protocol_errors(
    server: RawServer, call: str, body: str
) -> None:
    server.reply(CALLS[call][0], BAD_BODIES[body])
    result = await outcome(server.url, call)
    assert isinstance(result, ProtocolError)
    assert result.method  # says what was asked …
    assert result.path
    assert result.status is not None  # … and what came back


@pytest.mark.parametrize("body", NEVER_OK)
async def test_a_batch_without_the_documented_body_reports_unknown(
    server: RawServer, body: str
) -> None:
    server.reply("POST /api/rest/v1/events/batch", BAD_BODIES[body])
    async with client_for(server.url, timeout=PATIENT) as client:
        report = await client.trigger_events([EventTrigger(type=uuid.UUID(TYPE_ID))])
    (result,) = report.results
    assert result.status == "unknown"
    assert isinstance(result.error, ProtocolError)


@pytest.mark.parametrize("call", sorted(CALLS))
async def test_other_statuses_and_content_types_with_a_good_body(
    server: RawServer, call: str
) -> None:
    """202 where 200 is documented (or 200 for 202/201), or JSON sent as text/html: the
    body is what counts; the call succeeds."""
    route = CALLS[call][0]
    status, body = GOOD[route]
    for other in (
        http(200 if status != 200 else 202, orjson.dumps(body)),
        http(status, orjson.dumps(body), content_type="text/html; charset=latin-1"),
    ):
        server.reply(route, other)
        assert await outcome(server.url, call) is None


# ============================================================================ bad connections

CUT: dict[str, Reply] = {
    "closed before answering": b"",
    "closed mid status line": b"HTTP/1.1 20",
    "closed mid header": b"HTTP/1.1 200 OK\r\nContent-Type: applic",
    "closed mid body": b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n" + E,
    "invalid status line": b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\n{}",
    "not HTTP at all": b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    "invalid header": b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\nBad Header\r\n\r\n{}",
    "bad chunked body": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n",
    "bad gzip body": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope",
    "no answer": _silence,
}


@pytest.mark.parametrize("cut", sorted(CUT))
@pytest.mark.parametrize("call", sorted(set(CALLS) - {"session_read"}))
async def test_cut_or_broken_answers_are_transport_errors(
    server: RawServer, call: str, cut: str
) -> None:
    """(An event session recovers from a failed read by design: that is the stream proofs'.)"""
    server.reply(CALLS[call][0], CUT[cut])
    result = await outcome(server.url, call, timeout=0.2)
    if call != "trigger_events":
        assert isinstance(result, TransportError | ProtocolError), repr(result)


@pytest.mark.parametrize("where", ["in the header", "in the body"])
@pytest.mark.parametrize("call", ["login", "get_event", "trigger_event", "trigger_events"])
async def test_a_slow_loris_server_does_not_hang_the_client(
    server: RawServer, call: str, where: str
) -> None:
    """Bytes arrive faster than the read timeout, forever: each read succeeds, the answer
    never ends. The client gives up (a timeout) instead of waiting for ever."""
    start = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    data = start if where == "in the header" else start + b"Content-Length: 100000\r\n\r\n"
    server.reply(CALLS[call][0], trickle(data))
    retry = RetryPolicy(attempts=1)
    result = await outcome(server.url, call, timeout=0.1, connect_timeout=0.2, retry=retry)
    if call != "trigger_events":
        assert isinstance(result, TransportError), repr(result)


@pytest.mark.parametrize("call", ["list_events", "list_event_types", "get_event"])
async def test_a_50_mb_answer_neither_hangs_nor_explodes(server: RawServer, call: str) -> None:
    """A 50 MB JSON answer: parsed once, refused (or, for a valid huge event, returned)
    within the deadline, and the process does not grow by more than a small multiple."""
    size = 50 * 1024 * 1024
    if call == "get_event":
        body = orjson.dumps({"data": {**EVENT, "tag": "x" * size}})
    else:
        body = b'{"array": [' + b"0," * (size // 2) + b"0]}"
    server.reply(CALLS[call][0], http(200, body))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = await outcome(server.url, call, timeout=5.0)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert result is None if call == "get_event" else isinstance(result, ProtocolError)
    assert grown_mb < 20 * 50, f"the process grew by {grown_mb:.0f} MB for a 50 MB answer"


# ============================================================================ error answers

RETRY_AFTER = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=12)


@given(RETRY_AFTER | st.sampled_from(["²", "٣", "1e999", "9" * 400, "-1", " 7 ", "0x10"]))
def test_any_retry_after_header_is_seconds_or_none(value: str) -> None:
    seconds = parse_retry_after(value)
    assert seconds is None or seconds >= 0


@pytest.mark.parametrize(
    "value", ["²", "٣", "1e999", "Wed, 21 Oct 99999 07:28:00 GMT", "\xff\xfe", "-3"]
)
@pytest.mark.parametrize("status", [429, 503])
async def test_odd_retry_after_headers_are_api_errors(
    server: RawServer, status: int, value: str
) -> None:
    body = b'{"error": {"httpCode": 429, "details": [{"errorText": "slow down"}]}}'
    server.reply(
        "GET /api/rest/v1/eventTypes", http(status, body, headers=(("Retry-After", value),))
    )
    client = client_for(server.url, retry=RetryPolicy(attempts=1), timeout=PATIENT)
    async with asyncio.timeout(DEADLINE), client:
        with pytest.raises(RateLimitedError if status == 429 else ServerError) as info:
            await client.list_event_types()
    assert info.value.retry_after is None or info.value.retry_after >= 0


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        b"[]",
        b'"x"',
        b"\xff",
        b'{"error": 5}',
        b'{"error": {"details": 5}}',
        b'{"error": {"httpCode": "abc", "details": [5, {"errorText": 7}]}}',
        b'{"httpCode": "9' + b"9" * 5000 + b'"}',
        b"<html><body>Bad gateway</body></html>",
    ],
)
@pytest.mark.parametrize("status", [400, 401, 404, 500, 599, 600, 999])
async def test_error_statuses_with_any_body_are_api_errors(
    server: RawServer, status: int, body: bytes
) -> None:
    server.reply("GET /api/rest/v1/cameras", http(status, body))
    client = client_for(server.url, retry=RetryPolicy(attempts=1), timeout=PATIENT)
    async with asyncio.timeout(DEADLINE), client:
        with pytest.raises(APIError) as info:
            await client.list_cameras()
    assert info.value.status == status


# ============================================================================ generated bodies

JSON_KEYS = st.sampled_from(
    [
        "data",
        "array",
        "_links",
        "next",
        "prev",
        "id",
        "time",
        "type",
        "source",
        "tag",
        "datatype",
        "name",
        "displayName",
        "generatorType",
        "sourceArray",
        "lastModified",
        "enabled",
        "newEvents",
        "deletedEvents",
        "access_token",
        "expires_in",
    ]
) | st.text(max_size=4)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(
        [EVENT_ID, TYPE_ID, f"cameras/{CAMERA_ID}", EVENT["time"], "9999-12-31T23:59:59.9999999Z"]
    )
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(JSON_KEYS, inner, max_size=5),
    max_leaves=12,
)
EVENTISH = st.fixed_dictionaries(
    {}, optional={k: st.just(v) | JSON for k, v in {**EVENT, **EVENT_TYPE}.items()}
)
BODIES = (
    JSON
    | st.fixed_dictionaries(
        {},
        optional={
            "data": EVENTISH | JSON,
            "array": st.lists(EVENTISH | JSON, max_size=3),
            "_links": JSON,
        },
    )
).map(orjson.dumps) | st.binary(max_size=40)
GENERATED = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize("call", ["get_event", "list_events", "list_event_types", "session_read"])
@GENERATED
@given(body=BODIES)
async def test_generated_bodies_are_decoded_or_protocol_errors(
    server: RawServer, call: str, body: bytes
) -> None:
    server.reply(CALLS[call][0], http(200, body))
    result = await outcome(server.url, call)
    assert result is None or isinstance(result, ProtocolError), repr(result)
