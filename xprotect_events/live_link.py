"""What a live stream needs of the client (:class:`LiveLink`), and its stored-types option."""

from __future__ import annotations

import asyncio
import logging
import ssl
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from typing import Literal, Protocol, TypedDict

import aiohttp
import attrs
from yarl import URL

from .checks import int_in, plain_str
from .core import Core
from .errors import InvalidInputError, shown
from .live_checkpoint import CheckpointLike
from .live_conn import SocketOptions, TokenSource, ws_url
from .models import Event
from .origins import Mismatch
from .policy import RetryPolicy
from .profile import Profile
from .ws_wire import OnGap, Rule

log = logging.getLogger("xprotect_events.live")

#: Stored events after a time (aware), oldest first, with their data: the gap filler.
ListStored = Callable[[datetime], AsyncIterator[Event]]
#: The types the REST store keeps: an iterable of GUIDs, ``"all"``, or None (unknown).
StoredTypes = Iterable[uuid.UUID | str] | Literal["all"] | None


class Closable(Protocol):
    async def client_closed(self) -> None: ...


class OpenStreams:
    """The live streams of one client that are entered and not closed yet: the client
    closes them (each socket with code 1000) before its connections."""

    def __init__(self) -> None:
        self._streams: set[Closable] = set()

    def add(self, stream: Closable) -> None:
        self._streams.add(stream)

    def discard(self, stream: Closable) -> None:
        self._streams.discard(stream)

    async def close(self) -> None:
        streams, self._streams = self._streams, set()
        closing = (stream.client_closed() for stream in streams)
        for result in await asyncio.gather(*closing, return_exceptions=True):
            if isinstance(result, Exception):  # (a checkpoint's last save: it is said)
                log.warning("live: closing a stream with the client: %s", result)


@attrs.frozen(kw_only=True)
class LiveLink:
    """What a live stream needs of the client, and nothing more."""

    session: Callable[[], aiohttp.ClientSession]
    server_url: URL
    tokens: TokenSource
    retry: RetryPolicy
    profile: Profile
    ssl: ssl.SSLContext | bool
    list_stored: ListStored
    #: What no message may show (the client core's ``secrets``).
    secrets: Callable[[], tuple[str, ...]] = tuple
    connect_timeout: float = 10.0
    #: Where the stream is known while it is open (the client closes it).
    streams: OpenStreams = attrs.field(factory=OpenStreams)

    @property
    def url(self) -> URL:
        """The WebSocket URL: ``ws(s)://`` + the server + ``Profile.ws_path``."""
        return ws_url(self.server_url, self.profile.ws_path)

    def socket_options(self, max_frame: int) -> SocketOptions:
        profile = self.profile
        return SocketOptions(
            ssl=self.ssl,
            auth=profile.ws_auth,
            heartbeat=profile.ws_heartbeat,
            max_frame=max_frame,
            connect_within=self.connect_timeout,
            secrets=self.secrets,
        )


def link_of(core: Core, list_stored: ListStored, streams: OpenStreams) -> LiveLink:
    """The link of a client's core, with its gap filler (stored events after a time) and
    the client's open streams."""
    transport = core.transport
    return LiveLink(
        session=lambda: transport.ws_session,
        server_url=transport.base_url,
        tokens=core.tokens,
        retry=transport.retry,
        profile=core.profile,
        ssl=transport.tls,
        list_stored=list_stored,
        secrets=lambda: core.secrets,
        connect_timeout=transport.connect_timeout,
        streams=streams,
    )


class LiveOptions(TypedDict, total=False):
    """The stream options of ``XProtectClient.subscribe``; the defaults are
    :class:`~xprotect_events.live.LiveStream`'s."""

    buffer: int
    stored_types: StoredTypes
    on_gap: OnGap | None
    max_frame_size: int | None
    checkpoint: CheckpointLike | None
    checkpoint_interval: float
    checkpoint_mismatch: Mismatch
    close_timeout: float


def check_options(buffer: object, max_frame: object, on_gap: object) -> None:
    """The stream's own options, checked before anything is sent."""
    int_in("buffer", buffer, 1)
    int_in("max_frame_size", max_frame, 1)
    if on_gap is not None and not callable(on_gap):
        raise InvalidInputError(f"on_gap must be callable, got {shown(on_gap)}")


def stored_set(value: StoredTypes) -> frozenset[uuid.UUID] | Literal["all"] | None:
    """``stored_types=`` checked: a set of GUIDs, ``"all"`` or None."""
    if value is None:
        return None
    if isinstance(value, str) and plain_str(value) == "all":  # (a subclass's __eq__ uncalled)
        return "all"
    rule = Rule.include(types=value)  # checks the GUIDs
    return frozenset(rule.types or ())
