"""XProtectClient: the facade users hold."""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Mapping,
)
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypedDict, TypeVar, Unpack

from . import config, discovery, wire
from . import filters as f
from .auth import Credentials, ServiceCredentials, TokenManager, UserCredentials
from .errors import ConfigurationError, InvalidInputError, ProtocolError, shown
from .models import Camera, Event, EventTrigger, EventType, to_source, to_uuid
from .profile import Profile
from .transport import Response, RetryMode, RetryPolicy, Transport, Verify, is_loopback

if TYPE_CHECKING:
    from .batch import BatchReport, Progress, TriggerResult
    from .models import SessionChange
    from .sessions import EventSession

T = TypeVar("T")
Order = Literal["asc", "desc"]
TriggersLike = Iterable[EventTrigger] | AsyncIterable[EventTrigger]


class SessionOptions(TypedDict, total=False):
    """The options of :meth:`XProtectClient.event_session` (and ``stream_events``)."""

    types: Iterable[uuid.UUID | str] | None
    sources: Iterable[uuid.UUID | str] | None
    source_names: Iterable[str] | None
    filters: Iterable[f.SessionFilter] | None
    since: datetime | None
    order: Order
    include_data: bool
    max_size: int
    poll_interval: float


class InsecureTransportWarning(UserWarning):
    """Credentials are about to travel in clear text (``http://`` to a non-loopback host)."""


_warned_hosts: set[str] = set()


