"""Bounded inflation (xprotect_events/bodies.py, issue 12): gzip and deflate bodies come out
piece by piece, never much past the room asked for; broken ones are ProtocolErrors."""

from __future__ import annotations

import gzip
import zlib

import pytest

from tests.hostile import bomb
from xprotect_events import ProtocolError
from xprotect_events.bodies import Inflater, spelled

BODY = b'{"array": [], "padding": "' + b"x" * 300_000 + b'"}'


def inflated(encoding: str, data: bytes, step: int = 1000) -> bytes:
    inflater = Inflater(encoding)
    out = b"".join(
        piece
        for i in range(0, len(data), step)
        for piece in inflater.pieces(data[i : i + step], 10**9)
    )
    inflater.finish()
    return out


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("encoding", "packed"),
    [
        ("gzip", gzip.compress(BODY)),
        ("x-gzip", gzip.compress(BODY)),
        ("GZip", gzip.compress(BODY[:1000]) + gzip.compress(BODY[1000:])),  # two members
        ("deflate", zlib.compress(BODY)),
        ("deflate", raw_deflate(BODY)),  # what some servers send for deflate
        ("identity", BODY),
        ("", BODY),
    ],
)
def test_what_the_client_asks_for_is_inflated(encoding: str, packed: bytes) -> None:
    assert inflated(encoding, packed) == BODY


def test_a_bomb_stops_just_past_the_room() -> None:
    inflater = Inflater("gzip")
    room = 1_000_000
    out = 0
    for piece in inflater.pieces(bomb(64 * 1024 * 1024), room):
        assert len(piece) <= 256 * 1024
        out += len(piece)
    assert room < out <= room + 256 * 1024


@pytest.mark.parametrize(
    ("encoding", "packed", "why"),
    [
        ("gzip", b"nope, not gzip", "corrupt"),
        ("gzip", gzip.compress(BODY)[:-100], "cut short"),
        ("br", b"", "not supported"),
        ("gzip, br", b"", "not supported"),
    ],
)
def test_a_broken_or_unknown_encoding_is_a_protocol_error(
    encoding: str, packed: bytes, why: str
) -> None:
    with pytest.raises(ProtocolError, match=why):
        inflated(encoding, packed)


def test_sizes_are_spelled_for_people() -> None:
    assert spelled(8 * 1024 * 1024) == "8,388,608 bytes (8 MiB)"
    assert spelled(65_536) == "65,536 bytes"
