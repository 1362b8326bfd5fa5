"""One client socket of the simulated WebSocket API and the session it speaks for."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from ..ws_wire import Rule
from .directory import Identity

#: An event pushed to a session: when (sim clock), its id, its JSON object.
Logged = tuple[float, str, dict[str, Any]]
#: Most events in one batch frame [profile].
MAX_BATCH = 1000
#: Most frames and events waiting for a client that does not read [profile]: one more
#: cuts its connection (its session stays resumable, the missed events in its log). Twice
#: the most a resume replays at once (``websocket.MAX_LOG``), so a resume is never cut.
MAX_OUTBOX = 200_000


class Malformed(Exception):
    """A command the server cannot read: the connection is closed [doc]."""


class Session:
    """A WebSocket session: its owner, subscriptions and the events pushed to it lately."""

    def __init__(self, owner: Identity) -> None:
        self.id = str(uuid.uuid4())
        self.owner = owner
        self.subscriptions: dict[str, list[Rule]] = {}
        self.log: deque[Logged] = deque()
        self.socket: Socket | None = None
        self.detached_at: float | None = None

    @property
    def rules(self) -> list[Rule]:
        return [r for rules in self.subscriptions.values() for r in rules]


class Socket:
    """One client connection and its writer: replies and event batches, in order."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        request: web.Request,
        who: Identity | None,
        max_outbox: int = MAX_OUTBOX,
    ):
        self.ws = ws
        self.request = request
        self.who = who
        self.session: Session | None = None
        self.outbox: deque[bytes | dict[str, Any]] = deque()
        self.max_outbox = max_outbox
        #: Whether it was cut for falling :attr:`max_outbox` behind (nothing more is queued).
        self.overrun = False
        self._ready = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        self.writer = asyncio.create_task(self._write())

    def send(self, item: bytes | dict[str, Any]) -> None:
        """Queue a ready frame (bytes) or an event (batched with the events after it); a
        client already :attr:`max_outbox` behind is cut instead (memory stays bounded)."""
        if self.overrun:
            return
        if len(self.outbox) >= self.max_outbox:
            self.overrun = True
            self.outbox.clear()
            if self.request.transport is not None:
                self.request.transport.abort()  # close() would wait for the unread bytes
            return
        self.outbox.append(item)
        self._ready.set()

    def reply(self, command_id: int, status: int, **fields: Any) -> None:
        self.send(orjson.dumps({"commandId": command_id, "status": status, **fields}))

    def error(self, command_id: int, status: int, text: str) -> None:
        self.reply(command_id, status, error={"errorText": text})

    async def _write(self) -> None:
        outbox = self.outbox
        with contextlib.suppress(ConnectionError, RuntimeError):
            while True:
                if not outbox:
                    self._ready.clear()
                    await self._ready.wait()
                    continue
                item = outbox.popleft()
                if not isinstance(item, bytes):
                    batch = [item]
                    while outbox and not isinstance(outbox[0], bytes) and len(batch) < MAX_BATCH:
                        batch.append(outbox.popleft())  # type: ignore[arg-type]
                    item = orjson.dumps({"events": batch})
                await self.ws.send_frame(item, WSMsgType.TEXT)

    def cut(self) -> None:
        """Drop the connection: no close frame (a network failure)."""
        if self.request.transport is not None:
            self.request.transport.close()

    async def stop(self) -> None:
        for task in (self.writer, *self.tasks):
            task.cancel()
        await asyncio.gather(self.writer, *self.tasks, return_exceptions=True)


def parse_command(text: str) -> dict[str, Any]:
    try:
        cmd = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise Malformed("the command is not JSON") from None
    if not isinstance(cmd, dict) or not isinstance(cmd.get("command"), str):
        raise Malformed("a command needs a 'command' name")
    command_id = cmd.get("commandId")
    if not isinstance(command_id, int) or isinstance(command_id, bool):
        raise Malformed("a command needs an integer 'commandId'")
    return cmd


def text_field(cmd: dict[str, Any], key: str) -> str:
    value = cmd.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Malformed(f"'{key}' must be a string")
    return value


def logged_after(
    log: deque[tuple[float, str, dict[str, Any]]], event_id: str
) -> list[dict[str, Any]]:
    """The logged events after ``event_id`` (all of them when it is not in the log)."""
    ids = [entry[1] for entry in log]
    start = ids.index(event_id) + 1 if event_id in ids else 0
    return [entry[2] for entry in list(log)[start:]]
