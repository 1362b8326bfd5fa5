"""Proof (issue 12), the parts the first proofs did not cover: compressed answers within
the limit, error answers read only as far as their start, a 404 told to wait a day, a
decoder's message quoting a secret, control characters in GUIDs, a client never opened,
and the ``max_response_bytes`` option itself."""

from __future__ import annotations

import gzip
import logging
import uuid
import zlib
from datetime import timedelta
from typing import Any

import orjson
import pytest

from tests.hostile import CAMERA, MB, TOKEN, Hostile, error_json, event
from tests.proof.test_hostile import CAP, raised, user, within_the_cap
from xprotect_events import (
    APIError,
    ClientClosedError,
    InvalidInputError,
    ProtocolError,
    RetryPolicy,
    SessionChange,
    XProtectClient,
    XProtectError,
)

PAGE = orjson.dumps({"_links": {}, "array": [event(1), event(2)], "padding": "x" * 2000})
PACKED = {
    "gzip": gzip.compress(PAGE),
    "deflate": zlib.compress(PAGE),
}


@pytest.mark.parametrize("encoding", sorted(PACKED))
async def test_a_compressed_answer_within_the_limit_is_read(
    hostile: Hostile, encoding: str
) -> None:
    headers = {"Content-Encoding": encoding}
    hostile.on("list", hostile.answer(200, PACKED[encoding], headers))
    async with user(hostile, max_response_bytes=len(PAGE)) as client:
        tags = [e.tag async for e in client.list_events()]
    assert tags == ["e1", "e2"]
    assert hostile.requests("list")[0].route == "list"


async def test_an_encoding_the_client_did_not_ask_for_is_a_protocol_error(hostile: Hostile) -> None:
    hostile.on("list", hostile.answer(200, b"\x8b\x00", {"Content-Encoding": "br"}))
    async with user(hostile) as client:
        exc = await raised(anext(client.list_events()))
    assert isinstance(exc, ProtocolError), repr(exc)
    assert "Content-Encoding" in str(exc)


async def test_an_answer_at_the_limit_is_read_and_one_byte_more_is_refused(
    hostile: Hostile,
) -> None:
    hostile.on("list", hostile.answer(200, PAGE))
    async with user(hostile, max_response_bytes=len(PAGE)) as client:
        assert len([e async for e in client.list_events()]) == 2
    async with user(hostile, max_response_bytes=len(PAGE) - 1) as client:
        exc = await raised(anext(client.list_events()))
    assert isinstance(exc, ProtocolError)
    assert "max_response_bytes" in str(exc)
    assert f"{len(PAGE) - 1:,} bytes" in str(exc)


async def test_an_error_answer_is_read_only_as_far_as_its_start(hostile: Hostile) -> None:
    """A 64 MB JSON error body: not parsed whole, not kept; the client stops reading."""
    head = b'{"error": {"httpCode": 400, "details": [{"errorText": "'
    hostile.on("list", hostile.big(64 * MB, status=400, head=head, tail=b'"}]}}'))
    async with user(hostile, retry=RetryPolicy(attempts=1)) as client:
        exc = await raised(anext(client.list_events()))
    assert isinstance(exc, APIError), repr(exc)
    assert exc.status == 400
    assert len(str(exc)) < 1000
    assert hostile.sent["list"] < 32 * MB


async def test_a_token_answer_over_its_limit_says_so(hostile: Hostile) -> None:
    hostile.on("token", hostile.big(1 * MB, head=b'{"expires_in": 3600, "padding": "'))
    async with user(hostile, retry=RetryPolicy(attempts=1)) as client:
        exc = await raised(client.login())
    assert isinstance(exc, ProtocolError), repr(exc)
    assert "65,536 bytes" in str(exc)


async def test_a_lost_session_told_to_wait_a_day_waits_at_most_the_cap(
    hostile: Hostile, caplog: pytest.LogCaptureFixture
) -> None:
    """A 404 (the session was dropped) is resumed at once; a second one with a Retry-After
    of a day waits no longer than the policy's cap."""
    caplog.set_level(logging.DEBUG)
    headers = {"Retry-After": "100000"}
    lost = hostile.answer(404, error_json(404, b"no such session"), headers)
    calls = [0]

    async def twice_lost(request: Any) -> Any:
        calls[0] += 1
        return await (lost(request) if calls[0] <= 2 else hostile._good_read(request))

    hostile.on("read", twice_lost)
    hostile.reads = [[event(1)]]
    async with user(hostile) as client, client.event_session(poll_interval=0.01) as session:
        outcome = await within_the_cap(anext(session), caplog)
    assert isinstance(outcome, SessionChange | XProtectError), repr(outcome)
    assert CAP >= 1.0