class XProtectClient:
    """An asyncio client of the XProtect RESTful Events API.

    ``async with XProtectClient(url, username=…, password=…) as client:`` (a basic user), or
    ``client_id=…, client_secret=…`` (a service client), or ``windows=True`` with
    ``username="DOMAIN\\\\user"`` (a Windows user, NTLM; needs the ``ntlm`` extra).
    ``verify`` is True (default), False, a CA-bundle path or an ``ssl.SSLContext``.
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
    ) -> None:
        _check_settings(
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
        )
        self.credentials = credentials or _credentials(
            username, password, client_id, client_secret, windows, token_path
        )
        self.tokens = TokenManager(self.credentials, self.transport, self.profile, clock=clock)
        _warn_if_cleartext(self.transport)

    @classmethod
    async def discover(cls, url: str, **options: Any) -> XProtectClient:
        """A client whose gateway and token endpoint come from the server's discovery
        documents (``/api/.well-known/uris``, then the identity provider's
        ``openid-configuration``); ``options`` are this class's keyword arguments."""
        timeouts = {k: options[k] for k in ("timeout", "connect_timeout") if k in options}
        found = await discovery.discover(url, verify=options.get("verify", True), **timeouts)
        windows = bool(options.get("windows", False))
        options["profile"] = found.profile(options.get("profile"), windows=windows)
        return cls(found.server, **options)

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

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def login(self) -> None:
        """Obtain a token now (otherwise the first call does): checks the credentials."""
        await self.tokens.token()

    # ------------------------------------------------------------------ low level

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        body: bytes | None = None,
        retry: RetryMode | None = None,
    ) -> Response:
        """Call the Events API at ``path`` (under ``/api/rest/v1``) with the current token.

        ``json`` is encoded for you; ``body`` is sent as already-encoded JSON. ``retry`` is
        ``"safe"`` (default for GET and DELETE) or ``"unsent"`` (default otherwise: only
        what surely did not reach the server is resent).
        """
        if json is not None:
            body = wire.dumps(json)
        mode: RetryMode = retry or ("safe" if method in ("GET", "DELETE") else "unsent")
        return await self.transport.request(
            method,
            self.profile.api_path + path,
            params=params,
            json=body,
            auth=self.tokens,
            retry=mode,
        )

    def decode(self, response: Response, fn: Callable[[Any], T], method: str, path: str) -> T:
        """Apply a wire decoder; its ProtocolError gains the method, path and status."""
        try:
            return fn(response.body)
        except ProtocolError as exc:
            full = self.profile.api_path + path
            raise ProtocolError(
                str(exc), method=method, path=full, status=response.status
            ) from None

    async def _get(self, path: str, fn: Callable[[Any], T], **params: str) -> T:
        response = await self.request("GET", path, params=params or None)
        return self.decode(response, fn, "GET", path)

    # ------------------------------------------------------------------ events

    async def get_event(self, event_id: uuid.UUID | str, *, include_data: bool = False) -> Event:
        """One stored event by its id. :class:`NotFoundError` when unknown or not stored."""
        guid = to_uuid(event_id, "event id")
        params = {"include": "data"} if include_data else {}
        return await self._get(f"/events/{guid}", _event_in_data, **params)

    def list_events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        source_name: f.ConditionsLike | None = None,
        source_id: f.ConditionsLike | None = None,
        order: Order = "asc",
        include_data: bool = False,
        page_size: int = 100,
        limit: int | None = None,
        filters: Mapping[str, f.ConditionsLike] | None = None,
    ) -> AsyncIterator[Event]:
        """Every stored event that matches, across pages, one page in memory at a time.

        ``since``/``until`` are exclusive bounds on the event time (aware datetimes).
        ``source_name`` and ``source_id`` take a value (equals) or conditions such as
        ``contains("Entrance")`` or ``one_of(id1, id2)``. ``filters`` passes any other
        property through as given. ``limit`` stops after that many events. Bad input
        raises :class:`InvalidInputError` here, before anything is sent.
        """
        params = self._list_params(
            since, until, source_name, source_id, order, include_data, page_size, filters
        )
        if limit is not None and (not _is_int(limit) or limit < 0):
            raise InvalidInputError(f"limit must be None or an int >= 0, got {shown(limit)}")
        return self._pages(params, page_size, limit)

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

    def _list_params(
        self,
        since: datetime | None,
        until: datetime | None,
        source_name: f.ConditionsLike | None,
        source_id: f.ConditionsLike | None,
        order: Order,
        include_data: bool,
        page_size: int,
        filters: Mapping[str, f.ConditionsLike] | None,
    ) -> dict[str, str]:
        if not _is_int(page_size) or not 1 <= page_size <= self.profile.max_page_size:
            raise InvalidInputError(
                f"page_size must be 1 to {self.profile.max_page_size}, got {shown(page_size)}"
            )
        if order not in ("asc", "desc"):
            raise InvalidInputError(f"order must be 'asc' or 'desc', got {shown(order)}")
        if not isinstance(include_data, bool):
            raise InvalidInputError(f"include_data must be a bool, got {shown(include_data)}")
        params = {"size": str(page_size), "orderBy": f"{order}:'time'"}
        if include_data:
            params["include"] = "data"
        time_conditions = [f.gt(_aware(since, "since"))] if since is not None else []
        time_conditions += [f.lt(_aware(until, "until"))] if until is not None else []
        checked = {"time": time_conditions} if time_conditions else {}
        if source_name is not None:
            checked["source.name"] = list(f.as_conditions(source_name))
        if source_id is not None:
            checked["source.id"] = [_check_source_id(c) for c in f.as_conditions(source_id)]
        for prop, conditions in checked.items():
            f.check_operators(prop, conditions, f.EVENTS_PROPERTIES[prop])
            params[prop] = f.encode_conditions(conditions)
        if filters is not None and not isinstance(filters, Mapping):
            raise InvalidInputError(f"filters must be a mapping, got {shown(filters)}")
        for prop, spec in (filters or {}).items():
            if not isinstance(prop, str) or not prop or prop in params or prop in _OWN_PARAMS:
                raise InvalidInputError(f"filters cannot set {shown(prop)}")
            given = f.as_conditions(spec)
            if prop in f.EVENTS_PROPERTIES:
                f.check_operators(prop, given, f.EVENTS_PROPERTIES[prop])
                for c in given:
                    if prop == "time":
                        _aware(c.value, "a time filter")
                    elif prop == "source.id":
                        _check_source_id(c)
            params[prop] = f.encode_conditions(given)
        return params

    async def trigger_event(self, trigger: EventTrigger) -> Event:
        """Trigger one event; the stored :class:`Event` as the server answered it.

        Resent only if the request surely did not reach the server (connect failure) or the
        server said so (429/503): an event never happens twice by our doing.
        """
        if not isinstance(trigger, EventTrigger):
            raise InvalidInputError(f"expected an EventTrigger, got {type(trigger).__name__}")
        response = await self.request(
            "POST",
            "/events",
            params=self._trigger_params(),
            json=wire.trigger_to_wire(trigger),
        )
        return self.decode(response, _event_in_data, "POST", "/events")

    def _trigger_params(self) -> dict[str, str]:
        return {"triggerRules": "true" if self.profile.trigger_rules else "false"}

    async def trigger_events(
        self,
        triggers: TriggersLike,
        *,
        chunk_size: int = 100,
        concurrency: int = 8,
        on_progress: Progress | None = None,
        reject_invalid: bool = False,
    ) -> BatchReport:
        """Trigger many events in batch POSTs of ``chunk_size``, ``concurrency`` at a time.

        The report's items line up with the input: each accepted (with the stored event),
        rejected (with the server's reason) or unknown (sent, no answer).
        """
        from .batch import trigger_events

        return await trigger_events(
            self,
            triggers,
            chunk_size=chunk_size,
            concurrency=concurrency,
            on_progress=on_progress,
            reject_invalid=reject_invalid,
        )

    def stream_trigger(
        self,
        triggers: TriggersLike,
        *,
        chunk_size: int = 100,
        concurrency: int = 8,
        on_progress: Progress | None = None,
        reject_invalid: bool = False,
    ) -> AsyncGenerator[TriggerResult, None]:
        """Like :meth:`trigger_events`, but yields results as chunks finish (flat memory).

        Leaving early? Close it (``async with contextlib.aclosing(...)``): that cancels
        the chunks in flight.
        """
        from .batch import stream_trigger

        return stream_trigger(
            self,
            triggers,
            chunk_size=chunk_size,
            concurrency=concurrency,
            on_progress=on_progress,
            reject_invalid=reject_invalid,
        )

    # ------------------------------------------------------------------ sessions

    def event_session(
        self,
        *,
        types: Iterable[uuid.UUID | str] | None = None,
        sources: Iterable[uuid.UUID | str] | None = None,
        source_names: Iterable[str] | None = None,
        filters: Iterable[f.SessionFilter] | None = None,
        since: datetime | None = None,
        order: Order = "asc",
        include_data: bool = False,
        max_size: int = 100,
        poll_interval: float = 1.0,
    ) -> EventSession:
        """A server-side event session: ``async with … as session: async for change in …``.

        Each change is a :class:`SessionChange` (``kind`` "new" or "deleted"). The session
        is deleted on exit, and recreated by itself (resuming after the last delivered
        event) when the server drops it.
        """
        from .sessions import EventSession

        return EventSession(
            self,
            types=types,
            sources=sources,
            source_names=source_names,
            filters=filters,
            since=since,
            order=order,
            include_data=include_data,
            max_size=max_size,
            poll_interval=poll_interval,
        )

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
        return await self._get("/eventTypes", _array_of(EventType))

    async def get_event_type(self, type_id: uuid.UUID | str) -> EventType:
        guid = to_uuid(type_id, "event type id")
        return await self._get(f"/eventTypes/{guid}", _data_of(EventType))

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
        """The cameras these credentials may see (``GET /cameras``)."""
        return await self._get("/cameras", _array_of(Camera))

    async def can_trigger(self, event_type: EventType | uuid.UUID | str) -> bool:
        """Whether these credentials may trigger events of this type, asked before sending.

        Service tokens may trigger any type; user tokens only ``External`` and
        ``MIPDevice`` types that are not ``Generic`` [seed].
        """
        if not isinstance(event_type, EventType):
            event_type = await self.get_event_type(event_type)
        return self.is_service or event_type.user_may_trigger


