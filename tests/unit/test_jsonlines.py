"""Triggers from JSON Lines (xprotect_events/jsonlines.py): checked as EventTrigger checks,
and read in blocks, one thread hop per block (issue 17 item 3)."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime

import pytest

from xprotect_events import InvalidInputError
from xprotect_events.jsonlines import (
    BLOCK_BYTES,
    input_time,
    parse_trigger,
    read_blocks,
    read_lines,
)

TYPE = "afbbf1ed-2068-40fa-97a3-7225149024c6"


class CountingReader(io.BytesIO):
    """A byte stream that counts its reads and the threads they ran on."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads = 0
        self.threads: set[int] = set()

    def read1(self, size: int = -1, /) -> bytes:
        self.reads += 1
        self.threads.add(threading.get_ident())
        return super().read1(size)


async def test_lines_are_read_a_block_at_a_time_off_the_event_loop() -> None:
    lines = [f'{{"type": "{TYPE}", "tag": "t{i}"}}'.encode() for i in range(20_000)]
    stream = CountingReader(b"\n".join(lines) + b"\n")
    got = [line async for _, line in read_lines(stream)]
    assert got == lines
    assert stream.reads <= len(stream.getvalue()) // BLOCK_BYTES + 2
    assert threading.get_ident() not in stream.threads


async def test_numbers_count_blank_lines_and_a_line_keeps_its_bytes() -> None:
    data = b"first\n\n  \nsecond\r\n\xff\xfe not utf-8\nlast without a newline"
    blocks = [block async for block in read_blocks(io.BytesIO(data))]
    lines = [line for block in blocks for line in block]
    assert lines == [
        (1, b"first"),
        (4, b"second\r"),
        (5, b"\xff\xfe not utf-8"),
        (6, b"last without a newline"),
    ]


async def test_a_line_longer_than_a_block_comes_whole() -> None:
    long = b"x" * (3 * BLOCK_BYTES + 5)
    got = [line async for line in read_lines(io.BytesIO(long + b"\nshort\n"))]
    assert got == [(1, long), (2, b"short")]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("2024-05-01T12:00:00", "naive"),
        ("2024-05-01 12:00:00.1234567", "naive"),
        ("soon", "not an ISO 8601"),
        ("9999-12-31T23:59:59.9999995Z", "not an ISO 8601"),
        (1714564800, "string"),
    ],
)
def test_an_input_time_must_say_its_offset(text: object, why: str) -> None:
    with pytest.raises(InvalidInputError, match=why):
        input_time(text)


def test_an_input_time_with_an_offset_is_read_to_the_microsecond() -> None:
    assert input_time("2024-05-01T14:00:00.1234567+02:00") == datetime(
        2024, 5, 1, 12, 0, 0, 123457, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"[1, 2]", "a JSON object"),
        (b"42", "a JSON object"),
        (b"null", "a JSON object"),
        (b"not json", "not JSON"),
        (f'{{"type": "{TYPE}", "tag": "a\\nb"}}'.encode(), "control"),
        (f'{{"type": "{TYPE}", "time": "2024-05-01T12:00:00"}}'.encode(), "naive"),
        (f'{{"type": "{TYPE}", "extra": 1}}'.encode(), "unknown field"),
    ],
)
def test_a_line_is_checked_like_an_event_trigger(line: bytes, why: str) -> None:
    with pytest.raises(InvalidInputError, match=why):
        parse_trigger(line)