async def test_a_decoders_message_never_quotes_the_token(hostile: Hostile) -> None:
    """An answer that puts the token where a GUID belongs: the ProtocolError quotes the
    value, without the token."""
    bad = {**event(1), "id": TOKEN}
    hostile.on("list", hostile.answer(200, orjson.dumps({"_links": {}, "array": [bad]})))
    async with user(hostile) as client:
        exc = await raised(anext(client.list_events()))
    assert isinstance(exc, ProtocolError), repr(exc)
    assert TOKEN not in str(exc)
    assert "[redacted]" in str(exc)


GUID = CAMERA.rpartition("/")[2]


@pytest.mark.parametrize("char", ["\t", "\n", "\x0b", "\x0c", "\r", " ", "_", "+", "\u2003"])
async def test_a_guid_with_a_blank_or_a_sign_for_a_digit_is_refused_before_sending(
    hostile: Hostile, char: str
) -> None:
    async with user(hostile) as client:
        for guid in (f"{char}{GUID[1:]}", f"{GUID[:-1]}{char}"):
            with pytest.raises(InvalidInputError):
                await client.get_event(guid)
            with pytest.raises(InvalidInputError):
                await client.get_event_type(guid)
    assert hostile.seen == []


async def test_a_client_never_opened_is_a_library_error(hostile: Hostile) -> None:
    client = user(hostile)
    with pytest.raises(ClientClosedError, match="async with") as info:
        await client.get_event(uuid.uuid4())
    assert isinstance(info.value, RuntimeError)  # what it was before: except clauses still hold
    assert hostile.seen == []


@pytest.mark.parametrize("value", [0, 1023, -1, True, 1.5, "64 MiB", None])
def test_max_response_bytes_must_be_a_number_of_bytes(value: object) -> None:
    with pytest.raises(InvalidInputError, match="max_response_bytes"):
        XProtectClient("http://127.0.0.1:1", username="u", password="p", max_response_bytes=value)  # type: ignore[arg-type]


# A read with one malformed event among good ones: refused whole, before any of its
# changes is delivered, and the events of the reads before it were delivered once each.
MALFORMED = {
    "a GUID with a blank for a digit": {"id": " " + event(3)["id"][1:]},
    "a time that is not a time": {"time": "2024-05-01T25:00:00.0000000Z"},
    "a type that is not a GUID": {"type": "motion"},
    "a number for a tag": {"tag": 7},
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_a_read_with_a_malformed_event_is_refused_before_any_of_it(
    hostile: Hostile, case: str
) -> None:
    hostile.reads = [[event(1), event(2)], [event(3), {**event(4), **MALFORMED[case]}, event(5)]]
    seen: list[str] = []
    async with user(hostile) as client, client.event_session(poll_interval=0.01) as session:
        for _ in range(2):
            seen.append(str((await anext(session)).event.id))
        exc = await raised(anext(session))
    assert isinstance(exc, ProtocolError), repr(exc)
    assert seen == [event(1)["id"], event(2)["id"]]


async def test_a_read_in_another_valid_form_is_delivered_as_the_server_meant(
    hostile: Hostile,
) -> None:
    """An offset, an unknown key, a GUID in braces: the checked decoder's events."""
    odd = {**event(2), "time": "2024-05-01T14:00:00.0020000+02:00", "specVersion": "1.0"}
    hostile.reads = [[event(1), odd, {**event(3), "id": "{" + event(3)["id"] + "}"}]]
    async with user(hostile) as client, client.event_session(poll_interval=0.01) as session:
        changes = [await anext(session) for _ in range(3)]
    first, second, third = (change.event for change in changes)
    assert second.time == first.time + (third.time - first.time) / 2  # 12:00:00.002 UTC
    assert second.time.utcoffset() == timedelta(0)
    assert second.extra == {"specVersion": "1.0"}
    assert str(third.id) == event(3)["id"]
