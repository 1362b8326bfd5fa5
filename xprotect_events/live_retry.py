"""When a live stream connects again, and when it gives up, on the client's
:class:`~xprotect_events.policy.RetryPolicy` (its one backoff schedule).

A connection that cannot be made (or whose session cannot be started) is retried while
the error is retryable, up to ``attempts`` in a row. A connection that drops is made again:
at once after one that lived :data:`SHORT_LIVED` or more, else after the policy's backoff;
``attempts`` connections in a row that each ended that soon without a single new event end
the stream (a server that closes every connection right after its answer is not a stream).
A ``getState`` whose socket drops while it waits is asked again on the next connection
(:func:`states`).
"""

from __future__ import annotations

from .errors import RequestTimeoutError, TransportError, XProtectError
from .live_conn import WS_PATH
from .live_subs import Live
from .models import Event
from .policy import Backoff, RetryPolicy

#: A connection that ends sooner than this after it opened backs the next one off.
SHORT_LIVED = 1.0


class Reconnects:
    """The reconnect schedule of one stream."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._failures = Backoff(policy)
        self._drops = Backoff(policy)
        self._barren = 0  # connections in a row that ended at once, none with an event

    def failed(self, exc: XProtectError) -> float | None:
        """A connection could not be made: the seconds to wait, or None to give up."""
        policy = self._policy
        if not policy.retryable(exc, "safe") or self._failures.failures + 1 >= policy.attempts:
            return None
        return self._failures.next_delay(getattr(exc, "retry_after", None))

    def opened(self) -> None:
        """A connection was made and its session started."""
        self._failures.reset()

    def dropped(self, lived: float, received: bool) -> float | None:
        """A connection ended after ``lived`` seconds (``received``: a new event came on it):
        the seconds to wait before the next, or None to give up."""
        if lived >= SHORT_LIVED:
            self._drops.reset()
            self._barren = 0
            return 0.0
        self._barren = 0 if received else self._barren + 1
        if self._barren >= self._policy.attempts:
            return None
        return self._drops.next_delay()

    def gave_up(self, last: XProtectError | None) -> TransportError:
        """The stream's error when :meth:`dropped` gave up (``last``: the connection's)."""
        why = last.args[0] if last is not None and last.args else "closed"
        return TransportError(
            f"the server ended {self._barren} connections in a row within {SHORT_LIVED} s, "
            f"none with an event (the last: {why})",
            path=WS_PATH,
        )


async def states(connection: Live, attempts: int, within: float | None) -> list[Event]:
    """``getState`` on the stream's ``connection()`` (answered ``within`` seconds), asked
    again on the next connection when the socket drops while it waits, ``attempts`` times
    in all; one not answered on a live socket (:class:`RequestTimeoutError`) is not asked
    again."""
    for attempt in range(attempts):
        conn = await connection()
        try:
            return await conn.states(within)
        except RequestTimeoutError:  # not answered on a live socket: not asked again
            raise
        except TransportError:
            if attempt + 1 >= attempts:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
