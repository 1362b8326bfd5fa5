"""What the commands take: times and source filters.

See ``tests/cli/running.py`` for how the console script is run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
import pytest

from tests.cli.running import CAMERA_1
from xprotect_events.cli import id_conditions, name_conditions, parse_when


def test_parse_when_accepts_zones_and_relative_times() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_when("2024-05-01T10:00:00Z") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_when("2024-05-01T12:00:00+02:00") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_when("2024-05-01T10:00:00.1234567Z").microsecond == 123457
    assert parse_when("-1h", now) == now - timedelta(hours=1)
    assert parse_when("15m", now) == now - timedelta(minutes=15)
    assert parse_when("2d", now) == now - timedelta(days=2)
    assert parse_when("now", now) == now


@pytest.mark.parametrize("text", ["2024-05-01T12:00:00", "2024-05-01", "2024-05-01 12:00"])
def test_parse_when_refuses_naive_times_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match="no time zone; add Z"):
        parse_when(text)


@pytest.mark.parametrize("text", ["yesterday", "12", "2024-13-45T99:00:00Z"])
def test_parse_when_refuses_what_is_not_a_time(text: str) -> None:
    with pytest.raises(ValueError, match="not a time"):
        parse_when(text)


def test_name_and_id_conditions_use_the_api_operators() -> None:
    assert [c.encode() for c in name_conditions(["contains:Entrance"])] == ["contains:'Entrance'"]
    assert [c.encode() for c in name_conditions(["A", "B"])] == ["oneOf:('A','B')"]
    assert [c.encode() for c in name_conditions(["Cam: 1"])] == ["equals:'Cam: 1'"]
    assert [c.encode() for c in id_conditions([CAMERA_1])] == [f"equals:'{CAMERA_1}'"]
    assert id_conditions([f"notEquals:{CAMERA_1}"])[0].operator == "notEquals"
    with pytest.raises(click.BadParameter):
        id_conditions(["cameras/not-a-guid"])
