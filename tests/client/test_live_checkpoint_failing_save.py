"""A checkpoint store whose save fails, then recovers, under a live stream against the
simulator: the failure reaches the consumer as a CheckpointError at its next item, and the
stream goes on (as an event session's does), also when the failure is found by the
connection loop, at a new session's start, rather than by the consumer."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers import next_event, service_client_of, wait_until
from xprotect_events import (
    CheckpointError,
    EventTrigger,
    LivePosition,
    MemoryCheckpoint,
    Position,
    XProtectClient,
)
from xprotect_events.testing import ANALYTICS_EVENT, CAMERA_IDS, Simulator

CAMERA = f"cameras/{CAMERA_IDS[0]}"


class FailingStore(MemoryCheckpoint):
    """Its saves raise while ``failing`` is set (counted in ``failed``)."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = False
        self.failed = 0

    def save(self, position: Position) -> None:
        if self.failing:
            self.failed += 1
            raise OSError("the disk is full")
        super().save(position)


async def test_a_save_failed_when_a_new_session_starts_is_the_consumers_error_not_the_end(
    sim: Simulator,
) -> None:
    """The first session's save fails; the connection drops and the resume is refused, so
    a new session starts and the loop asks for a save again, meeting the failure. It ended
    the stream with that error; now the consumer meets it where it asks for an item (at the
    next save), and the stream delivers on."""
    store = FailingStore()
    store.failing = True
    async with service_client_of(sim) as client:
        live = client.subscribe(
            types=[ANALYTICS_EVENT], checkpoint=store, checkpoint_interval=0, stored_types="all"
        )
        async with live:
            await wait_until(lambda: store.failed == 1, "the new session's save failed")
            first = live.session_id
            sim.live.refuse_resumes = True
            sim.live.drop_connections()
            await wait_until(lambda: live.session_id != first, "a new session started")
            store.failing = False
            after = await trigger(client, "after")
            assert (await next_event(live)).id == after  # (nothing processed yet: no save)
            later = await trigger(client, "later")
            with pytest.raises(CheckpointError, match="disk is full"):
                await next_event(live)  # "after" processed: its save meets the failure
            assert (await next_event(live)).id == later  # the stream went on
    position = store.load()
    assert isinstance(position, LivePosition)
    assert position.event_id == later


async def trigger(client: XProtectClient, tag: str) -> uuid.UUID:
    return (
        await client.trigger_event(EventTrigger(type=ANALYTICS_EVENT, source=CAMERA, tag=tag))
    ).id
