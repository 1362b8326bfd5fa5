"""The one retry rule (xprotect_events/policy.py): what is retryable for which request, the
Retry-After cap, and the backoff schedule the transport and session recovery share."""

from __future__ import annotations

import pytest

from xprotect_events import (
    APIError,
    BadRequestError,
    ConnectError,
    NotFoundError,
    RateLimitedError,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
    TLSError,
    TransportError,
)
from xprotect_events.policy import Backoff

POLICY = RetryPolicy(backoff_initial=0.5, backoff_max=3.0, jitter=0.25, max_retry_after=60)


def test_the_schedule_doubles_up_to_the_cap_with_bounded_jitter() -> None:
    for retry, base in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (50, 3.0), (10_000, 3.0)]:
        for _ in range(50):
            assert base <= POLICY.delay(retry) <= base + 0.25


def test_a_retry_after_is_waited_exactly() -> None:
    assert POLICY.delay(1, 7.0) == 7.0
    assert POLICY.delay(5, 0.0) == 0.0


@pytest.mark.parametrize(
    ("error", "safe", "unsent"),
    [
        (ConnectError("refused"), True, True),
        (TLSError("untrusted"), False, False),
        (RequestTimeoutError("slow"), True, False),
        (TransportError("cut"), True, False),
        (ServerError(status=500), True, False),
        # Without Retry-After the server did not say it did not act (DESIGN: a trigger POST
        # is resent for 429/503 only with Retry-After): a bare 503 may follow the act.
        (ServerError(status=503), True, False),
        (ServerError(status=503, retry_after=0), True, True),
        (RateLimitedError(status=429), True, False),
        (RateLimitedError(status=429, retry_after=0), True, True),
        (RateLimitedError(status=429, retry_after=60), True, True),
        (RateLimitedError(status=429, retry_after=61), False, False),
        (ServerError(status=503, retry_after=3600), False, False),
        (BadRequestError(status=400), False, False),
        (NotFoundError(status=404), False, False),
        (APIError(status=409), False, False),
        (ValueError("not ours"), False, False),
    ],
)
def test_what_is_retried_for_which_request(error: Exception, safe: bool, unsent: bool) -> None:
    assert (POLICY.retryable(error, "safe"), POLICY.retryable(error, "unsent")) == (safe, unsent)


def test_backoff_follows_the_schedule_and_resets() -> None:
    backoff = Backoff(RetryPolicy(backoff_initial=1.0, backoff_max=100.0, jitter=0.0))
    assert [backoff.next_delay() for _ in range(4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff.next_delay(retry_after=0.5) == 0.5
    backoff.reset()
    assert backoff.failures == 0
    assert backoff.next_delay() == 1.0


@pytest.mark.parametrize("retry_after", [None, 0.5, 5.0, 1e5, float("inf")])
@pytest.mark.parametrize("retry", [1, 3, 64])
def test_no_wait_is_longer_than_max_retry_after(retry: int, retry_after: float | None) -> None:
    """Issue 12: not the schedule (a backoff_max above the cap), not a Retry-After."""
    policy = RetryPolicy(backoff_initial=1.0, backoff_max=30.0, jitter=5.0, max_retry_after=2.0)
    for _ in range(20):
        assert 0.0 <= policy.delay(retry, retry_after) <= 2.0
        assert 0.0 <= Backoff(policy).next_delay(retry_after) <= 2.0
