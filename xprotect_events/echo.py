"""The fast check of a batch answer: from the answer's bytes, in C. Pure.

Servers answer each accepted trigger with its own body plus an ``id`` and a ``time``
(:class:`.report.ChunkReport` keeps only those two texts). msgspec decodes an answer in
that form into structs; the echo check is then one list comparison with what the chunk's
triggers were encoded from (:func:`.wire.triggers_to_wire`), or with the request body
decoded the same way when the chunk was encoded trigger by trigger. Only a chunk every
item of which is such an echo takes this path: any other answer (a per-item error, an
extra key, a trigger with ``data``, not JSON, the wrong length, an id given twice) goes to
the checked path (:func:`.accounting.chunk_answered`), which decides it with the same
result for what both accept and raises :class:`ProtocolError` for what is malformed.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Annotated

import msgspec

from .models import EventTrigger
from .report import ChunkReport
from .wire import Echo

_ID = Annotated[str, msgspec.Meta(min_length=36, max_length=36)]  # a canonical GUID
_TIME = Annotated[str, msgspec.Meta(min_length=28, max_length=28)]  # 7 digits and a Z


class _Echo(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """An answer item that is exactly a body plus an id and a time (every key required)."""

    id: _ID
    time: _TIME
    type: str
    source: str | None
    tag: str | None
    datatype: str | None


class _Answer(msgspec.Struct, gc=False):
    array: list[_Echo]


class _Sent(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A trigger body as the client writes it, without ``data`` (the echo has no data)."""

    type: str
    source: str | None
    datatype: str | None
    tag: str | None = None
    time: str | None = None  # the server writes the time back its own way


class Named(msgspec.Struct, gc=False):
    """What a trigger body sent names: its type, source and tag (the rest skipped, in C)."""

    type: str
    source: str | None = None
    tag: str | None = None


_ANSWER = msgspec.json.Decoder(_Answer)
_NAMED = msgspec.json.Decoder(list[Named])
_SENT = msgspec.json.Decoder(list[_Sent])
_FIELDS = attrgetter("type", "source", "tag", "datatype")
_ID_OF = attrgetter("id")
_TIME_OF = attrgetter("time")


def named(sent: bytes) -> list[Named]:
    """The type, source and tag of each trigger of a request body the encoder wrote."""
    return _NAMED.decode(sent)


def echoed(
    indices: Sequence[int],
    triggers: Sequence[object],
    raw: bytes,
    sent: bytes,
    echoes: list[Echo] | None = None,
) -> ChunkReport | None:
    """The report of a chunk whose answer ``raw`` echoes every trigger of the request body
    ``sent`` (``echoes``: what an echo of each repeats, when the encoder said); None for
    any other answer, and for a chunk holding a subclass of EventTrigger (its answers are
    kept as they came: a report rebuilds an echo from the trigger's fields, and a
    subclass's are its own code)."""
    if echoes is None and any(type(t) is not EventTrigger for t in triggers):
        return None
    try:
        items = _ANSWER.decode(raw).array
        if echoes is None:
            echoes = list(map(_FIELDS, _SENT.decode(sent)))
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if len(items) != len(triggers) or list(map(_FIELDS, items)) != echoes:
        return None
    ids = list(map(_ID_OF, items))
    joined = "".join(ids)
    # One event for two (the same id, in any case) goes to the checked path; so do ids in
    # capitals (servers write GUIDs in small letters): one set of the texts then tells.
    if joined.lower() != joined or len(set(ids)) != len(ids):
        return None
    report = ChunkReport(indices, triggers)
    report.echoes(joined, list(map(_TIME_OF, items)))
    return report
