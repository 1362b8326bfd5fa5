"""XProtectClient: the facade users hold. It builds the :class:`Core` and delegates."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from typing import Any, Unpack

import aiohttp

from . import batch, config, discovery, listing, lookup, wire
from .accounting import BatchReport, TriggerResult
from .auth import Credentials, ServiceCredentials, TokenManager, make_credentials
from .bodies import MAX_RESPONSE_BYTES
from .checks import boolean
from .cleartext import InsecureTransportWarning as InsecureTransportWarning
from .cleartext import warn_if_cleartext
from .core import Core
from .endpoints import Verify
from .live import LiveStream
from .live_link import LiveOptions, OpenStreams, link_of
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
from .transport import Transport
from .ws_wire import Rule, subscription_rules


class XProtectClient:
    """An asyncio client of the XProtect RESTful Events API (and, with :meth:`subscribe`,
    of the Events and State WebSocket API).

    ``async with XProtectClient(url, username=…, password=…) as client:`` (a basic user), or
    ``client_id=…, client_secret=…`` (a service client), or ``windows=True`` with
    ``username="DOMAIN\\\\user"`` (a Windows user, NTLM; needs the ``ntlm`` extra).

    Arguments (all but ``url`` keyword-only):

    - ``url``: the server, ``http(s)://host[:port]`` (the API paths are added here).
    - ``username``/``password``, ``client_id``/``client_secret``, ``windows``: the login,
      one kind only. ``credentials``: instead of those, any object with an async
      ``fetch_token(transport, profile)`` that returns a :class:`~xprotect_events.models.Token`
      (e.g. one that reads a token your own system issues).
    - ``verify``: TLS verification: True (default, the system's CAs), a CA-bundle path,
      an ``ssl.SSLContext``, or False (test servers only).
    - ``token_path``: the identity provider's token path, if not the profile's.
    - ``profile``: the API's paths and limits (:class:`Profile`).
    - ``timeout``: seconds to wait for each piece of an answer (30); a whole exchange is
      bounded by ``connect_timeout + 4 * timeout``. ``connect_timeout``: seconds for a
      connection (and TLS handshake) to be made (10).
    - ``limit``: the most connections open at once (100; 0: no limit). Batches and
      concurrent calls share them.
    - ``retry``: what is retried and how long to wait (:class:`RetryPolicy`).
    - ``clock``: the monotonic clock token lifetimes are measured on
      (``time.monotonic``); tests give a fake one to expire tokens without waiting.
    - ``proxy``: an ``http(s)://[user:password@]host:port`` proxy for every request (its
      credentials go as ``Proxy-Authorization`` and are never shown). Without it, and with
      ``trust_env`` (default), ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` are honoured
      unless the host is in ``NO_PROXY``.
    - ``max_response_bytes``: the largest answer read, decompressed (64 MiB); a larger one
      is a :class:`ProtocolError` that says so (error answers are read only as far as
      64 KiB, token answers 64 KiB).
    - ``trace_configs``: aiohttp ``TraceConfig`` objects that see every request (for
      metrics or tracing, e.g. OpenTelemetry's aiohttp instrumentation;
      ``examples/metrics.py``).

    Raises :class:`InvalidInputError` or :class:`ConfigurationError` for bad settings,
    before anything is sent. Nothing is sent until the first call (or :meth:`login`).
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
        proxy: str | None = None,
        trust_env: bool = True,
        trace_configs: Sequence[aiohttp.TraceConfig] | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        check_settings(
            max_response_bytes=max_response_bytes,
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
            proxy=proxy,
            trust_env=trust_env,
            trace_configs=trace_configs,
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
        #: What the feature modules (batch, sessions, listing) stand on.
        self.core = Core(self.transport, self.tokens, self.profile)
        self._streams = OpenStreams()  # the live streams open: closed before the connections
        warn_if_cleartext(self.transport)

    @classmethod
    async def discover(cls, url: str, **options: Any) -> XProtectClient:
        """A client whose gateway and token endpoint come from the server's discovery
        documents (``/api/.well-known/uris``, then the identity provider's
        ``openid-configuration``); ``options`` are this class's keyword arguments, checked
        before anything is sent."""
        server, options = await discovery.client_arguments(url, options, cls)
        return cls(server, **options)

    def __repr__(self) -> str:
        kind = type(self.credentials).__name__
        return f"<XProtectClient {self.transport.base_url} {kind}>"

    @property
    def url(self) -> str:
        """The server URL this client talks to (``http(s)://host:port``)."""
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
        """Close the live streams still open (cleanly), the HTTP session and its connections."""
        await self._streams.close()
        await self.transport.close()

    async def __aenter__(self) -> XProtectClient:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def login(self) -> None:
        """Obtain a token now (otherwise the first call does): checks the credentials."""
        await self.core.login()

    # ------------------------------------------------------------------ events

    async def get_event(self, event_id: uuid.UUID | str, *, include_data: bool = False) -> Event:
        """One stored event by its id. :class:`NotFoundError` when unknown or not stored."""
        guid = to_uuid(event_id, "event id")
        params = {"include": "data"} if boolean("include_data", include_data) else None
        return await self.core.call("GET", f"/events/{guid}", wire.event_in_data, params=params)

    def list_events(self, **options: Unpack[ListOptions]) -> AsyncIterator[Event]:
        """Every stored event that matches, across pages, one page in memory at a time.

        Options (all keyword): ``since``/``until`` are exclusive bounds on the event time
        (aware datetimes). ``source_name`` and ``source_id`` take a value (equals) or
        conditions such as ``contains("Entrance")`` or ``one_of(id1, id2)``. ``filters``
        (a mapping) passes any other property through as given. ``order`` is "asc"
        (default) or "desc", ``include_data`` False, ``page_size`` 100; ``limit`` stops
        after that many events. Bad input raises :class:`InvalidInputError` here, before
        anything is sent.

        While it runs, the store may change: an event stored for the whole listing is
        yielded exactly once, however many others are deleted (retention) or stored, as
        each page is read from the time of the last event yielded (:mod:`.listing`). One
        stored or deleted meanwhile may or may not be (newest first: not if newer than the
        first page). A server that ignores the time filter is read by page number: no
        repeats, but a delete may then skip events.
        """
        query = list_query(options, self.profile.max_page_size)
        return listing.list_events(self.core, query)

    async def trigger_event(self, trigger: EventTrigger) -> Event:
        """Trigger one event; the stored :class:`Event` as the server answered it.

        Resent only if the request surely did not reach the server (connect failure) or the
        server said so (429/503 with ``Retry-After``): an event never happens twice by our
        doing.
        """
        return await batch.trigger_one(self.core, trigger)

    async def trigger_events(
        self, triggers: TriggersLike, **options: Unpack[BatchOptions]
    ) -> BatchReport:
        """Trigger many events in batch POSTs of ``chunk_size`` (100), ``concurrency`` (8)
        at a time; ``on_progress(done, total)`` (a plain function) is called as chunks
        finish (if it raises, that is logged and the batch goes on), and
        ``reject_invalid=True`` raises at the first trigger that cannot be sent.

        The report's items line up with the input: each accepted (with the stored event),
        rejected (with the server's reason) or unknown (sent, no answer). With
        ``reconcile=True`` (and optionally ``stored_types``, ``settle``) the unknown ones
        are then looked up in the store as :meth:`reconcile` does.
        """
        return await batch.trigger_events(self.core, triggers, options)

    async def reconcile(
        self,
        results: Iterable[TriggerResult],
        *,
        stored_types: Iterable[uuid.UUID | str] | None = None,
        settle: float = 10.0,
        wait: bool = True,
    ) -> list[TriggerResult]:
        """Look each ``unknown`` result up in the store; the results in the same order.

        Found (one stored event of its type, source and tag, in a time window around when
        it was sent): ``accepted`` with that event. Not found ``settle`` seconds after it
        was sent: ``rejected`` (it did not land; safe to send again). Otherwise still
        ``unknown``, and ``reason`` says why (type not stored, no tag and no time, more
        than one match, …). Give each trigger a unique ``tag`` to make it recognisable.

        ``stored_types``: the types whose events are stored (retention > 0); the API does
        not publish retention, so without it a type counts as stored only when the store
        shows an event of it. ``wait``: first wait until ``settle`` has passed since the
        last one was sent. See :mod:`xprotect_events.lookup`.
        """
        return await lookup.reconcile_checked(self.core, results, stored_types, settle, wait)

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
        for each of the final checkpoint save and the delete on exit), ``checkpoint`` (a
        file path or a :class:`CheckpointStore`: resume from the stored position, else
        from ``since``; a position of another server or other filters is a
        :class:`CheckpointError` unless ``checkpoint_mismatch="resume"``) and
        ``checkpoint_interval`` (1.0 s: how often at most the position is saved; it is also
        saved on every exit and by ``await session.commit()``).

        Each change is a :class:`SessionChange` (``kind`` "new" or "deleted"), each event
        once. The session is deleted on exit, and recreated by itself (resuming after the
        last delivered event) when the server drops it.
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

    # ------------------------------------------------------------------ live (WebSocket)

    def subscribe(
        self,
        *,
        types: Iterable[uuid.UUID | str] | None = None,
        sources: Iterable[uuid.UUID | str] | None = None,
        resource_types: Iterable[str] | None = None,
        rules: Iterable[Rule] | None = None,
        **options: Unpack[LiveOptions],
    ) -> LiveStream:
        """Events pushed over the Events and State WebSocket API (XProtect 2023 R3+):
        ``async with client.subscribe(types=[…]) as live: async for item in live``.

        ``types``/``sources``/``resource_types`` make one include rule (omitted: any);
        ``rules`` adds :class:`Rule` objects (include or exclude). ``stored_types`` names
        the types the REST store keeps (``"all"``: every one), which a failed resume can
        fill from it; a :class:`Gap` reports what may be missing. ``buffer`` (10,000 events)
        bounds what waits for the consumer, ``max_frame_size`` (the profile's) the largest
        frame read; ``on_gap`` (a function or coroutine function) is called with every
        :class:`Gap` (if it raises, that is logged and the stream goes on). See :mod:`.live`.

        ``checkpoint`` (a file path or a store with ``load``/``save``): start from the
        position saved there and keep it up to date, saving at most every
        ``checkpoint_interval`` seconds in the background and on every exit; ``await
        live.commit()`` saves now. The load, ``commit()`` and the exit's save wait at most
        ``close_timeout`` (5.0 s). A position of another server or other rules is refused
        as for :meth:`event_session`. See :mod:`.live_checkpoint`.
        """
        link = link_of(
            self.core,
            lambda since: self.list_events(since=since, include_data=True),
            self._streams,
        )
        chosen = subscription_rules(types, sources, resource_types, rules)
        return LiveStream(link, chosen, **options)

    # ------------------------------------------------------------------ configuration

    async def list_event_types(self) -> list[EventType]:
        """Every event type of the Configuration API (``GET /eventTypes``, page by page)."""
        return await config.list_all(self.core, "/eventTypes", EventType)

    async def get_event_type(self, type_id: uuid.UUID | str) -> EventType:
        """One event type by its GUID (``GET /eventTypes/{id}``).

        :class:`InvalidInputError` when ``type_id`` is not a GUID (nothing is sent);
        :class:`NotFoundError` when the server has no such type; :class:`ProtocolError`
        when it answers another one.
        """
        guid = to_uuid(type_id, "event type id")
        return await config.get_one(self.core, "/eventTypes", EventType, guid)

    async def event_type(self, name_or_id: uuid.UUID | str) -> EventType:
        """An event type by id, or by name or display name (any case; ``MotionStarted``
        finds "Motion Started")."""
        return await config.event_type(self, name_or_id)

    async def create_user_defined_event(self, name: str) -> EventType:
        """Create a user-defined event type; returns it as an event type."""
        return await config.create_user_defined_event(self, name)

    async def delete_user_defined_event(self, type_id: uuid.UUID | str) -> None:
        """Delete a user-defined event type."""
        await config.delete_user_defined_event(self, type_id)

    async def list_cameras(self) -> list[Camera]:
        """The cameras these credentials may see (``GET /cameras``, page by page)."""
        return await config.list_all(self.core, "/cameras", Camera)

    async def camera(self, name_or_id: uuid.UUID | str) -> Camera:
        """A camera by id (or ``cameras/<guid>``; one GET) or name, as :meth:`event_type` finds."""
        return await config.camera(self, name_or_id)

    async def can_trigger(self, event_type: EventType | uuid.UUID | str) -> bool:
        """Whether these credentials may trigger events of this type, asked before sending.

        Service tokens may trigger any type; user tokens only ``External`` and
        ``MIPDevice`` types that are not ``Generic`` [seed].
        """
        return await config.can_trigger(self, event_type)
