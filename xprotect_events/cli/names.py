"""Names of event types and cameras: shown instead of GUIDs, and accepted instead of them."""

from __future__ import annotations

import asyncio
import difflib
import re
import uuid
from collections.abc import Callable, Iterable
from typing import TypeVar

import attrs
import click

from .. import Camera, EventType, InvalidInputError, XProtectClient, XProtectError
from ..config import Named, compact
from ..models import source_guid, to_source

N = TypeVar("N", bound=Named)


_GUIDISH = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F-]*")


def shown_name(item: Named) -> str:
    """The name as ``types`` shows it (the display name where there is one)."""
    return item.display_name or item.name


def find_named(items: Iterable[N], text: str, what: str, hint: str) -> N:
    """The item whose name or display name is ``text`` (case, spaces and punctuation do not
    matter: ``Motion Started``, ``MotionStarted``, ``motion-started``); else a usage error
    with the closest names ("did you mean") and the known ones, as ``types`` shows them."""
    listed = list(items)
    if _GUIDISH.match(text.strip()):
        raise click.BadParameter(
            f"{text!r} is not a valid GUID ({len(text.strip())} characters; a GUID has 36, "
            "like 6eb95dd6-7ccc-4bce-99f8-af0d0b582d77)",
            param_hint=hint,
        )
    wanted = compact(text)
    for item in listed:
        if wanted and wanted in (compact(item.name), compact(item.display_name or "")):
            return item
    spellings = {item.name: shown_name(item) for item in listed}
    spellings.update({shown_name(item): shown_name(item) for item in listed})
    guess = list(dict.fromkeys(spellings[name] for name in closest(text, spellings)))
    maybe = f"; did you mean {' or '.join(repr(g) for g in guess)}?" if guess else ""
    known = ", ".join(sorted(shown_name(item) for item in listed)) or "none readable"
    raise click.BadParameter(f"no {what} {text!r}{maybe} (known: {known})", param_hint=hint)


#: At most this many names after "did you mean" (all that contain the text, if more).
SUGGESTED = 3


def closest(text: str, names: Iterable[str]) -> list[str]:
    """The ``names`` a mistyped ``text`` may mean, the closest first: every name that
    contains it or whose words start with its words (``camera``, ``cam 4``, ``lic plate``),
    else the names like it as a whole or whose start is like it (``persn``)."""
    listed = list(names)
    wanted, words = compact(text), _words(text)
    containing = [n for n in listed if wanted and wanted in compact(n)]
    containing += [n for n in listed if n not in containing and _starts_words(words, n)]
    if containing:
        return containing
    return _alike(wanted, listed, whole=True) or _alike(wanted, listed, whole=False)


def _alike(wanted: str, names: list[str], *, whole: bool) -> list[str]:
    """The names most like ``wanted`` (at most :data:`SUGGESTED`, the closest first): as a
    whole, or (for four characters or more) their start of its length."""
    if not whole and len(wanted) < 4:
        return []
    cutoff = 0.6 if whole else 0.8
    scored = []
    for name in names:
        theirs = compact(name) if whole else compact(name)[: len(wanted)]
        score = difflib.SequenceMatcher(None, wanted, theirs).ratio()
        if score >= cutoff:
            scored.append((-score, name))
    return [name for _, name in sorted(scored)[:SUGGESTED]]


def _words(text: str) -> list[str]:
    return [compact(word) for word in re.split(r"[\W_]+", text) if compact(word)]


def _starts_words(words: list[str], name: str) -> bool:
    """Whether each of ``words`` starts a word of ``name`` (``lic plate``)."""
    theirs = _words(name)
    return bool(words) and all(any(w.startswith(word) for w in theirs) for word in words)


@attrs.define
class Names:
    """Event type and camera names, to show names instead of GUIDs and to accept names."""

    types: dict[uuid.UUID, EventType] = attrs.Factory(dict)
    cameras: dict[uuid.UUID, Camera] = attrs.Factory(dict)

    @classmethod
    async def load(cls, client: XProtectClient) -> Names:
        """Both lists; one that cannot be read (permissions) is left empty."""
        types, cameras = await asyncio.gather(
            client.list_event_types(), client.list_cameras(), return_exceptions=True
        )
        for result in (types, cameras):
            if isinstance(result, BaseException) and not isinstance(result, XProtectError):
                raise result
        return cls(
            types={t.id: t for t in types} if isinstance(types, list) else {},
            cameras={c.id: c for c in cameras} if isinstance(cameras, list) else {},
        )

    def type_name(self, type_id: uuid.UUID) -> str:
        known = self.types.get(type_id)
        return (known.display_name or known.name) if known else str(type_id)

    def source_name(self, source: str | None) -> str:
        if source is None:
            return "-"
        guid = source_guid(source)
        camera = self.cameras.get(guid) if guid else None
        if camera is None and guid in self.types:
            return self.type_name(guid)  # a user-defined event is its own source [seed]
        return (camera.display_name or camera.name) if camera else source

    def resolve_type(self, text: str, flag: str = "--type") -> uuid.UUID:
        """A GUID, or the name of a known event type (case does not matter)."""
        try:
            return uuid.UUID(text)
        except ValueError:
            pass
        return find_named(self.types.values(), text, "event type", flag).id

    def resolve_source(self, text: str) -> str:
        """A GUID, ``cameras/<guid>``, or the name of a known camera."""
        try:
            source = to_source(text)
        except InvalidInputError:
            source = None
        if source is not None:
            return source
        return find_named(self.cameras.values(), text, "camera", "--source").source


def needs_lookup(values: Iterable[str], parse: Callable[[str], object]) -> bool:
    """Whether any value is a name (not parseable by ``parse``)."""
    for value in values:
        try:
            parse(value)
        except (ValueError, InvalidInputError):
            return True
    return False


async def names_for(
    client: XProtectClient, json_lines: bool, types: Iterable[str], sources: Iterable[str]
) -> Names:
    """The names, when a table shows them or an option gives a name instead of a GUID."""
    if not json_lines or needs_lookup(types, uuid.UUID) or needs_lookup(sources, to_source):
        return await Names.load(client)
    return Names()
