"""A live stream's subscriptions: the rules it keeps across reconnects, by handle (0 is the
first), the server's id of each in the current session, and whether they are all confirmed
(only a session whose subscriptions were all confirmed is resumed: see :mod:`.live`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from functools import partial

from . import ws_wire
from .errors import InvalidInputError, ProtocolError, XProtectError, shown
from .live_conn import WS_PATH, CommandError, Connection, Late
from .ws_wire import Rule

log = logging.getLogger("xprotect_events.live")

#: The stream's connection once it is live (it waits for one).
Live = Callable[[], Awaitable[Connection]]


class Subscriptions:
    """The subscriptions of one stream; ``timeout`` bounds each command."""

    def __init__(self, rules: tuple[Rule, ...], timeout: float | None) -> None:
        self._rules: dict[int, tuple[Rule, ...]] = {0: rules}
        self._ids: dict[int, str] = {}
        self._next = 1  # handles are never reused, even while an add waits for its answer
        self._timeout = timeout
        self._removing: set[asyncio.Future[None]] = set()  # the removes of adds cut short
        #: Whether the session's subscriptions are all confirmed (only then is it resumed).
        self.confirmed = False

    def rules(self) -> list[Rule]:
        """Every rule of every subscription."""
        return [r for rules in self._rules.values() for r in rules]

    async def add(self, rules: tuple[Rule, ...], connection: Live) -> int:
        """Subscribe to checked ``rules`` on the stream's ``connection()``; the new handle.
        An add cut short (cancelled, or no answer in time) that the server makes all the
        same is removed again when its answer comes: no subscription the stream does not
        know delivers to it."""
        handle, self._next = self._next, self._next + 1
        conn = await connection()
        with self._unsure_on_failure():
            late = partial(self._unwanted, conn)
            self._ids[handle] = await self._subscribe(conn, rules, self._timeout, late)
        self._rules[handle] = rules
        return handle

    async def remove(self, handle: int, connection: Live) -> None:
        """Remove the subscription ``handle`` on the stream's ``connection()``. A ``404``
        answer (the server does not have it) removes it all the same, with a WARNING.
        :class:`XProtectError` for one of a session resumed from a checkpoint (the server's
        id of it was never learnt)."""
        if handle not in self._rules:
            raise InvalidInputError(f"no subscription {shown(handle)} in this stream")
        conn = await connection()
        if (sub_id := self._ids.get(handle)) is None:
            raise XProtectError(
                f"subscription {handle} came with the session resumed from the checkpoint: "
                "its server id is not known here, so it cannot be removed (it can once a "
                "new session made it again)"
            )
        with self._unsure_on_failure():
            try:
                late = partial(self._removed_late, handle)
                await conn.command("removeSubscription", self._timeout, late, subscriptionId=sub_id)
            except CommandError as exc:
                if exc.status != 404:
                    raise
                log.warning(
                    "live: the server did not have subscription %d (%s): forgotten", handle, exc
                )
        del self._rules[handle], self._ids[handle]

    async def make_all(self, conn: Connection, within: float | None) -> None:
        """A new session: every subscription made again (each answered ``within`` seconds),
        then all confirmed."""
        self.confirmed = False
        for handle, rules in self._rules.items():
            self._ids[handle] = await self._subscribe(conn, rules, within)
        self.confirmed = True

    @contextlib.contextmanager
    def _unsure_on_failure(self) -> Iterator[None]:
        """A subscription change with no answer (the socket dropped, no answer in time,
        cancelled) may or may not have been made: the next connection starts a new
        session with the subscriptions this stream knows, instead of resuming this one."""
        try:
            yield
        except CommandError:  # the server answered: it did not make the change
            raise
        except BaseException:
            self.confirmed = False
            raise

    def _unwanted(self, conn: Connection, reply: ws_wire.Reply) -> None:
        """The late answer of an add cut short: the subscription it made is removed."""
        sub_id = reply.body.get("subscriptionId")
        if reply.ok and isinstance(sub_id, str) and not conn.closed:
            task = asyncio.ensure_future(self._remove_unwanted(conn, sub_id))
            self._removing.add(task)
            task.add_done_callback(self._removing.discard)

    async def _remove_unwanted(self, conn: Connection, sub_id: str) -> None:
        try:
            await conn.command("removeSubscription", self._timeout, subscriptionId=sub_id)
        except XProtectError as exc:  # (a new session does not have it: made again or not)
            level = logging.INFO if conn.closed else logging.WARNING
            log.log(level, "live: could not remove the subscription of an add cut short: %s", exc)

    def _removed_late(self, handle: int, reply: ws_wire.Reply) -> None:
        """The late answer of a remove cut short: if the server removed it, so does the
        stream (it is not made again in the next session)."""
        if reply.ok or reply.status == 404:
            self._rules.pop(handle, None)
            self._ids.pop(handle, None)

    async def _subscribe(
        self,
        conn: Connection,
        rules: tuple[Rule, ...],
        within: float | None,
        late: Late | None = None,
    ) -> str:
        filters = [ws_wire.rule_to_wire(r) for r in rules]
        reply = await conn.command("addSubscription", within, late, filters=filters)
        sub_id = reply.body.get("subscriptionId")
        if not isinstance(sub_id, str):
            text = "the answer has no 'subscriptionId'"
            raise ProtocolError(text, method="addSubscription", path=WS_PATH)
        return sub_id
