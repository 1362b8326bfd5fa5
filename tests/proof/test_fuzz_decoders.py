"""Proof (issue 12): every decoder of a server answer fails only with the library's errors.

Arbitrary JSON (and JSON shaped like each answer, with hostile values: 400-digit numbers
in strings, times at the edges of the calendar, nested junk) and arbitrary bytes go to
each decoder of the pure layer: the token answer, one event, a page, a session read, an
error body and a WebSocket frame (its fast decoder and the checked one); the batch answer
(decoded inside ``trigger_events``) is thrown at the client over loopback. Only
:class:`XProtectError` subclasses may come out.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile import CAMERA, PASSWORD, TYPE_ID, USERNAME, Hostile, event
from xprotect_events import EventTrigger, RetryPolicy, XProtectClient, XProtectError, typed, wire
from xprotect_events.responses import parse_error_body
from xprotect_events.ws_typed import event_batch
from xprotect_events.ws_wire import checked_frame, parse_frame

# ---------------------------------------------------------------------------- the adapter
# The decoders by what they decode. Issue 11 moves modules about: fix the names here only.


def _error_body(value: Any) -> object:
    return parse_error_body(value if isinstance(value, bytes) else json.dumps(value).encode())


def _ws_frame(value: Any) -> object:
    """A WebSocket frame as the live stream reads it; its fast decoder never raises."""
    text = value if isinstance(value, bytes) else json.dumps(value)
    fast = event_batch(text)
    try:
        checked: object = checked_frame(text)
    except XProtectError:
        assert fast is None
        raise
    assert fast is None or fast == checked
    return parse_frame(text)


DECODERS: dict[str, Callable[[Any], object]] = {
    "token answer": wire.token_from_wire,
    "event": wire.event_from_wire,
    "one event ({data: event})": lambda body: wire.event_from_wire(wire.data_envelope(body)),
    "page": wire.event_page_from_wire,
    "session read": wire.session_read_from_wire,
    "session read (from bytes)": lambda body: typed.session_read(json.dumps(body).encode()),
    "page (from bytes)": lambda body: typed.event_page(json.dumps(body).encode()),
    "error body": _error_body,
    "websocket frame": _ws_frame,
}


def decode_bytes(name: str, raw: bytes) -> object:
    """What the client does with a body of bytes: parse it, then decode it."""
    if name in ("error body", "websocket frame"):
        return DECODERS[name](raw)
    if name == "session read (from bytes)":
        return typed.session_read(raw)
    if name == "page (from bytes)":
        return typed.event_page(raw)
    return DECODERS[name](wire.loads(raw))


# ---------------------------------------------------------------------------- strategies

HOSTILE_STRINGS = st.sampled_from(
    [
        "9" * 400,
        "1e400",
        "-1",
        "0",
        "NaN",
        "9999-12-31T23:59:59.9999999Z",
        "9999-12-31T23:59:59.9999995Z",
        "0001-01-01T00:00:00-23:59",
        "0001-01-01T00:00:00.0000000+23:59",
        "2024-05-01T12:00:00.12345678901234567890Z",
        "2024-02-30T12:00:00Z",
        TYPE_ID,
        CAMERA,
        "{" + TYPE_ID + "}",
        "\x00",
        "\u2028",
    ]
)
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what orjson can give
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | HOSTILE_STRINGS
)
JSON = st.recursive(
    LEAVES,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4)
    ),
    max_leaves=16,
)


GUIDS = st.sampled_from([TYPE_ID, CAMERA.rpartition("/")[2]]) | st.uuids().map(str)
TIMES = HOSTILE_STRINGS | st.datetimes().map(lambda d: d.isoformat() + "Z")
VALUES = LEAVES | JSON


def shaped(keys: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Objects with any of the documented keys (plausible or hostile values), and junk."""
    return st.fixed_dictionaries({}, optional={k: v | VALUES for k, v in keys.items()}) | (
        st.dictionaries(st.sampled_from(sorted(keys)) | st.text(max_size=4), VALUES, max_size=6)
    )