def _check_settings(
    *,
    timeout: object,
    connect_timeout: object,
    limit: object,
    retry: object,
    profile: object,
    credentials: object,
    clock: object,
    token_path: object,
    windows: object,
) -> None:
    """The constructor's options other than the URL and the secrets: InvalidInputError."""
    for name, seconds in (("timeout", timeout), ("connect_timeout", connect_timeout)):
        number = isinstance(seconds, int | float) and not isinstance(seconds, bool)
        if not number or not 0 < seconds < 1e9:  # type: ignore[operator]
            raise InvalidInputError(f"{name} must be seconds, 0 < s < 1e9, got {shown(seconds)}")
    if not _is_int(limit) or limit < 0:  # type: ignore[operator]
        raise InvalidInputError(f"limit must be an int >= 0 (0: no limit), got {shown(limit)}")
    checks = (
        ("retry", retry, retry is None or isinstance(retry, RetryPolicy)),
        ("profile", profile, profile is None or isinstance(profile, Profile)),
        ("credentials", credentials, credentials is None or hasattr(credentials, "fetch_token")),
        ("clock", clock, callable(clock)),
        ("token_path", token_path, token_path is None or _is_path(token_path)),
        ("windows", windows, isinstance(windows, bool)),
    )
    for name, value, ok in checks:
        if not ok:
            raise InvalidInputError(f"{name} is not valid here: {shown(value)}")


