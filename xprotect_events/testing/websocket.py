"""The simulator's Events and State WebSocket API: ``/api/ws/events/v1`` (and with ``/``).

Fed by the same store as REST: every accepted trigger is pushed to every session whose
subscriptions match it (an include filter and no exclude filter [profile]) and whose
identity may see its source. Faithful to ``WIRE-WS.md``: the token in the upgrade header
(a bad one: ``401`` before the upgrade) or in an ``authenticate`` command, checked only
when given [forum]; ``startSession`` new (``201``) or resumed (``200``) within the resume
window (30 s [doc]), the missed events after ``eventId`` sent right after its answer;
``addSubscription``/``removeSubscription``; ``getState``; a malformed command closes the
connection [doc].

Faults a test switches on (``sim.live``): :meth:`LiveRoom.drop_connections` (cut every
socket, no close frame), ``refuse_resumes = True`` (every resume answers ``201``),
:meth:`LiveRoom.recycle` (the gateway's daily recycle: close code 1001, sessions lost),
``state_delay = seconds`` (``getState`` answers late); ``max_outbox`` bounds what waits for
a client that does not read (one frame or event more cuts it; its session stays
resumable); and gates a test opens when it wants: :meth:`LiveRoom.pause_upgrades` (new
connections wait), :meth:`LiveRoom.hold_state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from ..errors import ProtocolError
from ..ws_wire import delivered, rule_from_wire
from .clock import SimClock
from .directory import Directory, Identity
from .records import Record
from .rejected import Rejected
from .ws_socket import (
    MAX_OUTBOX,
    Malformed,
    Session,
    Socket,
    logged_after,
    parse_command,
    text_field,
)

WS_PATHS = ("/api/ws/events/v1", "/api/ws/events/v1/")  # any case: see routing.py
#: The upgrade's route key, for ``sim.faults`` (``"GET /api/ws/events/v1/"`` is the other).
WS_ROUTE = f"GET {WS_PATHS[0]}"
#: Most events a session keeps for a resume, besides the window [profile].
MAX_LOG = 100_000
#: Largest command frame the server reads [profile].
MAX_COMMAND = 1024 * 1024


class LiveRoom:
    """Sessions, sockets and current states; lives in the simulator's state (a restart
    of the web server keeps it, like the REST store)."""

    def __init__(
        self,
        *,
        clock: SimClock,
        directory: Directory,
        check_token: Callable[[str], Identity],
        resume_window: float = 30.0,
    ) -> None:
        self.clock = clock
        self.directory = directory
        self.check_token = check_token
        self.resume_window = resume_window
        self.sessions: dict[str, Session] = {}
        self.sockets: set[Socket] = set()
        self.states: dict[tuple[str | None, str], dict[str, Any]] = {}
        #: Faults: every resume answers 201; getState answers this many seconds late.
        self.refuse_resumes = False
        self.state_delay = 0.0
        #: Frames and events queued for a client that does not read before it is cut.
        self.max_outbox = MAX_OUTBOX
        self._upgrades = asyncio.Event()
        self._upgrades.set()
        self._state_gate = asyncio.Event()
        self._state_gate.set()
        #: Upgrades waiting at :meth:`pause_upgrades`; close codes of ended sockets.
        self.upgrades_waiting = 0
        self.close_codes: list[int | None] = []
        #: Counters: upgrades accepted and refused, events pushed to sockets.
        self.connections_total = 0
        self.upgrades_refused = 0
        self.pushed = 0

    # ----------------------------------------------------------------- app wiring

    def register(self, app: web.Application) -> None:
        for path in WS_PATHS:
            app.router.add_get(path, self.handle, allow_head=False)
        app.on_shutdown.append(self._shutdown)

    async def _shutdown(self, app: web.Application) -> None:
        await self.close_all(1001)

    # ----------------------------------------------------------------- faults

    def drop_connections(self) -> None:
        """Cut every socket (no close frame); sessions stay resumable."""
        for sock in list(self.sockets):
            sock.cut()

    async def close_all(self, code: int = 1001) -> None:
        for sock in list(self.sockets):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await sock.ws.close(code=code, message=b"going away")

    async def recycle(self) -> None:
        """The gateway's recycle: every socket closed (1001), every session forgotten."""
        self.sessions.clear()
        await self.close_all(1001)

    def pause_upgrades(self) -> None:
        """Hold every new upgrade (before its token is checked) until :meth:`resume_upgrades`."""
        self._upgrades.clear()

    def resume_upgrades(self) -> None:
        self._upgrades.set()

    def hold_state(self) -> None:
        """Hold every ``getState`` answer until :meth:`release_state` (events still flow)."""
        self._state_gate.clear()

    def release_state(self) -> None:
        self._state_gate.set()

    @property
    def connections(self) -> int:
        return len(self.sockets)

    # ----------------------------------------------------------------- events in

    def stateful(self, type_id: str) -> str | None:
        event_type = self.directory.types.get(type_id)
        return (event_type.state_group_id or None) if event_type else None

    def wants(self, type_id: str) -> bool:
        """Whether an event of this type would be pushed or kept as a state now."""
        return bool(self.sessions) or self.stateful(type_id) is not None

    def on_event(self, rec: Record) -> None:
        """The store's listener: push an accepted event to every matching session."""
        group = self.stateful(rec.type)
        if group is None and not self.sessions:
            return  # nobody to tell, no state to keep
        wire = rec.to_wire(True)
        if group is not None:
            wire["stategroupid"] = group
            self.states[(rec.source_guid, group)] = wire
        now = self.clock.time()
        type_id = uuid.UUID(rec.type)
        for session in list(self.sessions.values()):
            if not self._alive(session, now):
                continue
            visible = self.directory.visible(session.owner)
            if visible is not None and rec.source_guid not in visible:
                continue
            if delivered(session.rules, type_id, rec.source):
                self._log(session, now, wire)
                if session.socket is not None:
                    session.socket.send(wire)
                    self.pushed += 1

    def _alive(self, session: Session, now: float) -> bool:
        gone = session.detached_at is not None and now - session.detached_at > self.resume_window
        if gone:
            self.sessions.pop(session.id, None)
        return not gone

    def _log(self, session: Session, now: float, wire: dict[str, Any]) -> None:
        log = session.log
        log.append((now, wire["id"], wire))
        while log and (now - log[0][0] > self.resume_window or len(log) > MAX_LOG):
            log.popleft()

    # ----------------------------------------------------------------- the socket

    def _header_identity(self, request: web.Request) -> Identity | None:
        header = request.headers.get("Authorization")
        if header is None:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Rejected(401, "Token validation failed: no bearer token was sent.")
        return self.check_token(value.strip())

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not self._upgrades.is_set():
            self.upgrades_waiting += 1
            try:
                await self._upgrades.wait()
            finally:
                self.upgrades_waiting -= 1
        try:
            who = self._header_identity(request)
        except Rejected:
            self.upgrades_refused += 1
            raise
        ws = web.WebSocketResponse(max_msg_size=MAX_COMMAND)
        await ws.prepare(request)
        self.connections_total += 1
        sock = Socket(ws, request, who, self.max_outbox)
        self.sockets.add(sock)
        try:
            await self._serve(sock)
        finally:
            self.close_codes.append(ws.close_code)
            self.sockets.discard(sock)
            if sock.session is not None and sock.session.socket is sock:
                sock.session.socket = None
                sock.session.detached_at = self.clock.time()
            await sock.stop()
        return ws

    async def _serve(self, sock: Socket) -> None:
        async for msg in sock.ws:
            if msg.type != WSMsgType.TEXT:
                break
            try:
                await self._dispatch(sock, parse_command(msg.data))
            except Malformed as exc:
                await asyncio.sleep(0)  # let the writer send the replies before it
                await sock.ws.close(code=1008, message=str(exc).encode()[:120])
                return

    async def _dispatch(self, sock: Socket, cmd: dict[str, Any]) -> None:
        name, command_id = cmd["command"], cmd["commandId"]
        if name == "authenticate":
            self._authenticate(sock, command_id, cmd)
        elif sock.who is None:
            sock.error(command_id, 401, "Not authenticated. Send authenticate first.")
        elif name == "startSession":
            self._start_session(sock, command_id, cmd)
        elif sock.session is None and name in ("addSubscription", "removeSubscription", "getState"):
            sock.error(command_id, 400, "No session. Send startSession first.")
        elif name == "addSubscription":
            self._add_subscription(sock, command_id, cmd)
        elif name == "removeSubscription":
            self._remove_subscription(sock, command_id, cmd)
        elif name == "getState":
            task = asyncio.create_task(self._get_state(sock, command_id))
            sock.tasks.add(task)
            task.add_done_callback(sock.tasks.discard)
        else:
            sock.error(command_id, 400, f"Unknown command '{name}'.")

    def _authenticate(self, sock: Socket, command_id: int, cmd: dict[str, Any]) -> None:
        token = text_field(cmd, "token")
        scheme, _, value = token.partition(" ")
        try:
            if scheme.lower() != "bearer" or not value.strip():
                raise Rejected(401, "Token validation failed: no bearer token was sent.")
            sock.who = self.check_token(value.strip())
        except Rejected as exc:
            sock.error(command_id, exc.status, exc.text)
            return
        sock.reply(command_id, 200)

    def _start_session(self, sock: Socket, command_id: int, cmd: dict[str, Any]) -> None:
        assert sock.who is not None
        wanted, after = text_field(cmd, "sessionId"), text_field(cmd, "eventId")
        now = self.clock.time()
        session = self.sessions.get(wanted) if wanted else None
        resumable = (
            session is not None
            and session.owner == sock.who
            and not self.refuse_resumes
            and self._alive(session, now)
        )
        if session is not None and resumable:
            if session.socket is not None and session.socket is not sock:
                session.socket.session = None
            self._attach(sock, session)
            sock.reply(command_id, 200, sessionId=session.id)
            for wire in logged_after(session.log, after):  # after the answer, never before it
                sock.send(wire)
            return
        session = Session(sock.who)
        self.sessions[session.id] = session
        self._attach(sock, session)
        sock.reply(command_id, 201, sessionId=session.id)

    def _attach(self, sock: Socket, session: Session) -> None:
        if sock.session is not None and sock.session is not session:
            sock.session.socket = None
            sock.session.detached_at = self.clock.time()
        sock.session, session.socket, session.detached_at = session, sock, None

    def _add_subscription(self, sock: Socket, command_id: int, cmd: dict[str, Any]) -> None:
        assert sock.session is not None
        filters = cmd.get("filters")
        if not isinstance(filters, list):
            raise Malformed("addSubscription needs a 'filters' array")
        try:
            rules = [rule_from_wire(f) for f in filters]
        except ProtocolError as exc:
            raise Malformed(str(exc)) from None
        sub_id = str(uuid.uuid4())
        sock.session.subscriptions[sub_id] = rules
        sock.reply(command_id, 200, subscriptionId=sub_id)

    def _remove_subscription(self, sock: Socket, command_id: int, cmd: dict[str, Any]) -> None:
        assert sock.session is not None
        sub_id = text_field(cmd, "subscriptionId")
        if sock.session.subscriptions.pop(sub_id, None) is None:
            sock.error(command_id, 404, f"Subscription not found. {sub_id}")
            return
        sock.reply(command_id, 200)

    async def _get_state(self, sock: Socket, command_id: int) -> None:
        if self.state_delay > 0:
            await asyncio.sleep(self.state_delay)
        await self._state_gate.wait()
        session = sock.session
        if session is None:
            sock.error(command_id, 400, "No session. Send startSession first.")
            return
        sock.reply(command_id, 200, states=self.current_states(session))

    def current_states(self, session: Session) -> list[dict[str, Any]]:
        """The latest stateful event of every visible source and state group that the
        session's subscriptions match [sample]."""
        rows: dict[tuple[str | None, str], dict[str, Any]] = {}
        for camera in self.directory.cameras.values():
            for group in self.directory.state_groups.values():
                initial = group.initial_state(camera.id)
                if initial is not None:
                    rows[(str(camera.id), str(group.id))] = initial
        rows.update(self.states)
        visible = self.directory.visible(session.owner)
        rules = session.rules
        return [
            row
            for (source, _), row in rows.items()
            if (visible is None or source in visible)
            and delivered(rules, uuid.UUID(row["type"]), row["source"])
        ]
