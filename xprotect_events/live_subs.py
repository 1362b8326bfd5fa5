"""A live stream's subscriptions: the rules it keeps across reconnects, by handle (0 is the
first), the server's id of each in the current session, and whether they are all confirmed
(only a session whose subscriptions were all confirmed is resumed: see :mod:`.live`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator

from . import ws_wire
from .errors import InvalidInputError, ProtocolError, XProtectError, shown
from .live_conn import WS_PATH, CommandError, Connection
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
        #: Whether the session's subscriptions are all confirmed (only then is it resumed).
        self.confirmed = False

    def rules(self) -> list[Rule]:
        """Every rule of every subscription."""
        return [r for rules in self._rules.values() for r in rules]

    async def add(self, rules: tuple[Rule, ...], connection: Live) -> int:
        """Subscribe to checked ``rules`` on the stream's ``connection()``; the new handle."""
        handle, self._next = self._next, self._next + 1
        conn = await connection()
        with self._unsure_on_failure():
            self._ids[handle] = await self._subscribe(conn, rules, self._timeout)
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
                await conn.command("removeSubscription", self._timeout, subscriptionId=sub_id)
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

    async def _subscribe(
        self, conn: Connection, rules: tuple[Rule, ...], within: float | None
    ) -> str:
        filters = [ws_wire.rule_to_wire(r) for r in rules]
        reply = await conn.command("addSubscription", within, filters=filters)
        sub_id = reply.body.get("subscriptionId")
        if not isinstance(sub_id, str):
            text = "the answer has no 'subscriptionId'"
            raise ProtocolError(text, method="addSubscription", path=WS_PATH)
        return sub_id