def _is_path(value: object) -> bool:
    return isinstance(value, str) and value.startswith("/") and value.isprintable()


def _credentials(
    username: str | None,
    password: str | None,
    client_id: str | None,
    client_secret: str | None,
    windows: bool,
    token_path: str | None,
) -> Credentials:
    given = {"username": username, "password": password, "client_id": client_id}
    given["client_secret"] = client_secret
    for name, value in given.items():
        if value is not None and not isinstance(value, str):  # the value is never shown
            raise ConfigurationError(f"{name} must be a string, got {type(value).__name__}")
    if client_id is not None or client_secret is not None:
        if not client_id or client_secret is None or username is not None:
            raise ConfigurationError("a service client needs client_id and client_secret only")
        return ServiceCredentials(
            client_id=client_id, client_secret=client_secret, token_path=token_path
        )
    if username is None or password is None:
        raise ConfigurationError(
            "give username and password (a basic or Windows user) "
            "or client_id and client_secret (a service client)"
        )
    if windows:
        from .ntlm import WindowsCredentials

        return WindowsCredentials(username=username, password=password, token_path=token_path)
    return UserCredentials(username=username, password=password, token_path=token_path)


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


#: Query parameters of ``GET /events`` that only the client's own options set.
_OWN_PARAMS = frozenset(("page", "size", "orderBy", "include"))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _aware(value: object, what: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidInputError(f"{what} must be a timezone-aware datetime, got {shown(value)}")
    return value


def _check_source_id(condition: f.Condition) -> f.Condition:
    values = condition.value if isinstance(condition.value, tuple) else (condition.value,)
    for value in values:
        if not isinstance(value, uuid.UUID):
            to_source(value)
    return condition


def _event_in_data(body: Any) -> Event:
    return wire.event_from_wire(wire.data_envelope(body))


def _array_of(cls: type[T]) -> Callable[[Any], list[T]]:
    return lambda body: [wire.structure(item, cls) for item in wire.array_envelope(body)]


def _data_of(cls: type[T]) -> Callable[[Any], T]:
    return lambda body: wire.structure(wire.data_envelope(body), cls)
