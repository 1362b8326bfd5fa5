"""The one retry rule: what is retried for which kind of request, and how long to wait.

Nothing is retried that could happen twice. ``"safe"`` requests (GET, DELETE, the token
grants, session creation) retry connection errors, timeouts, 5xx and 429. ``"unsent"`` ones
(trigger POSTs, session reads) retry only when the request surely did not reach the server
(the connection could not be made) or the server said it did not act on it: 429 or 503
*with* ``Retry-After``. A 503 without one may come from a gateway whose backend acted and
then timed out, so it is not resent (nor a bare 429, under the same rule).
A server-given ``Retry-After`` is waited exactly, unless it is longer than
``max_retry_after``: then the failure is not retried at all. Otherwise the wait is the one
backoff schedule, :meth:`RetryPolicy.delay`. The transport (per request, with tenacity) and
event-session recovery (per lost session, with :class:`Backoff`) both follow it; recovery
waits at least the backoff even when a ``Retry-After`` is shorter (a server answering
``Retry-After: 0`` to every read would otherwise get a new session at once, for ever).
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Literal, TypeVar

import attrs
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from .checks import int_in, seconds
from .errors import APIError, TLSError, TransportError, XProtectError
from .reasons import reason

log = logging.getLogger("xprotect_events")

RetryMode = Literal["safe", "unsent"]
T = TypeVar("T")


def _attempts(value: object) -> int:
    return int_in("RetryPolicy.attempts", value, 1)


def _seconds(name: str, value: object) -> float:
    """A field of seconds, as a plain float (a subclass's value, read without its own
    methods: they are never called again)."""
    return seconds(f"RetryPolicy.{name}", value, zero=True)


def _backoff_initial(value: object) -> float:
    return _seconds("backoff_initial", value)


def _backoff_max(value: object) -> float:
    return _seconds("backoff_max", value)


def _jitter(value: object) -> float:
    return _seconds("jitter", value)


def _max_retry_after(value: object) -> float:
    return _seconds("max_retry_after", value)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often and how long to retry. ``attempts`` (an int >= 1) counts the first try;
    the other fields are finite, non-negative numbers of seconds, checked here
    (:class:`InvalidInputError`), not when a retry first needs them."""

    attempts: int = attrs.field(default=4, converter=_attempts)
    backoff_initial: float = attrs.field(default=0.2, converter=_backoff_initial)
    backoff_max: float = attrs.field(default=10.0, converter=_backoff_max)
    jitter: float = attrs.field(default=0.5, converter=_jitter)
    #: Longest server-given ``Retry-After`` the client waits; longer raises at once.
    max_retry_after: float = attrs.field(default=120.0, converter=_max_retry_after)

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """The wait before retry number ``retry`` (1 for the first): the server's
        ``Retry-After`` when it gave one, else ``backoff_initial * 2**(retry - 1)`` capped at
        ``backoff_max``, plus up to ``jitter`` seconds at random (as tenacity's
        ``wait_exponential_jitter``). Never more than ``max_retry_after``: no wait of the
        client's is longer (a longer ``Retry-After`` is not retried at all, see
        :meth:`retryable`)."""
        if retry_after is not None:
            return float(min(retry_after, self.max_retry_after))
        exponential = self.backoff_initial * 2.0 ** min(retry - 1, 64)
        wait = min(self.backoff_max, exponential) + random.uniform(0, self.jitter)
        return float(min(wait, self.max_retry_after))

    def retryable(self, exc: BaseException, mode: RetryMode) -> bool:
        """Whether ``exc`` may be retried for a ``mode`` request under this policy."""
        wait = getattr(exc, "retry_after", None)
        if wait is not None and wait > self.max_retry_after:
            return False
        return is_transient(exc) if mode == "safe" else is_unsent(exc)


def is_transient(exc: BaseException) -> bool:
    """GET, DELETE, token grants: anything transient (not a TLS failure)."""
    if isinstance(exc, TransportError):
        return not isinstance(exc, TLSError)
    return isinstance(exc, APIError) and (exc.status >= 500 or exc.status == 429)


def is_unsent(exc: BaseException) -> bool:
    """Trigger POSTs: only what surely did not happen (a 429 or 503 only with the
    server's ``Retry-After``)."""
    if isinstance(exc, TransportError):
        return not exc.sent and not isinstance(exc, TLSError)
    return said_not_acted(exc)


def said_not_acted(exc: BaseException) -> bool:
    """Whether the server said it did not act on the request: 429 or 503 with
    ``Retry-After`` (a bare 503 may come from a gateway after its backend acted)."""
    return isinstance(exc, APIError) and exc.status in (429, 503) and exc.retry_after is not None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); ``inf`` for a
    date too far ahead for a datetime (longer than any wait), None when it is not one."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not "²": str.isdigit() says yes, float() no
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except OverflowError:  # a year or an offset past what a datetime holds: no wait is longer
        return math.inf
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Backoff:
    """The policy's schedule over a run of failures; :meth:`reset` after a success."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.failures = 0

    def reset(self) -> None:
        self.failures = 0

    def next_delay(self, retry_after: float | None = None) -> float:
        self.failures += 1
        return self.policy.delay(self.failures, retry_after)


async def retried(
    attempt: Callable[[], Awaitable[T]], policy: RetryPolicy, mode: RetryMode = "safe"
) -> T:
    """Run ``attempt`` under ``policy``; ``mode`` says what is retried.

    The first attempt runs bare (most requests succeed); only a retryable failure builds
    the tenacity schedule, which then counts that failure as its first attempt.
    """

    def retryable(exc: BaseException) -> bool:
        return policy.retryable(exc, mode)

    try:
        return await attempt()
    except XProtectError as exc:
        if policy.attempts < 2 or not retryable(exc):
            raise
        failed = [exc]

    async def again() -> T:
        if failed:
            raise failed.pop()
        return await attempt()

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        return policy.delay(state.attempt_number, retry_after)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait,
        retry=retry_if_exception(retryable),
        before_sleep=_log_retry,
        reraise=True,
    )
    async for step in retrying:
        with step:
            return await again()
    raise AssertionError("unreachable")  # pragma: no cover


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    text = reason(exc) if exc is not None else "?"
    log.info("retrying in %.2f s (attempt %d failed): %s", wait, state.attempt_number, text)
