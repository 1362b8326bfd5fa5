"""Stateful event types and state groups of the simulator (plain data).

A stateful event type names a state group (``stateGroupId`` of ``/eventTypes`` [sample]);
the latest stateful event of a source and state group is that source's state there, which
``getState`` answers [sample]. Seeded: the motion group (``Motion`` / ``No Motion``,
the real motion event types and group id [sample]); every camera starts in ``No Motion``
[profile].
"""

from __future__ import annotations

import uuid
from typing import Any

import attrs

from ..wire import format_time
from .seed import MOTION_STOPPED, SEED_TIME

#: The real motion state group [sample].
MOTION_STATE_GROUP = uuid.UUID("720ef62a-78be-418a-8e4c-ee04ffca6429")

#: Synthetic initial-state events get stable ids from this namespace [profile].
_INITIAL_IDS = uuid.UUID("0f7c1a52-77b1-4e5f-9d0e-3c0c4b8e2d91")


@attrs.frozen(kw_only=True)
class SimStateGroup:
    """A state group of ``/stateGroups`` [3p shape]; ``initial`` is the event type whose
    state every camera is in before any event says otherwise."""

    id: uuid.UUID
    name: str
    states: tuple[str, ...]
    initial: uuid.UUID

    def to_wire(self) -> dict[str, Any]:
        return {
            "displayName": self.name,
            "name": self.name,
            "lastModified": format_time(SEED_TIME),
            "states": list(self.states),
            "relations": {"self": {"type": "stateGroups", "id": str(self.id)}},
        }

    def initial_state(self, camera: uuid.UUID) -> dict[str, Any]:
        """A camera's state before any stateful event: a synthetic event [profile]."""
        return {
            "id": str(uuid.uuid5(_INITIAL_IDS, f"{camera}/{self.id}")),
            "time": format_time(SEED_TIME),
            "type": str(self.initial),
            "source": f"cameras/{camera}",
            "datatype": None,
            "stategroupid": str(self.id),
            "specVersion": "1.0",  # getState rows carry it [3p]
        }


def default_state_groups() -> list[SimStateGroup]:
    """The motion group [sample]."""
    return [
        SimStateGroup(
            id=MOTION_STATE_GROUP,
            name="Motion",
            states=("Motion", "No Motion"),
            initial=MOTION_STOPPED,
        )
    ]