EVENT = shaped(
    {
        "id": GUIDS,
        "time": TIMES,
        "type": GUIDS,
        "source": st.none() | GUIDS | GUIDS.map(lambda g: f"cameras/{g}"),
        "tag": st.none() | st.text(max_size=8),
        "datatype": st.none() | st.just("analytics"),
        "data": st.none() | st.dictionaries(st.text(max_size=4), VALUES, max_size=3),
    }
) | st.just(event(1))
PUSHED = shaped(
    {
        "id": GUIDS,
        "time": TIMES | TIMES.map(lambda t: t.lower()),
        "type": GUIDS,
        "source": st.none() | GUIDS.map(lambda g: f"cameras/{g}"),
        "tag": st.none() | st.text(max_size=8),
        "datatype": st.none(),
        "stategroupid": GUIDS,
        "specVersion": st.just("1.0"),
    }
) | st.just({**event(1), "stategroupid": TYPE_ID})
DIGITS = st.integers(min_value=1, max_value=400).map(lambda n: "9" * n)
ANSWERS: dict[str, st.SearchStrategy[Any]] = {
    "token answer": shaped(
        {
            "access_token": st.text(min_size=1, max_size=12),
            "expires_in": DIGITS | st.integers(min_value=-(2**63), max_value=2**64 - 1),
            "token_type": st.just("Bearer"),
            "scope": st.just("managementserver"),
        }
    ),
    "event": EVENT,
    "one event ({data: event})": st.fixed_dictionaries({"data": EVENT | JSON}),
    "page": st.fixed_dictionaries(
        {"array": st.lists(EVENT, max_size=3) | JSON}, optional={"_links": JSON}
    ),
    "session read": st.fixed_dictionaries(
        {
            "data": st.fixed_dictionaries(
                {},
                optional={
                    "newEvents": st.lists(EVENT, max_size=3) | JSON,
                    "deletedEvents": st.lists(EVENT, max_size=3) | JSON,
                },
            )
            | JSON
        }
    ),
    "websocket frame": st.fixed_dictionaries(
        {"events": st.lists(PUSHED | EVENT, max_size=3) | JSON}
    )
    | st.fixed_dictionaries({"commandId": st.integers() | JSON, "status": st.integers() | JSON}),
    "error body": shaped(
        {
            "error": st.text(max_size=8)
            | st.fixed_dictionaries(
                {}, optional={"httpCode": DIGITS | st.integers(), "details": JSON}
            ),
            "httpCode": DIGITS,
            "details": st.lists(JSON, max_size=3),
            "error_description": st.text(max_size=8),
            "error_code": st.text(max_size=8),
        }
    ),
}
ANSWERS["session read (from bytes)"] = ANSWERS["session read"]
ANSWERS["page (from bytes)"] = ANSWERS["page"]


def only_library_errors(call: Callable[[], object]) -> None:
    with contextlib.suppress(XProtectError):
        call()


@pytest.mark.parametrize("name", sorted(DECODERS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_json_decodes_or_is_a_library_error(name: str, data: st.DataObject) -> None:
    value = data.draw(ANSWERS[name] | JSON, label=name)
    only_library_errors(lambda: DECODERS[name](value))


@pytest.mark.parametrize("name", sorted(DECODERS))
@settings(max_examples=40, deadline=None)
@given(raw=st.binary(max_size=64) | JSON.map(lambda v: json.dumps(v).encode()))
def test_any_bytes_decode_or_are_a_library_error(name: str, raw: bytes) -> None:
    only_library_errors(lambda: decode_bytes(name, raw))


# ---------------------------------------------------------------------------- the batch answer

ITEM = EVENT | ANSWERS["error body"] | JSON
BATCH = st.fixed_dictionaries({"array": st.lists(ITEM, min_size=3, max_size=3) | JSON}) | JSON


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(answer=BATCH)
async def test_any_batch_answer_is_accounted_item_by_item(hostile: Hostile, answer: Any) -> None:
    hostile.on("batch", hostile.answer(200, json.dumps(answer).encode()))
    triggers = [EventTrigger(type=TYPE_ID, source=CAMERA, tag=f"t{i}") for i in range(3)]
    client = XProtectClient(
        hostile.url, username=USERNAME, password=PASSWORD, retry=RetryPolicy(attempts=1)
    )
    async with client:
        report = await client.trigger_events(triggers)
    assert len(report.results) == 3
    for result in report.results:
        assert result.status in ("accepted", "rejected", "unknown")
        only_library_errors(lambda r=result: (r.event, r.reason))  # type: ignore[misc]
    only_library_errors(report.raise_for_failures)
