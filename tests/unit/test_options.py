"""Request options checked in one pure place (xprotect_events/options.py, checks.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from xprotect_events import InvalidInputError, SessionFilter, contains
from xprotect_events.checks import aware, int_in, is_int, order, seconds
from xprotect_events.options import (
    BatchOptions,
    ListOptions,
    SessionOptions,
    batch_spec,
    list_query,
    session_spec,
)

TYPE = "00000000-0000-0000-0000-000000000001"


def test_a_bool_is_not_an_int() -> None:
    assert is_int(3)
    assert not is_int(True)
    assert not is_int(3.0)
    with pytest.raises(InvalidInputError, match="size must be 1 to 10"):
        int_in("size", True, 1, 10)


def test_the_primitive_checks() -> None:
    now = datetime.now(UTC)
    assert aware(now, "since") is now
    with pytest.raises(InvalidInputError, match="since must be a timezone-aware"):
        aware(datetime(2024, 1, 1), "since")
    assert order("desc") == "desc"
    with pytest.raises(InvalidInputError, match="order"):
        order("DESC")
    assert seconds("wait", 2) == 2.0
    for bad in (0, -1, True, "1", 10**400, float("nan"), float("inf")):
        with pytest.raises(InvalidInputError, match="wait must be a number of seconds"):
            seconds("wait", bad)


def test_session_spec_defaults_and_read_query() -> None:
    spec = session_spec({"types": [TYPE], "include_data": True}, max_read=2000)
    assert spec.filters == [SessionFilter("type", "equals", TYPE)]
    assert (spec.order, spec.max_size, spec.poll_interval, spec.close_timeout) == (
        "asc",
        100,
        1.0,
        5.0,
    )
    assert spec.read_params == {"maxSize": "100", "include": "data"}


@pytest.mark.parametrize(
    "options",
    [
        {"typo": 1},
        {"max_size": 2001},
        {"max_size": True},
        {"include_data": 1},
        {"order": "up"},
        {"since": datetime(2024, 1, 1)},
        {"close_timeout": 0},
    ],
)
def test_session_spec_refuses(options: dict[str, Any]) -> None:
    typed: SessionOptions = options  # type: ignore[assignment]
    with pytest.raises(InvalidInputError):
        session_spec(typed, max_read=2000)


@pytest.mark.parametrize(
    "options",
    [
        {"chunk_size": 0},
        {"chunk_size": 101},
        {"concurrency": 9},
        {"concurrency": True},
        {"on_progress": 5},
        {"reject_invalid": "yes"},
        {"retry": True},
    ],
)
def test_batch_spec_refuses(options: dict[str, Any]) -> None:
    typed: BatchOptions = options  # type: ignore[assignment]
    with pytest.raises(InvalidInputError):
        batch_spec([], typed, max_batch=100, limit=8)


def test_list_query() -> None:
    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    query = list_query({"since": t0, "source_name": "Door", "order": "desc"}, 2000)
    assert query.params == {
        "size": "100",
        "orderBy": "desc:'time'",
        "time": "gt:'2024-05-01T00:00:00.0000000Z'",
        "source.name": "equals:'Door'",
    }
    assert (query.page_size, query.limit) == (100, None)


@pytest.mark.parametrize(
    "options",
    [{"typo": 1}, {"page_size": 2001}, {"limit": -1}, {"limit": True}, {"filters": {"page": 1}}],
)
def test_list_query_refuses(options: dict[str, Any]) -> None:
    typed: ListOptions = options  # type: ignore[assignment]
    with pytest.raises(InvalidInputError):
        list_query(typed, 2000)


@pytest.mark.parametrize(
    ("option", "prop"),
    [("source_names", "source.name"), ("types", "type"), ("sources", "source.id")],
)
def test_a_condition_for_a_session_list_option_names_the_filter_that_takes_it(
    option: str, prop: str
) -> None:
    """``list_events(source_name=contains(…))`` works; ``event_session(source_names=
    contains(…))`` said only "must be a list (an iterable)". It now names the filter to
    use, and that filter is taken."""
    hint = f"filters=[SessionFilter({prop!r}, 'contains', 'Entrance')]"
    with pytest.raises(InvalidInputError, match=re.escape(hint)):
        session_spec({option: contains("Entrance")}, max_read=2000)  # type: ignore[misc]
    filters = [SessionFilter(prop, "contains", "Entrance")]
    assert session_spec({"filters": filters}, max_read=2000).filters[-1] == filters[0]
