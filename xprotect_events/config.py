"""The Configuration API calls event code needs: listings read page by page, user-defined
events (create, delete) and finding an event type or a camera by its name.

Functions take the client (or core) they call through; ``XProtectClient`` delegates its
``list_event_types``, ``list_cameras``, ``create_user_defined_event``,
``delete_user_defined_event``, ``event_type`` and ``camera`` here.

A listing asks ``?page=0&size=N``, ``page=1`` … (``N`` is :data:`PAGE_SIZE`, 500
[profile]) [3p: clients that ran against real systems page so; ``_links`` may be missing, so
it is not read] until a page holds fewer items than the largest page before it, or nothing
new. A page shorter than ``N`` alone does not end it: a server that caps ``size`` below
``N`` answers full pages of its own size, so a listing that fits one page costs a second,
empty answer rather than losing items. Each item is kept once (by id): an item
that an insertion pushed onto the next page comes twice. A page that brings nothing new
ends the listing (a server that ignores ``page`` sends the same items again), and more than
:data:`MOST_ITEMS` (100,000 [profile]) items in all is a :class:`ProtocolError` (a server
whose pages never end). Offset paging cannot see an item that a deletion shifted back across a page
boundary while the listing ran: list again if the configuration was changing.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import unicodedata
import uuid
from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

from . import wire
from .convert import array_of, data_of
from .core import Core
from .errors import InvalidInputError, NotFoundError, ProtocolError, XProtectError, shown
from .models import Camera, EventType, source_guid, to_source, to_uuid
from .responses import shown_text

T = TypeVar("T")


class XProtectClient(Protocol):
    """What these functions use of :class:`xprotect_events.client.XProtectClient`."""

    core: Core

    @property
    def is_service(self) -> bool: ...

    async def get_event_type(self, type_id: uuid.UUID | str) -> EventType: ...

    async def list_event_types(self) -> list[EventType]: ...

    async def list_cameras(self) -> list[Camera]: ...


USER_DEFINED_PATH = "/userDefinedEvents"
MAX_NAME = 256
#: The simulator's own retention route (outside the API base; no real server has it).
SIMULATOR_RETENTION_PATH = "/simulator/eventTypes"

_NOT_WORD = re.compile(r"[\W_]+")
#: Most names (and ids) an error lists.
MOST_SHOWN = 20
#: ``size`` of each page of a listing [profile].
PAGE_SIZE = 500
#: Most items a listing takes across its pages [profile].
MOST_ITEMS = 100_000


def folded(name: str) -> str:
    """A name as it reads, without case: composed or decomposed accents and full-width
    letters alike (NFKC, case-folded, NFKC again: Unicode's caseless matching)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def compact(name: str) -> str:
    """A name without case, spaces or punctuation: ``"Motion Started"`` → ``"motionstarted"``."""
    return _NOT_WORD.sub("", folded(name))


class Named(Protocol):
    """What a lookup by name reads of an item (an event type, a camera)."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def name(self) -> str: ...

    @property
    def display_name(self) -> str | None: ...


N = TypeVar("N", bound=Named)


async def get_one(core: Core, path: str, cls: type[N], guid: uuid.UUID) -> N:
    """The item ``{path}/{guid}`` (``{"data": item}``); one with another id is a
    :class:`ProtocolError` (whoever asked would judge the wrong item)."""
    full = f"{path}/{guid}"
    item = await core.call("GET", full, data_of(cls))
    if item.id != guid:
        raise ProtocolError(
            f"asked for {guid}, the server answered {item.id}",
            method="GET",
            path=core.api_path(full),
        )
    return item


async def list_all(core: Core, path: str, cls: type[N]) -> list[N]:
    """Every item of the Configuration API list at ``path``, page by page (see above)."""
    size, most, largest = PAGE_SIZE, MOST_ITEMS, 0
    found: dict[uuid.UUID, N] = {}
    for page in itertools.count():
        params = {"page": str(page), "size": str(size)}
        items = await core.call("GET", path, array_of(cls), params=params)
        before = len(found)
        for item in items:
            found.setdefault(item.id, item)
        if len(found) > most:
            raise ProtocolError(
                f"more than {most:,} items across pages (the server's pages do not end)",
                method="GET",
                path=core.api_path(path),
            )
        if len(found) == before or len(items) < largest:
            break
        largest = max(largest, len(items))
    return list(found.values())


def find_named(items: Iterable[N], text: str, what: str = "event type") -> N:
    """The item whose name or display name is ``text``: case does not matter, and nor do
    spaces and punctuation (``MotionStarted`` finds "Motion Started"), nor how the server
    wrote accents or letters (:func:`folded`). An exact match (but case) wins over a compact
    one. :class:`InvalidInputError` when none or several match; it names a few of them."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"a {what} name must be a non-empty string, got {shown(text)}")
    known = list(items)
    for norm in (folded, compact):
        wanted = norm(text.strip())
        found = [t for t in known if wanted in {norm(t.name), norm(t.display_name or t.name)}]
        if len(found) == 1:
            return found[0]
        if found:
            ids = some(str(t.id) for t in found)
            raise InvalidInputError(
                f"{len(found)} {what}s are named {shown(text)} ({ids}); use an id"
            )
    names = some(shown_text(t.display_name or t.name, 80) for t in known) or "none readable"
    raise InvalidInputError(f"no {what} named {shown(text)}; known: {names}")


def some(texts: Iterable[str]) -> str:
    """The first :data:`MOST_SHOWN` of ``texts`` in order, and how many more there are."""
    chosen = sorted(texts)
    more = len(chosen) - MOST_SHOWN
    return ", ".join(chosen[:MOST_SHOWN]) + (f" … and {more:,} more" if more > 0 else "")


def find_event_type(types: Iterable[EventType], text: str) -> EventType:
    """:func:`find_named` of an event type."""
    return find_named(types, text)


async def camera(client: XProtectClient, name_or_id: uuid.UUID | str) -> Camera:
    """The camera with this id (a GUID or ``cameras/<guid>``: one ``GET /cameras/{id}``) or
    this name (a listing), among those the credentials may see; :class:`InvalidInputError`
    if none."""
    if isinstance(name_or_id, uuid.UUID):
        guid = name_or_id
    else:
        found = None
        with contextlib.suppress(InvalidInputError):  # not a GUID: a name
            found = source_guid(to_source(name_or_id))
        if found is None:
            return find_named(await client.list_cameras(), name_or_id, "camera")
        guid = found
    try:
        return await get_one(client.core, "/cameras", Camera, guid)
    except NotFoundError:
        raise InvalidInputError(f"no camera {guid} among those these credentials may see") from None


async def event_type(client: XProtectClient, name_or_id: uuid.UUID | str) -> EventType:
    """The event type with this id (one ``GET /eventTypes/{id}``) or this name (a listing,
    then :func:`find_event_type`)."""
    if isinstance(name_or_id, uuid.UUID):
        return await client.get_event_type(name_or_id)
    try:
        guid = uuid.UUID(name_or_id) if isinstance(name_or_id, str) else None
    except ValueError:
        guid = None
    if guid is not None:
        return await client.get_event_type(guid)
    return find_event_type(await client.list_event_types(), name_or_id)


async def can_trigger(client: XProtectClient, event_type: EventType | uuid.UUID | str) -> bool:
    """Whether the client's credentials may trigger events of this type (read first with
    ``GET /eventTypes/{id}`` when given by id): a service token any, a user token those
    :attr:`~xprotect_events.models.EventType.user_may_trigger`."""
    if not isinstance(event_type, EventType):
        event_type = await client.get_event_type(event_type)
    return client.is_service or event_type.user_may_trigger


async def create_user_defined_event(client: XProtectClient, name: str) -> EventType:
    """Create a user-defined event (``POST /userDefinedEvents {"name"}``), then read it back
    as an event type (its ``generatorType`` says who may trigger it)."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise InvalidInputError(
            f"a user-defined event's name must be 1 to {MAX_NAME} characters, got {shown(name)}"
        )
    response = await client.core.request("POST", USER_DEFINED_PATH, json={"name": name})
    created = client.core.decode(response, _created_id, "POST", USER_DEFINED_PATH)
    return await client.get_event_type(created)


async def delete_user_defined_event(client: XProtectClient, type_id: uuid.UUID | str) -> None:
    """Delete a user-defined event (``DELETE /userDefinedEvents/{id}``); events already
    stored keep their type id."""
    guid = to_uuid(type_id, "user-defined event id")
    await client.core.request("DELETE", f"{USER_DEFINED_PATH}/{guid}")


async def simulator_retention(client: XProtectClient) -> dict[uuid.UUID, float | None] | None:
    """Each type's retention in seconds (None: kept forever; 0: never stored) when the
    server is the simulator; None from any other server."""
    try:
        response = await client.core.transport.request("GET", SIMULATOR_RETENTION_PATH)
        items = wire.array_envelope(response.body)
        return {uuid.UUID(str(i["id"])): _seconds(i.get("retention")) for i in items}
    except (XProtectError, KeyError, TypeError, ValueError):
        return None


def _seconds(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise ValueError("retention is not a number")


def _created_id(body: Any) -> uuid.UUID:
    """The id of a created item: ``{"result": item}`` [sample], ``{"data": item}`` or the
    item itself."""
    item = body
    if isinstance(body, dict):
        item = body.get("result", body.get("data", body))
    try:
        return uuid.UUID(str(wire.member(item, "id", str)))
    except ValueError:
        raise ProtocolError("the created user-defined event has no GUID id") from None
