"""``Simulator(...)`` refuses option values it cannot run with, naming the option, before
anything listens (they used to start a server that misbehaved, or fail with an
``OverflowError`` from the socket)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from xprotect_events import InvalidInputError
from xprotect_events.testing import Simulator


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("port", -1),
        ("port", 70000),
        ("port", "8080"),
        ("port", True),
        ("host", ""),
        ("host", "127.0.0.1\n"),
        ("https", "no"),
        ("session_idle_timeout", -1),
        ("session_idle_timeout", 0),
        ("session_idle_timeout", math.inf),
        ("resume_window", -1),
        ("resume_window", math.nan),
        ("resume_window", "30"),
        ("max_batch", 0),
        ("max_batch", 2.5),
        ("max_events", -1),
        ("max_events", 1.5),
        ("access_log", "yes"),
        ("ntlm_at_gateway", 1),
        ("clock", 5),
    ],
)
def test_a_nonsense_option_is_one_clear_error(option: str, value: Any) -> None:
    with pytest.raises(InvalidInputError, match=f"^{option} must be ") as caught:
        Simulator(**{option: value})
    assert "\n" not in str(caught.value)


async def test_sensible_edges_still_run() -> None:
    lines: list[str] = []
    options: dict[str, Any] = {
        "resume_window": 0,
        "session_idle_timeout": 1,
        "max_batch": 1,
        "max_events": 0,
        "access_log": lines.append,
    }
    async with Simulator(**options) as sim:
        assert sim.port > 0
