"""Fault flags as text (``serve --fault``): parsed without click, switched on in order."""

from __future__ import annotations

import pytest

from xprotect_events.errors import InvalidInputError
from xprotect_events.testing import Fault, Faults, Simulator
from xprotect_events.testing.faultflags import (
    FAULT_FLAG_HELP,
    FAULT_KINDS_HELP,
    apply_fault_flags,
    parse_fault_flag,
    parse_fault_kind,
)

BATCH = "POST /api/rest/v1/events/batch"


def test_a_flag_is_a_route_its_kinds_and_a_probability() -> None:
    assert parse_fault_flag(f"{BATCH}=truncate,status:429:2@0.5") == (
        BATCH,
        [Fault.truncate(), Fault.status(429, retry_after=2)],
        0.5,
    )
    assert parse_fault_kind("rate_limit") == Fault.rate_limit(1)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("truncate", "is not ROUTE=KIND"),
        ("GET /nowhere=truncate", "unknown route"),
        ("*=truncate@0", r"not in \(0, 1\]"),
        ("*=html:abc", "must be numbers"),
        ("*=delay:inf", "finite"),
        ("*=html:302", "400 to 599"),
        ("*=rate_limit:1:2", "at most 1"),
        ("*=teleport", "unknown fault kind 'teleport'; use one of: reset_before"),
    ],
)
def test_a_bad_flag_is_an_invalid_input_error_that_says_why(text: str, why: str) -> None:
    with pytest.raises(InvalidInputError, match=why):
        parse_fault_flag(text)


def test_the_help_names_every_kind() -> None:
    for kind in FAULT_KINDS_HELP:
        assert kind in FAULT_FLAG_HELP


async def test_applied_flags_inject_in_order_and_say_what_they_do(sim: Simulator) -> None:
    flags = [parse_fault_flag(f"{BATCH}=reset_before"), parse_fault_flag("*=html@0.25")]
    said = apply_fault_flags(sim.faults, flags, seed=7)
    assert said == [
        f"fault: {BATCH}: reset_before on 100% of requests",
        "fault: *: html on 25% of requests",
    ]
    assert sim.faults.pick(BATCH) == Fault.reset_before()


def test_a_route_the_plan_does_not_know_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown route"):
        apply_fault_flags(Faults(["GET /a"]), [("GET /b", [Fault.truncate()], 1.0)])
