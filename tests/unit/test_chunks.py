"""Chunking: a whole chunk encoded by one ``dumps`` is the chunk the per-trigger path cuts."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from xprotect_events.chunks import Chunk, Chunker, chunks_of, prepare
from xprotect_events.models import EventTrigger
from xprotect_events.testing import CAMERA_IDS, USER_DEFINED_EVENT


def door(i: int, **more: Any) -> EventTrigger:
    return EventTrigger(type=USER_DEFINED_EVENT, source=f"cameras/{CAMERA_IDS[i % 2]}", **more)


async def collect(chunks: AsyncGenerator[Chunk, None]) -> list[Chunk]:
    return [chunk async for chunk in chunks]


def one_by_one(items: list[Any], size: int, max_bytes: int) -> list[Chunk]:
    """The chunks the per-trigger path cuts."""
    chunker = Chunker(size, max_bytes, reject_invalid=False)
    out = [c for i, t in enumerate(items) if (c := chunker.add(i, t, prepare(t, max_bytes)))]
    last = chunker.take()
    return out + ([last] if last is not None else [])


def shape(chunks: list[Chunk]) -> list[tuple[Any, ...]]:
    return [
        (c.indices, c.triggers, c.payload(), [r.index for r in c.invalid], c.count) for c in chunks
    ]


async def test_whole_chunks_are_one_dumps_of_the_same_bytes() -> None:
    items = [door(i, tag=f"t{i}") for i in range(250)]
    chunks = await collect(chunks_of(items, 100, 1 << 20, reject_invalid=False))
    assert [c.encoded is not None for c in chunks] == [True, True, True]
    assert shape(chunks) == shape(one_by_one(items, 100, 1 << 20))
    assert orjson.loads(chunks[0].payload())[3]["tag"] == "t3"


async def test_every_form_of_trigger_is_the_same_bytes_in_one_dumps() -> None:
    when = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    items = [
        door(0),
        door(1, tag='a "tag" \\ é \u2028'),
        EventTrigger(type=USER_DEFINED_EVENT),
        door(2, time=when),
        door(3, datatype="kind", data={"n": 1, "s": ["x"]}),
        door(4, tag="t", time=when, data={}),
        EventTrigger(type=str(USER_DEFINED_EVENT).upper(), source=str(CAMERA_IDS[0]), tag=""),
    ]
    chunks = await collect(chunks_of(items, 100, 1 << 20, reject_invalid=False))
    assert [c.encoded is not None for c in chunks] == [True]
    assert shape(chunks) == shape(one_by_one(items, 100, 1 << 20))
    assert chunks[0].echoes == [(str(t.type), t.source, t.tag, t.datatype) for t in items]


#: Tags and datatypes in the forms JSON escapes or may: quotes, backslashes, non-ASCII,
#: line separators, a character beyond the BMP, markup, empty, absent (a trigger
#: refuses control characters).
AWKWARD = ['a "tag" \\ é \u2028\u2029', "~\u00a0\u200b", "😀", "", None, "</script>"]


async def test_a_chunk_without_times_or_data_is_the_same_bytes() -> None:
    """The plain chunk's encoder (msgspec, structs) writes what the per-trigger path
    writes, byte for byte; one lone surrogate (which a trigger refuses when made: here it
    is put in afterwards) sends the chunk trigger by trigger, that trigger refused and the
    others sent as before."""
    items = [door(i, tag=tag, datatype=kind) for i, tag in enumerate(AWKWARD) for kind in AWKWARD]
    items.append(EventTrigger(type=str(USER_DEFINED_EVENT).upper(), source=str(CAMERA_IDS[0])))
    items.append(EventTrigger(type=USER_DEFINED_EVENT))
    chunks = await collect(chunks_of(items, 100, 1 << 20, reject_invalid=False))
    assert [c.encoded is not None for c in chunks] == [True]
    assert shape(chunks) == shape(one_by_one(items, 100, 1 << 20))
    assert chunks[0].echoes == [(str(t.type), t.source, t.tag, t.datatype) for t in items]
    spoiled = door(3, tag="x")  # (a trigger refuses a lone surrogate: put in afterwards)
    object.__setattr__(spoiled, "tag", "\ud800")
    lone = [*items[:3], spoiled, *items[3:]]
    chunks = await collect(chunks_of(lone, 100, 1 << 20, reject_invalid=False))
    assert shape(chunks) == shape(one_by_one(lone, 100, 1 << 20))
    assert [r.index for c in chunks for r in c.invalid] == [3]


async def test_invalid_triggers_and_size_cuts_fall_back_to_the_same_cuts() -> None:
    items: list[Any] = [door(i, tag=f"{i:03d}" + "x" * 300) for i in range(60)]
    items[7] = "not a trigger"
    items[45] = EventTrigger(type=USER_DEFINED_EVENT, data={"a set": {1}})
    for size, max_bytes in [(10, 1 << 20), (25, 2_000), (100, 5_000)]:
        chunks = await collect(chunks_of(items, size, max_bytes, reject_invalid=False))
        assert shape(chunks) == shape(one_by_one(items, size, max_bytes))
        assert all(len(c.payload()) <= max_bytes for c in chunks)
