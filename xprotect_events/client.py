"""XProtectClient: the facade users hold. It builds the :class:`Core` and delegates."""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any, TypeVar, Unpack

from . import batch, wire
from .accounting import BatchReport, TriggerResult
from .auth import Credentials, ServiceCredentials, TokenManager, make_credentials
from .bodies import MAX_RESPONSE_BYTES
from .convert import array_of, data_of
from .core import Core
from .errors import InvalidInputError
from .models import Camera, Event, EventTrigger, EventType, SessionChange, to_uuid
from .options import (
    BatchOptions,
    ListOptions,
    SessionOptions,
    TriggersLike,
    check_settings,
    list_query,
    session_spec,
)
from .policy import RetryPolicy
from .profile import Profile
from .sessions import EventSession
from .transport import Transport, Verify, is_loopback

T = TypeVar("T")


class InsecureTransportWarning(UserWarning):
    """Credentials are about to travel in clear text (``http://`` to a non-loopback host)."""


_warned_hosts: set[str] = set()


class XProtectClient:
    """An asyncio client of the XProtect RESTful Events API.

    ``async with XProtectClient(url, username=…, password=…) as client:`` (a basic user), or
    ``client_id=…, client_secret=…`` (a service client), or ``windows=True`` with
    ``username="DOMAIN\\\\user"`` (a Windows user, NTLM; needs the ``ntlm`` extra).
    ``verify`` is True (default), False, a CA-bundle path or an ``ssl.SSLContext``.
    ``max_response_bytes`` (64 MiB) bounds every answer read, decompressed: a larger one
    is a :class:`ProtocolError` that says so (error answers are read only as far as
    64 KiB, token answers 64 KiB).
    """

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        windows: bool = False,
        credentials: Credentials | None = None,
        verify: Verify = True,
        token_path: str | None = None,
        profile: Profile | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        limit: int = 100,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        check_settings(
            max_response_bytes=max_response_bytes,
            timeout=timeout,
            connect_timeout=connect_timeout,
            limit=limit,
            retry=retry,
            profile=profile,
            credentials=credentials,
            clock=clock,
            token_path=token_path,
            windows=windows,
        )
        self.profile = profile or Profile()
        self.transport = Transport(
            url,
            verify=verify,
            timeout=timeout,
            connect_timeout=connect_timeout,
            limit=limit,
            retry=retry,
            max_response_bytes=max_response_bytes,
        )
        self.credentials = credentials or make_credentials(
            username=username,
            password=password,
            client_id=client_id,
            client_secret=client_secret,
            windows=windows,
            token_path=token_path,
        )
        self.tokens = TokenManager(self.credentials, self.transport, self.profile, clock=clock)
        #: What the feature modules (batch, sessions) stand on.
        self.core = Core(self.transport, self.tokens, self.profile)
        _warn_if_cleartext(self.transport)

    def __repr__(self) -> str:
        kind = type(self.credentials).__name__
        return f"<XProtectClient {self.transport.base_url} {kind}>"

    @property
    def url(self) -> str:
        return str(self.transport.base_url)

    @property
    def is_service(self) -> bool:
        """Whether the credentials give a service token (sees and triggers everything)."""
        return isinstance(self.credentials, ServiceCredentials)

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        """Open the HTTP session (``async with`` does this)."""
        await self.transport.open()

    async def close(self) -> None:
        """Close the HTTP session and its connections."""
        await self.transport.close()

    async def __aenter__(self) -> XProtectClient:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def login(self) -> None:
        """Obtain a token now (otherwise the first call does): checks the credentials."""
        await self.core.login()

    async def _get(self, path: str, fn: Callable[[Any], T], **params: str) -> T:
        return await self.core.call("GET", path, fn, params=params or None)

    # ------------------------------------------------------------------ events

    async def get_event(self, event_id: uuid.UUID | str, *, include_data: bool = False) -> Event:
        """One stored event by its id. :class:`NotFoundError` when unknown or not stored."""
        guid = to_uuid(event_id, "event id")
        params = {"include": "data"} if include_data else {}
        return await self._get(f"/events/{guid}", wire.event_in_data, **params)

    def list_events(self, **options: Unpack[ListOptions]) -> AsyncIterator[Event]:
        """Every stored event that matches, across pages, one page in memory at a time.

        Options (all keyword): ``since``/``until`` are exclusive bounds on the event time
        (aware datetimes). ``source_name`` and ``source_id`` take a value (equals) or
        conditions such as ``contains("Entrance")`` or ``one_of(id1, id2)``. ``filters``
        (a mapping) passes any other property through as given. ``order`` is "asc"
        (default) or "desc", ``include_data`` False, ``page_size`` 100; ``limit`` stops
        after that many events. Bad input raises :class:`InvalidInputError` here, before
        anything is sent.
        """
        query = list_query(options, self.profile.max_page_size)
        return self._pages(query.params, query.page_size, query.limit)

    async def _pages(
        self, params: dict[str, str], page_size: int, limit: int | None
    ) -> AsyncIterator[Event]:
        left = limit
        page = 0
        while left is None or left > 0:
            params["page"] = str(page)
            result = await self._get("/events", wire.event_page_from_wire, **params)
            for event in result.events[:left]:
                yield event
            if left is not None:
                left -= min(left, len(result.events))
            if result.next is None or len(result.events) < page_size:
                return
            page += 1

    async def trigger_event(self, trigger: EventTrigger) -> Event:
        """Trigger one event; the stored :class:`Event` as the server answered it.

        Resent only if the request surely did not reach the server (connect failure) or the
        server said so (429/503): an event never happens twice by our doing.
        """
        if not isinstance(trigger, EventTrigger):
            raise InvalidInputError(f"expected an EventTrigger, got {type(trigger).__name__}")
        return await self.core.call(
            "POST",
            "/events",
            wire.event_in_data,
            params=self.core.trigger_params(),
            json=wire.trigger_to_wire(trigger),
        )

    async def trigger_events(
        self, triggers: TriggersLike, **options: Unpack[BatchOptions]
    ) -> BatchReport:
        """Trigger many events in batch POSTs of ``chunk_size`` (100), ``concurrency`` (8)
        at a time; ``on_progress(done, total)`` is called as chunks finish, and
        ``reject_invalid=True`` raises at the first trigger that cannot be sent.

        The report's items line up with the input: each accepted (with the stored event),
        rejected (with the server's reason) or unknown (sent, no answer).
        """
        return await batch.trigger_events(self.core, triggers, options)

    def stream_trigger(
        self, triggers: TriggersLike, **options: Unpack[BatchOptions]
    ) -> AsyncGenerator[TriggerResult, None]:
        """Like :meth:`trigger_events` (the same options), but yields results as chunks
        finish (flat memory).

        Leaving early? Close it (``async with contextlib.aclosing(...)``): that cancels
        the chunks in flight.
        """
        return batch.stream_trigger(self.core, triggers, options)

    # ------------------------------------------------------------------ sessions

    def event_session(self, **options: Unpack[SessionOptions]) -> EventSession:
        """A server-side event session: ``async with … as session: async for change in …``.

        Options (all keyword, checked here before anything is sent): ``types``,
        ``sources`` (GUIDs or ``cameras/<guid>``) and ``source_names`` (each one value or
        a list: any of them), ``filters`` (more :class:`SessionFilter`), ``since`` (an
        aware datetime), ``order`` ("asc", default, or "desc"), ``include_data`` (False),
        ``max_size`` (100 per read), ``poll_interval`` (1.0 s), ``close_timeout`` (5.0 s
        for the delete on exit).

        Each change is a :class:`SessionChange` (``kind`` "new" or "deleted"). The session
        is deleted on exit, and recreated by itself (resuming after the last delivered
        event) when the server drops it.
        """
        return EventSession(self.core, session_spec(options, self.profile.max_session_read))

    async def stream_events(
        self, **options: Unpack[SessionOptions]
    ) -> AsyncGenerator[SessionChange, None]:
        """The changes of an event session as a plain async generator; the options are
        those of :meth:`event_session`.

        Leaving an ``async for`` early does not run the generator's cleanup until it is
        garbage-collected; ``async with contextlib.aclosing(client.stream_events(…))``
        deletes the session at once.
        """
        async with self.event_session(**options) as session:
            async for change in session:
                yield change

    # ------------------------------------------------------------------ configuration

    async def list_event_types(self) -> list[EventType]:
        """Every event type of the Configuration API (``GET /eventTypes``)."""
        return await self._get("/eventTypes", array_of(EventType))

    async def get_event_type(self, type_id: uuid.UUID | str) -> EventType:
        guid = to_uuid(type_id, "event type id")
        return await self._get(f"/eventTypes/{guid}", data_of(EventType))

    async def list_cameras(self) -> list[Camera]:
        """The cameras these credentials may see (``GET /cameras``)."""
        return await self._get("/cameras", array_of(Camera))

    async def can_trigger(self, event_type: EventType | uuid.UUID | str) -> bool:
        """Whether these credentials may trigger events of this type, asked before sending.

        Service tokens may trigger any type; user tokens only ``External`` and
        ``MIPDevice`` types that are not ``Generic`` [seed].
        """
        if not isinstance(event_type, EventType):
            event_type = await self.get_event_type(event_type)
        return self.is_service or event_type.user_may_trigger


def _warn_if_cleartext(transport: Transport) -> None:
    base = transport.base_url
    if base.scheme != "http" or is_loopback(base) or base.host in _warned_hosts:
        return
    _warned_hosts.add(str(base.host))
    warnings.warn(
        f"credentials and tokens will travel in clear text to {base.host} over http://; "
        "use https:// in production",
        InsecureTransportWarning,
        stacklevel=3,
    )
