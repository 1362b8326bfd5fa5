"""The :class:`Simulator`: a local XProtect Events API on a loopback port, driven from Python."""

from __future__ import annotations

import gc
import ssl
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal

import attrs
from aiohttp import web

from . import seed
from .accesslog import AccessLog, sink_of
from .app import ROUTE_KEYS, build_app
from .clock import SimClock
from .cors import CorsPolicy, policy_of
from .directory import Directory, Identity
from .faults import Faults
from .options import check_options
from .seed import SimCamera, SimEventType, SimUser
from .sessions import SessionTable
from .state import SimState, Stats, WindowsAuth
from .store import EventStore
from .tls import Tls, windows_acceptor
from .tokens import Tokens
from .websocket import LiveRoom

__all__ = ["SimClock", "Simulator", "Stats"]

#: A bulk load at least this large ends with a full garbage collection.
_COLLECT_AFTER = 100_000


class Simulator:
    """A running simulated XProtect server (see ``xprotect_events.testing`` for the seed).

    ``async with Simulator() as sim:`` starts it on a free loopback port; ``sim.url`` is its
    base URL. State (events, tokens, cameras, users) lives in this object and survives
    :meth:`restart`; event sessions do not.

    ``max_events`` caps the events kept (the oldest are deleted first, as retention deletes
    them, and sessions see them deleted); None: no cap. ``access_log`` logs one line per
    request (True: to the ``xprotect_events.testing.access`` logger at INFO; a callable:
    called with each line; off by default). ``ntlm_at_gateway`` lets a Windows (NTLM) login
    complete at the gateway's ``/API/IDP/connect/token`` too, for installations that pass
    it through (real gateways do not [sample]). ``cors`` plays the gateway's CORS for web
    pages from other origins (:mod:`.cors`; off by default): True or ``"*"`` the samples'
    config, another string the ``Access-Control-Allow-Origin`` sent, or a :class:`CorsPolicy`.
    A value it cannot run with (a port out of range, negative seconds …) is an
    :class:`~xprotect_events.errors.InvalidInputError` naming the option.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        https: bool = False,
        clock: SimClock | None = None,
        token_lifetime: float = 3600.0,
        session_idle_timeout: float = 60.0,
        users: Sequence[SimUser] | None = None,
        service_clients: Mapping[str, str] | None = None,
        max_batch: int = 100,
        max_events: int | None = None,
        access_log: AccessLog = False,
        ntlm_at_gateway: bool = False,
        resume_window: float = 30.0,
        cors: CorsPolicy | str | bool | None = None,
    ) -> None:
        check_options(locals())
        self._host = host
        self._port = port
        self._https = https
        self._tls: Tls | None = None
        self._runner: web.AppRunner | None = None
        clock = clock or SimClock()
        directory = Directory(
            seed.default_users() if users is None else users,
            seed.default_service_clients() if service_clients is None else service_clients,
            seed.default_cameras(),
            seed.default_event_types(),
            seed.default_state_groups(),
        )
        store = EventStore(directory, max_events=max_events)
        stats = Stats()
        store.on_stored.append(stats.count_stored)
        self._state = SimState(
            clock=clock,
            directory=directory,
            store=store,
            sessions=SessionTable(store, idle_timeout=session_idle_timeout, now_us=clock.now_us),
            tokens=Tokens(clock, token_lifetime),
            stats=stats,
            faults=Faults(ROUTE_KEYS),
            windows_auth=windows_acceptor(),
            max_batch=max_batch,
            ntlm_at_gateway=ntlm_at_gateway,
            access_log=sink_of(access_log),
            cors=policy_of(cors),
        )
        self._state.live = LiveRoom(
            clock=clock,
            directory=directory,
            check_token=self._state.tokens.check,
            resume_window=resume_window,
        )
        store.on_admitted.append(self._state.live)

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Serve on ``host:port`` (port 0: a free one, kept for :meth:`restart`)."""
        if self._runner is not None:
            return
        if self._https and self._tls is None:
            self._tls = Tls()
        runner = web.AppRunner(build_app(self._state), access_log=None, shutdown_timeout=0.05)
        await runner.setup()
        ssl_context = self._tls.server_context() if self._tls else None
        site = web.TCPSite(
            runner, self._host, self._port, ssl_context=ssl_context, reuse_address=True
        )
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = runner.addresses[0][1]
        self._state.base_url = self.url

    async def stop(self) -> None:
        """Stop serving (open connections are cut) and remove the TLS files."""
        await self._stop_server()
        if self._tls is not None:
            self._tls.remove()
            self._tls = None

    async def _stop_server(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def restart(self) -> None:
        """Stop (connections cut), then serve again on the same port with the same
        certificate. Event sessions are lost; events, cameras, users and tokens are kept."""
        await self._stop_server()
        self._state.sessions.drop_all()
        self.live.sessions.clear()
        await self.start()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ----------------------------------------------------------------- addresses and TLS

    @property
    def port(self) -> int:
        """The port it listens on (the one chosen, with ``port=0``)."""
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` or ``https://…`` (no trailing slash)."""
        scheme = "https" if self._https else "http"
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{scheme}://{host}:{self._port}"

    @property
    def api_url(self) -> str:
        """The Events API's base URL (``url`` + ``/api/rest/v1``)."""
        return self.url + "/api/rest/v1"

    @property
    def ca_path(self) -> str | None:
        """HTTPS: a PEM file of the generated CA, for a client's ``verify=``; else None."""
        return str(self._tls.ca_path) if self._tls else None

    def ssl_context(self) -> ssl.SSLContext:
        """HTTPS: a client context that trusts the generated CA."""
        if self._tls is None:
            raise RuntimeError("ssl_context() needs Simulator(https=True), started")
        return self._tls.client_context()

    # ----------------------------------------------------------------- state

    @property
    def clock(self) -> SimClock:
        """The simulator's clock: freeze or move it to expire tokens and events."""
        return self._state.clock

    @property
    def stats(self) -> Stats:
        """Counters of what the simulator served (requests, triggers, sessions)."""
        return self._state.stats

    @property
    def faults(self) -> Faults:
        """The fault rules: add some to make requests fail on purpose."""
        return self._state.faults

    @property
    def live(self) -> LiveRoom:
        """The Events and State WebSocket side: its sessions, counters and faults."""
        assert self._state.live is not None
        return self._state.live

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT/api/ws/events/v1`` (``wss://`` with https)."""
        return self.url.replace("http", "ws", 1) + "/api/ws/events/v1"

    @property
    def windows_auth(self) -> WindowsAuth:
        """The hook that authenticates ``grant_type=windows_credentials`` (NTLM goes here)."""
        return self._state.windows_auth

    @windows_auth.setter
    def windows_auth(self, hook: WindowsAuth) -> None:
        self._state.windows_auth = hook

    @property
    def access_log(self) -> Callable[[str], None] | None:
        """Where access-log lines go now (None: nowhere); settable like the option."""
        return self._state.access_log

    @access_log.setter
    def access_log(self, value: AccessLog) -> None:
        self._state.access_log = sink_of(value)

    @property
    def max_events(self) -> int | None:
        """The cap on stored events (None: none)."""
        return self.store.max_events

    def retention(self, type_id: uuid.UUID | str) -> float | None:
        """Seconds events of a type are kept (None: forever; 0: never stored); KeyError if
        the type is unknown. Over HTTP: ``GET /simulator/eventTypes``."""
        return self.directory.retention[str(type_id).lower()]

    @property
    def store(self) -> EventStore:
        """The event store (records, indexes, retention; ``on_stored``/``on_deleted``
        listeners). Call :meth:`sweep` first to see retention applied."""
        return self._state.store

    @property
    def sessions(self) -> SessionTable:
        """The server-side event sessions (``len(sim.sessions)``, ``sim.sessions.by_id``)."""
        return self._state.sessions

    @property
    def directory(self) -> Directory:
        """Users, service clients, cameras and event types, and who may see what."""
        return self._state.directory

    @property
    def tokens(self) -> Tokens:
        """The bearer tokens issued (``len(sim.tokens)``: how many, expired ones included)."""
        return self._state.tokens

    def sweep(self) -> int:
        """Apply retention now; returns how many events it deleted."""
        return self._state.sweep()

    @property
    def events_stored(self) -> int:
        """Events stored now (retention applied)."""
        self.sweep()
        return len(self.store)

    @property
    def sessions_alive(self) -> int:
        """Event sessions alive now (idle ones dropped)."""
        self.sessions.expire(self.clock.now_us())
        return len(self.sessions)

    @property
    def cameras(self) -> list[SimCamera]:
        """The cameras (attrs :class:`SimCamera`: ``id``, ``name``, ``visible_to`` …)."""
        return list(self.directory.cameras.values())

    @property
    def event_types(self) -> list[SimEventType]:
        """The event types (attrs :class:`SimEventType`: ``id``, ``name``, ``retention`` …)."""
        return list(self.directory.types.values())

    @property
    def users(self) -> list[SimUser]:
        """The basic and Windows users it knows."""
        return list(self.directory.users.values())

    # ----------------------------------------------------------------- control

    def add_camera(
        self, name: str, *, id: uuid.UUID | None = None, visible_to: Iterable[str] | None = None
    ) -> uuid.UUID:
        """Add a camera; ``visible_to`` None: every user sees it, else only those users
        (and users with ``sources="all"``)."""
        vis: frozenset[str] | Literal["all"] = (
            "all" if visible_to is None else frozenset(visible_to)
        )
        camera = SimCamera(id=id or uuid.uuid4(), name=name, visible_to=vis)
        self.directory.add_camera(camera)
        return camera.id

    def add_event_type(
        self,
        name: str,
        *,
        generator_type: str = "External",
        generator_subtype: str | None = None,
        retention: float | None = None,
        id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        """Add an event type. ``retention``: seconds kept (None forever, 0 never stored)."""
        type_id = id or uuid.uuid4()
        event_type: SimEventType
        if generator_type == "External":
            event_type = seed.user_defined(type_id, name, retention=retention)
        elif generator_type == "MIPDevice":
            subtype = generator_subtype or "AnalyticsEvent"
            event_type = seed.analytics(type_id, name, subtype=subtype, retention=retention)
        else:
            event_type = SimEventType(
                id=type_id, name=name, generator_type=generator_type, retention=retention
            )
        if generator_subtype is not None and event_type.generator_subtype != generator_subtype:
            event_type = attrs.evolve(event_type, generator_subtype=generator_subtype)
        self.directory.add_event_type(event_type)
        return type_id

    def store_events(self, events: Iterable[Any]) -> int:
        """Store events without HTTP, fast (a million in seconds). Items are mappings or
        objects (e.g. ``EventTrigger``) with ``type``, ``source``, ``time``, ``tag``,
        ``datatype``, ``data``; no permission checks, unknown sources kept as given.
        Retention applies. Returns how many were stored.

        The cyclic garbage collector is paused during the load, and a large load ends with
        one ``gc.collect()``: its pause is paid here, not in whatever is measured next.
        """
        self.sweep()
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            stored = self._state.store.bulk(events, self.clock.now_us())
        finally:
            if was_enabled:
                gc.enable()
        if was_enabled and stored >= _COLLECT_AFTER:
            gc.collect()
        return stored

    def issue_token(self, name: str) -> str:
        """A valid token for a user or a service client, without HTTP (not counted in stats)."""
        directory = self.directory
        if name in directory.users:
            identity = Identity(name)
        elif name in directory.service_clients:
            identity = Identity(name, service=True)
        else:
            raise KeyError(f"no user or service client named {name!r}")
        return self._state.tokens.issue(identity)

    def revoke_tokens(self) -> None:
        """Every token issued so far now gets 401."""
        self._state.tokens.revoke_all()

    def drop_sessions(self) -> None:
        """Every live event session is gone: reading it gives 404."""
        self.sessions.drop_all()

    def __repr__(self) -> str:
        running = "running" if self._runner else "stopped"
        return f"Simulator({self.url}, {running}, events={len(self.store)})"
