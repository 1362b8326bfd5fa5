"""Reconcile's rules: what the store's answer means for a trigger whose outcome is unknown."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from xprotect_events.models import Event, EventTrigger
from xprotect_events.reconcile import (
    DEFAULT_SKEW,
    SentTrigger,
    decide,
    matches,
    search_window,
    unrecognisable,
)

TYPE = uuid.UUID("481d4d6c-9156-4698-af7e-74b32f9e4359")
OTHER_TYPE = uuid.UUID(int=9)
CAMERA = "e028f597-c64b-4f27-bb8d-08f5cd768e1c"
SENT = datetime(2024, 5, 1, 12, tzinfo=UTC)
NOW = SENT + timedelta(minutes=1)
MS = timedelta(milliseconds=1)


def tagged(tag: str | None = "job-1", **fields: object) -> SentTrigger:
    base: dict[str, object] = {
        "type": TYPE,
        "source": f"cameras/{CAMERA}",
        "tag": tag,
        "sent_from": SENT,
        "sent_until": SENT + timedelta(seconds=1),
    }
    return SentTrigger(**{**base, **fields})  # type: ignore[arg-type]


def stored(n: int = 1, /, **fields: object) -> Event:
    base: dict[str, object] = {
        "id": uuid.UUID(int=n),
        "time": SENT + timedelta(milliseconds=300),
        "type": TYPE,
        "source": f"cameras/{CAMERA}",
        "tag": "job-1",
    }
    return Event(**{**base, **fields})  # type: ignore[arg-type]


def test_one_match_is_accepted_with_its_event() -> None:
    found = stored()
    result = decide(tagged(), [stored(2, tag="job-2"), found], stored=True, now=NOW)
    assert result.status == "accepted"
    assert result.event == found


def test_the_source_may_be_written_either_way() -> None:
    result = decide(tagged(source=CAMERA), [stored()], stored=True, now=NOW)
    assert result.status == "accepted"


def test_not_found_after_settling_is_safe_to_resend() -> None:
    result = decide(tagged(), [], stored=True, now=NOW)
    assert result.status == "rejected"
    assert result.event is None
    assert "not found 59.0 s after it was sent" in result.reason
    assert "safe to send again" in result.reason


def test_not_found_too_soon_stays_unknown() -> None:
    soon = SENT + timedelta(seconds=3)
    result = decide(tagged(), [], stored=True, now=soon)
    assert result.status == "unknown"
    assert "not found yet: sent 2.0 s ago" in result.reason
    later = decide(tagged(), [], stored=True, now=soon, settle=timedelta(seconds=1))
    assert later.status == "rejected"


def test_a_type_that_is_not_stored_stays_unknown() -> None:
    result = decide(tagged(), [], stored=False, now=NOW)
    assert result.status == "unknown"
    assert "not stored (retention 0)" in result.reason


@pytest.mark.parametrize("tag", [None, ""])
def test_no_tag_and_no_time_cannot_be_recognised(tag: str | None) -> None:
    sent = tagged(tag=tag)
    result = decide(sent, [stored(tag=tag)], stored=True, now=NOW)
    assert result.status == "unknown"
    assert "no tag and no time" in result.reason
    assert "unique tag" in result.reason
    assert unrecognisable(sent) == result.reason


def test_an_explicit_time_recognises_an_untagged_trigger() -> None:
    when = SENT - timedelta(hours=1)
    sent = tagged(tag=None, time=when)
    exact = stored(tag=None, time=when + 10 * MS)  # within the 10 ms accuracy
    too_far = stored(2, tag=None, time=when + 11 * MS)
    result = decide(sent, [exact, too_far], stored=True, now=NOW)
    assert result.status == "accepted"
    assert result.event == exact


def test_more_than_one_match_is_ambiguous() -> None:
    result = decide(tagged(), [stored(1), stored(2)], stored=True, now=NOW)
    assert result.status == "unknown"
    assert result.reason.startswith("ambiguous: 2 stored events match it")


@pytest.mark.parametrize(
    "other",
    [
        {"type": OTHER_TYPE},
        {"source": "cameras/00000000-0000-0000-0000-000000000001"},
        {"source": None},
        {"tag": "job-1-again"},
        {"tag": None},
    ],
)
def test_events_that_differ_do_not_match(other: dict[str, object]) -> None:
    result = decide(tagged(), [stored(**other)], stored=True, now=NOW)
    assert result.status == "rejected"


@pytest.mark.parametrize(
    "when",
    [
        SENT - DEFAULT_SKEW - MS,  # before it was sent (even allowing for skew)
        NOW + DEFAULT_SKEW + MS,  # after the lookup
    ],
)
def test_its_tag_at_another_time_does_not_match_and_is_not_safe_to_resend(
    when: datetime,
) -> None:
    """(It does not match: not accepted; but its unique tag is stored: the clocks may be
    further apart than ``skew``, and it may have landed. Was ``rejected`` before.)"""
    result = decide(tagged(), [stored(time=when)], stored=True, now=NOW)
    assert (result.status, result.event) == ("unknown", None)
    assert "an event with its tag is stored at" in result.reason


def test_a_sourceless_trigger_matches_a_sourceless_event() -> None:
    assert decide(tagged(source=None), [stored(source=None)], stored=True, now=NOW).event


def test_when_it_was_sent_is_not_known() -> None:
    sent = tagged(sent_from=None, sent_until=None)
    assert search_window(sent, now=NOW) is None
    assert decide(sent, [stored(time=SENT - timedelta(days=3))], stored=True, now=NOW).event
    result = decide(sent, [], stored=True, now=NOW)
    assert result.status == "unknown"
    assert "when it was sent is not known" in result.reason


def test_older_than_the_retention_stays_unknown() -> None:
    result = decide(tagged(), [], stored=True, now=NOW, retention=timedelta(seconds=30))
    assert result.status == "unknown"
    assert "older than its type's retention" in result.reason
    kept = decide(tagged(), [], stored=True, now=NOW, retention=timedelta(hours=1))
    assert kept.status == "rejected"


def test_search_window() -> None:
    assert search_window(tagged(), now=NOW) == (SENT - DEFAULT_SKEW, NOW + DEFAULT_SKEW)
    when = SENT - timedelta(hours=1)
    assert search_window(tagged(time=when), now=NOW) == (when - 10 * MS, when + 10 * MS)
    edge = datetime.min.replace(tzinfo=UTC)
    assert search_window(tagged(time=edge), now=NOW) == (edge, edge + 10 * MS)


def test_matches_needs_no_window() -> None:
    assert matches(tagged(), stored(time=SENT - timedelta(days=9)), None)


def test_sent_trigger_of_an_event_trigger() -> None:
    trigger = EventTrigger(type=TYPE, source=CAMERA, tag="job-1", time=SENT)
    sent = SentTrigger.of(trigger, sent_from=SENT, sent_until=NOW)
    assert sent == SentTrigger(
        type=TYPE, source=CAMERA, tag="job-1", time=SENT, sent_from=SENT, sent_until=NOW
    )
