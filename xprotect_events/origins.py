"""What a stream's saved positions were made for: the server, and what the stream selects.

Each position a checkpointed stream saves records its :class:`Origin`: ``server`` (the
server's URL: scheme, host, port and path, never a credential) and ``filters``, a digest of
what the stream selects (an event session's filters, a live stream's rules; the same ones in
any order, and their values in any order, give the same digest). A stored position of
another server, or of other filters, is a :class:`~.errors.CheckpointError` on entry,
before anything is sent: resuming from it would ask that server (or those filters) only for
events after a time, or a session, that belongs to another stream, and skip the rest for
good. ``checkpoint_mismatch="resume"`` resumes from it all the same (a server renamed, a
filter knowingly changed); the next save records the new origin. A position saved without
them (by an earlier version, or made by hand) is resumed from, as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs
import orjson
from yarl import URL

from .checks import plain_str
from .errors import CheckpointError, InvalidInputError, shown
from .positions import LivePosition, Position, SessionPosition

#: ``checkpoint_mismatch``: a stored position of another server or other filters is
#: refused, or resumed from all the same.
Mismatch = Literal["refuse", "resume"]

AnyPosition = SessionPosition | LivePosition


def mismatch(value: object) -> Mismatch:
    """``checkpoint_mismatch`` checked: ``"refuse"`` or ``"resume"``."""
    text = plain_str(value) if isinstance(value, str) else None
    if text == "refuse":
        return "refuse"
    if text == "resume":
        return "resume"
    raise InvalidInputError(f"checkpoint_mismatch must be 'refuse' or 'resume', got {shown(value)}")


def digest(selection: Iterable[Mapping[str, Any]]) -> str:
    """A digest of wire objects (filters, rules), in any order and their lists' values in
    any order."""
    parts = sorted(
        orjson.dumps(_unordered(part), option=orjson.OPT_SORT_KEYS) for part in selection
    )
    return hashlib.sha256(b"\n".join(parts)).hexdigest()[:16]


def _unordered(wire: Mapping[str, Any]) -> dict[str, Any]:
    return {k: sorted(v, key=orjson.dumps) if isinstance(v, list) else v for k, v in wire.items()}


@attrs.frozen
class Origin:
    """What a stream's positions are made for (see the module docstring)."""

    server: str
    filters: str
    mismatch: Mismatch = "refuse"

    @classmethod
    def of(cls, url: URL, selection: Iterable[Mapping[str, Any]], choice: Mismatch) -> Origin:
        return cls(str(url.origin()) + url.path.rstrip("/"), digest(selection), choice)

    def stamp(self, position: Position) -> Position:
        """``position`` (of a session or a live stream) saying this origin."""
        if isinstance(position, SessionPosition | LivePosition):
            return attrs.evolve(position, server=self.server, filters=self.filters)
        return position

    def differs(self, position: AnyPosition) -> str | None:
        """What ``position`` was made for, when that is not this origin (None: the same, or
        it does not say)."""
        if position.server not in (None, self.server):
            return f"another server ({shown(position.server)}; this stream's is {self.server})"
        if position.filters not in (None, self.filters):
            return f"other filters ({shown(position.filters)}; this stream's are {self.filters})"
        return None

    def check(self, position: AnyPosition, path: str | None) -> bool:
        """True when ``position`` is this origin's (or does not say); False when it is not
        and the stream is told to resume all the same; else :class:`CheckpointError`."""
        made = self.differs(position)
        if made is None:
            return True
        if self.mismatch == "resume":
            return False
        raise CheckpointError(
            f"the stored position was saved by a stream of {made}: resuming from it would "
            "skip this stream's events before its time; start without this checkpoint "
            "(delete it, or give another), or pass checkpoint_mismatch='resume' to resume "
            "from it all the same",
            path=path,
        )
