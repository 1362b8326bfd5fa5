"""Reading the lines of a batch input costs linear work and bounded memory, whatever the
line (h-cli3): a line fed in many blocks is copied once, not once per block (the old
``bytes +=`` copied it again at each block: the square of its length); a line longer
than :data:`~xprotect_events.jsonlines.MAX_LINE_BYTES` is never held whole (an endless
line without a newline cannot exhaust memory) and comes as one line all the same, so the
batch accounts for it. Both readers are checked: ``jsonlines.read_blocks`` (the injector,
the journal's rerun) and the CLI's ``InputReader``.

The cost is measured, not timed: the blocks are a ``bytes`` subclass that adds up the
bytes every ``+`` with them copies; memory is measured with :mod:`tracemalloc`.
"""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from xprotect_events.cli.batchfile import InputReader, count_lines
from xprotect_events.jsonlines import BLOCK_BYTES, read_lines


class Copies:
    """The bytes that concatenations of :class:`Block` copied."""

    total = 0


class Block(bytes):
    """A block of input whose every ``+`` adds the bytes it copies to :class:`Copies`."""

    def __add__(self, other: object) -> Block:
        return _joined(bytes(self), other)

    def __radd__(self, other: object) -> Block:
        return _joined(other, bytes(self))


def _joined(left: object, right: object) -> Block:
    assert isinstance(left, bytes)
    assert isinstance(right, bytes)
    Copies.total += len(left) + len(right)
    return Block(bytes(left) + bytes(right))


class Blocks(io.RawIOBase):
    """A stream (no file descriptor, as a pipe looks to the reader) whose reads give
    ``count`` blocks of ``size`` bytes made by ``make`` (each read at most one block),
    then ``tail``."""

    def __init__(self, make: Callable[[bytes], bytes], size: int, count: int, tail: bytes):
        self._block = make(b"x" * size)
        self._left = count
        self._tail = tail

    def readable(self) -> bool:
        return True

    def read1(self, size: int = -1, /) -> bytes:
        assert size >= len(self._block)
        if self._left:
            self._left -= 1
            return self._block
        tail, self._tail = self._tail, b""
        return tail


async def _read_lines(stream: io.RawIOBase) -> list[tuple[int, bytes]]:
    return [line async for line in read_lines(stream)]  # type: ignore[arg-type]


async def _input_reader_lines(stream: io.RawIOBase) -> list[tuple[int, bytes]]:
    reader = InputReader(stream)  # type: ignore[arg-type]
    try:
        return [line async for line in reader.lines()]
    finally:
        reader.close()


READERS = [
    pytest.param(_read_lines, id="jsonlines.read_lines"),
    pytest.param(_input_reader_lines, id="cli.InputReader"),
]


@pytest.mark.parametrize("read", READERS)
async def test_a_line_fed_in_many_blocks_is_copied_once_not_once_per_block(
    read: Callable[[io.RawIOBase], object],
) -> None:
    size, count = 4096, 256  # a 1 MiB line in 256 blocks: the old code copied 128 MiB
    Copies.total = 0
    stream = Blocks(Block, size, count, b"\nnext\n")
    lines = await read(stream)  # type: ignore[misc]
    assert lines == [(1, b"x" * (size * count)), (2, b"next")]
    assert Copies.total <= 2 * size * count


@pytest.mark.parametrize("read", READERS)
async def test_a_line_longer_than_the_maximum_is_one_line_never_held_whole(
    read: Callable[[io.RawIOBase], object],
) -> None:
    from xprotect_events.jsonlines import MAX_LINE_BYTES, LongLine

    count = 3 * MAX_LINE_BYTES // BLOCK_BYTES  # three times the maximum, no newline yet
    stream = Blocks(bytes, BLOCK_BYTES, count, b"\n\nafter\n")
    tracemalloc.start()
    try:
        lines = await read(stream)  # type: ignore[misc]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(number, type(line)) for number, line in lines] == [(1, LongLine), (3, bytes)]
    assert lines[1] == (3, b"after")
    assert peak < MAX_LINE_BYTES + 8 * BLOCK_BYTES


@pytest.mark.parametrize("read", READERS)
async def test_a_long_last_line_without_a_newline_is_one_line(
    read: Callable[[io.RawIOBase], object],
) -> None:
    from xprotect_events.jsonlines import MAX_LINE_BYTES, LongLine

    stream = Blocks(bytes, BLOCK_BYTES, MAX_LINE_BYTES // BLOCK_BYTES + 1, b"")
    lines = await read(stream)  # type: ignore[misc]
    assert [(number, type(line)) for number, line in lines] == [(1, LongLine)]


@pytest.mark.parametrize("read", READERS)
async def test_a_line_of_the_maximum_length_comes_whole(
    read: Callable[[io.RawIOBase], object],
) -> None:
    from xprotect_events.jsonlines import MAX_LINE_BYTES

    stream = Blocks(bytes, BLOCK_BYTES, MAX_LINE_BYTES // BLOCK_BYTES, b"\nlast")
    lines = await read(stream)  # type: ignore[misc]
    assert lines == [(1, b"x" * MAX_LINE_BYTES), (2, b"last")]


def test_counting_the_lines_of_a_file_never_holds_a_long_line(tmp_path: Path) -> None:
    from xprotect_events.jsonlines import MAX_LINE_BYTES

    source = tmp_path / "in.jsonl"
    with source.open("wb") as f:
        f.write(b"first\n\n")
        for _ in range(3 * MAX_LINE_BYTES // BLOCK_BYTES):
            f.write(b"x" * BLOCK_BYTES)
        f.write(b"\n  \nlast")
    tracemalloc.start()
    try:
        assert count_lines(source) == 3
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MAX_LINE_BYTES + 8 * BLOCK_BYTES
