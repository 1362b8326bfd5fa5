"""client.reconcile and trigger_events(reconcile=True) against the simulator (issue 16)."""

from __future__ import annotations

import uuid

import pytest

from xprotect_events import EventTrigger, InvalidInputError, ReconcileError, XProtectClient
from xprotect_events.testing import ANALYTICS_EVENT, CAMERA_IDS, UNSTORED_EVENT, Fault, Simulator

BATCH = "POST /api/rest/v1/events/batch"
CAMERA = f"cameras/{CAMERA_IDS[0]}"


def _tagged(count: int, type_id: uuid.UUID = ANALYTICS_EVENT) -> list[EventTrigger]:
    run = uuid.uuid4().hex[:8]
    return [EventTrigger(type=type_id, source=CAMERA, tag=f"{run}-{i}") for i in range(count)]


async def test_triggers_that_landed_without_an_answer_are_found(
    sim: Simulator, client: XProtectClient
) -> None:
    sim.faults.add(BATCH, Fault.reset_after(), times=1)  # stored, then the connection cut
    report = await client.trigger_events(_tagged(5))
    assert [r.status for r in report.results] == ["unknown"] * 5
    assert all(r.sent_from is not None and r.sent_until is not None for r in report.results)
    settled = await client.reconcile(report.results, settle=0)
    assert [r.status for r in settled] == ["accepted"] * 5
    stored = {e.tag: e.id async for e in client.list_events()}
    for result, trigger in zip(settled, _triggers(report), strict=True):
        assert result.event is not None
        assert result.event.id == stored[trigger.tag]


def _triggers(report: object) -> list[EventTrigger]:
    return [r.trigger for r in report.results]  # type: ignore[attr-defined]


async def test_triggers_that_did_not_land_are_safe_to_resend(
    sim: Simulator, client: XProtectClient
) -> None:
    sim.faults.add(BATCH, Fault.reset_before(), times=1)  # nothing stored
    report = await client.trigger_events(_tagged(3))
    assert report.unknown == 3
    settled = await client.reconcile(report.results, stored_types=[ANALYTICS_EVENT], settle=0)
    assert [r.status for r in settled] == ["rejected"] * 3
    assert all(isinstance(r.error, ReconcileError) for r in settled)
    assert "safe to send again" in (settled[0].reason or "")


async def test_without_stored_types_a_type_counts_as_stored_only_with_evidence(
    sim: Simulator, client: XProtectClient
) -> None:
    sim.faults.add(BATCH, Fault.reset_before(), times=1)
    report = await client.trigger_events(_tagged(2))
    settled = await client.reconcile(report.results, settle=0)
    assert [r.status for r in settled] == ["unknown"] * 2
    assert "pass stored_types" in (settled[0].reason or "")
    # An accepted trigger of the type, stored, is the evidence.
    accepted = await client.trigger_events(_tagged(1))
    settled = await client.reconcile([*accepted.results, *report.results], settle=0)
    assert [r.status for r in settled] == ["accepted", "rejected", "rejected"]


async def test_what_the_store_cannot_tell_stays_unknown_with_the_reason(
    sim: Simulator, client: XProtectClient
) -> None:
    triggers = [
        EventTrigger(type=ANALYTICS_EVENT, source=CAMERA),  # no tag, no time
        EventTrigger(type=UNSTORED_EVENT, source=CAMERA, tag="never-stored"),
    ]
    sim.faults.add(BATCH, Fault.reset_after(), times=1)
    report = await client.trigger_events(triggers)
    settled = await client.reconcile(report.results, stored_types=[ANALYTICS_EVENT], settle=0)
    assert [r.status for r in settled] == ["unknown", "unknown"]
    assert "unique tag" in (settled[0].reason or "")
    assert "not stored" in (settled[1].reason or "")


async def test_trigger_events_reconciles_when_asked(sim: Simulator, client: XProtectClient) -> None:
    sim.faults.add(BATCH, Fault.reset_after(), times=1)
    report = await client.trigger_events(_tagged(4), chunk_size=2, reconcile=True, settle=0)
    assert report.accepted == 4
    assert sim.events_stored == 4


async def test_reconcile_options_are_checked(client: XProtectClient) -> None:
    with pytest.raises(InvalidInputError, match="settle"):
        await client.trigger_events([], reconcile=True, settle=-1)
    with pytest.raises(InvalidInputError, match="stored type"):
        await client.reconcile([], stored_types=["not a guid"])
    with pytest.raises(InvalidInputError, match="trigger_events"):
        client.stream_trigger([], reconcile=True)


@pytest.mark.parametrize("results", [5, [5], ["unknown"], None])
async def test_reconcile_takes_trigger_results_only(
    client: XProtectClient, results: object
) -> None:
    with pytest.raises(InvalidInputError, match=r"results|TriggerResult"):
        await client.reconcile(results)  # type: ignore[arg-type]
