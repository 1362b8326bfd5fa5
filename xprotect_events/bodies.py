"""Reading an answer's body within a bound: never more than a limit in memory, the
decompressed size included.

The client's aiohttp sessions do not decompress (``auto_decompress=False``): a gzip or
deflate body is inflated here, piece by piece, with zlib's ``max_length``, so a small
body that inflates to gigabytes (a gzip bomb) stops at the limit like any other. A body
whose ``Content-Length`` already says it is too large is refused before a byte is read.

Limits: :data:`MAX_RESPONSE_BYTES` (the client's ``max_response_bytes`` default) for
answers the client decodes (a page, a session read, a batch answer);
:data:`MAX_TOKEN_BYTES` for a token answer; an error answer is read only as far as
:data:`MAX_ERROR_BYTES` (its details or a snippet come from that much; the rest is
dropped with the connection).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Protocol

import aiohttp

from .errors import ProtocolError

KiB = 1024
MiB = 1024 * KiB

#: The default ``max_response_bytes``: the largest answer read (decompressed).
MAX_RESPONSE_BYTES = 64 * MiB
#: The largest token answer read (a token answer is a few KB).
MAX_TOKEN_BYTES = 64 * KiB
#: How much of an error answer is read.
MAX_ERROR_BYTES = 64 * KiB
#: What the client asks for: the encodings it inflates itself.
ACCEPT_ENCODING = "gzip, deflate"

_PIECE = 256 * KiB  # the most zlib inflates at once


class TooLarge(Exception):
    """The body is larger than the limit (internal: the caller says which limit)."""

    def __init__(self, size: int, declared: bool) -> None:
        super().__init__(size)
        self.size = size
        self.declared = declared


class Decompressor(Protocol):
    """What :func:`zlib.decompressobj` returns (the parts used here)."""

    @property
    def unconsumed_tail(self) -> bytes: ...

    @property
    def unused_data(self) -> bytes: ...

    @property
    def eof(self) -> bool: ...

    def decompress(self, data: bytes, max_length: int = 0, /) -> bytes: ...


class Inflater:
    """The decompressor of one body's ``Content-Encoding``; pieces of at most 256 KiB."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding.strip().lower()
        if self.encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise ProtocolError(
                f"the answer's Content-Encoding {encoding[:40]!r} is not supported "
                "(the client asks for gzip or deflate)"
            )
        self._zlib: Decompressor | None = None
        self._fed = False

    def _start(self, first: int) -> Decompressor:
        if self.encoding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # deflate is the zlib format by the RFC; some servers send it raw
        return zlib.decompressobj(zlib.MAX_WBITS if first & 0x0F == 8 else -zlib.MAX_WBITS)

    def pieces(self, data: bytes, room: int) -> Iterator[bytes]:
        """The inflated pieces of ``data``; stops once more than ``room`` bytes came out."""
        if self.encoding in ("", "identity"):
            yield data
            return
        try:
            yield from self._inflate(data, room)
        except zlib.error as exc:
            raise ProtocolError(f"the answer's {self.encoding} body is corrupt ({exc})") from None

    def _inflate(self, data: bytes, room: int) -> Iterator[bytes]:
        while data and room >= 0:
            if self._zlib is None:
                self._zlib = self._start(data[0])
            self._fed = True
            out = self._zlib.decompress(data, max(1, min(_PIECE, room + 1)))
            data = self._zlib.unconsumed_tail
            if self._zlib.eof:  # another gzip member may follow
                data, self._zlib = self._zlib.unused_data + data, None
            if out:
                room -= len(out)
                yield out

    def finish(self) -> None:
        """At the end of the body: a compressed stream must be complete."""
        if self._zlib is not None and self._fed and not self._zlib.eof:
            raise ProtocolError(f"the answer's {self.encoding} body is cut short")


async def read_body(resp: aiohttp.ClientResponse, limit: int, *, cut: bool = False) -> bytes:
    """The (decompressed) body of ``resp``, at most ``limit`` bytes.

    Past the limit: with ``cut``, the first ``limit`` bytes (the connection is dropped);
    otherwise :class:`TooLarge`. aiohttp's own errors pass through.
    """
    inflater = Inflater(resp.headers.get("Content-Encoding", ""))
    declared = resp.content_length
    if not cut and declared is not None and declared > limit:
        resp.close()
        raise TooLarge(declared, declared=True)
    parts: list[bytes] = []
    total = 0
    async for data in resp.content.iter_any():
        for piece in inflater.pieces(data, limit - total):
            total += len(piece)
            if total > limit:
                resp.close()
                if not cut:
                    raise TooLarge(total, declared=False)
                parts.append(piece[: len(piece) - (total - limit)])
                return b"".join(parts)
            parts.append(piece)
    inflater.finish()
    return b"".join(parts)


def spelled(size: int) -> str:
    """``8,388,608 bytes (8 MiB)``."""
    if size >= MiB:
        return f"{size:,} bytes ({size / MiB:g} MiB)"
    return f"{size:,} bytes"
