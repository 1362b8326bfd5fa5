"""What a fresh simulator knows: users, service clients, cameras and event types (plain data).

Seeded defaults (every GUID is fixed, so tests can name them):

=====================  ==============================================================
basic users            ``admin`` / ``admin`` (all sources);
                       ``operator`` / ``operator`` (only cameras 1 and 2)
Windows user           ``CONTOSO\\winuser`` / ``winuser`` (NTLM, also as ``winuser@contoso``;
                       only cameras 1 and 2; a user token like a basic user's)
service client         ``service`` / ``service-secret`` (client credentials grant)
cameras                :data:`CAMERA_IDS`: "Camera 1 - Main Entrance", "Camera 2 - Parking",
                       "Camera 3 - Server Room", "Camera 4 - Loading Dock"
user-defined events    :data:`USER_DEFINED_EVENT` "Door Forced Open";
(``External``)         :data:`UNSTORED_EVENT` "Doorbell Pressed" (retention 0: triggered,
                       never stored); built in, as on every real server [sample]:
                       :data:`REQUEST_PLAY_AUDIO`, :data:`REQUEST_START_RECORDING`,
                       :data:`REQUEST_STOP_RECORDING`
analytics events       :data:`ANALYTICS_EVENT` "Person Detected",
(``MIPDevice``/        :data:`LICENSE_PLATE_EVENT` "License Plate Recognized",
``AnalyticsEvent``)    :data:`SHORT_RETENTION_EVENT` "Loitering Detected" (kept 60 s)
generic event          :data:`GENERIC_EVENT` "Generic Event" (``MIPDevice``/``Generic``:
                       service tokens only [seed])
motion events          :data:`MOTION_STARTED`, :data:`MOTION_STOPPED` with the real ids
(``RecorderPlugin``)   [sample]; service tokens only [seed]
recording events       :data:`RECORDING_STARTED`, :data:`RECORDING_STOPPED` (real ids, state
                       group "Recording" [sample]); service tokens only [seed]
=====================  ==============================================================

Retention (seconds an event is kept, per event type) is not published; here ``None`` means
forever, ``0`` accepted but never stored, ``N`` deleted once ``now - event.time > N``
[profile].
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import attrs

from ..models import EventType
from ..wire import format_time

#: The fixed GUIDs of the four seeded cameras, in order.
CAMERA_IDS: tuple[uuid.UUID, ...] = (
    uuid.UUID("c13f6958-8bc5-4390-b1d7-4b4f9d661563"),
    uuid.UUID("5e38c054-4426-4c86-914b-be853dfa3e97"),
    uuid.UUID("7d68b027-1299-4e39-bf29-fd39ae9d365f"),
    uuid.UUID("c49e810a-7413-4e1f-94c7-597acc20ffc6"),
)
CAMERA_NAMES: tuple[str, ...] = (
    "Camera 1 - Main Entrance",
    "Camera 2 - Parking",
    "Camera 3 - Server Room",
    "Camera 4 - Loading Dock",
)

USER_DEFINED_EVENT = uuid.UUID("143ff6c1-1c44-4af0-bd88-5bf2722d484c")
UNSTORED_EVENT = uuid.UUID("546ebb16-280e-4395-9192-4fb611e32e1f")
REQUEST_PLAY_AUDIO = uuid.UUID("7605f8b0-7f5f-4432-b223-0bb2dc3f1f5c")
REQUEST_START_RECORDING = uuid.UUID("85867627-b287-4439-9e55-a63701e1715b")
REQUEST_STOP_RECORDING = uuid.UUID("77b1e70d-ba8d-4bb8-9ee8-43b09746d82a")
ANALYTICS_EVENT = uuid.UUID("afbbf1ed-2068-40fa-97a3-7225149024c6")
LICENSE_PLATE_EVENT = uuid.UUID("52cd6e28-a844-4c0f-a29e-edad85b5275c")
SHORT_RETENTION_EVENT = uuid.UUID("f0825f8d-5515-4319-8782-f8271e88a97d")
GENERIC_EVENT = uuid.UUID("363cf9bc-30d1-433b-b4a1-cf352c47d9e4")
MOTION_STARTED = uuid.UUID("6eb95dd6-7ccc-4bce-99f8-af0d0b582d77")
MOTION_STOPPED = uuid.UUID("6f55a7a7-d21c-4629-ac18-af1975e395a2")
RECORDING_STARTED = uuid.UUID("4577f552-765a-438c-bc7d-e5ff1f754bc3")
RECORDING_STOPPED = uuid.UUID("79a94f89-92de-4fca-8a43-5561d407423d")

#: Seconds :data:`SHORT_RETENTION_EVENT` events are kept.
SHORT_RETENTION_SECONDS = 60.0

ADMIN_USER = "admin"
OPERATOR_USER = "operator"
WINDOWS_USER = "CONTOSO\\winuser"
WINDOWS_PASSWORD = "winuser"
SERVICE_CLIENT_ID = "service"
SERVICE_CLIENT_SECRET = "service-secret"

#: The time every seeded item says it was last modified.
SEED_TIME = datetime(2024, 1, 1, tzinfo=UTC)

_GROUP_USER_DEFINED = "9e2cdb5a-5b8e-4c3c-9b7f-0d8f0c6c2a11"
_GROUP_ANALYTICS = "a96692c8-51b1-4f87-b12c-0d3d9cbfc5a4"
_GROUP_GENERIC = "5c3d0d5e-0bd5-4d8d-8d3c-6f4b8c1f2e22"
_GROUP_DEVICE_PREDEFINED = "1ae79228-ad07-4e56-be43-5ebf9b7c54a5"  # [sample]
_MOTION_GENERATOR = "F020C881-72BF-4014-8504-2B4A5A658F1A"  # [sample]
_MOTION_STATE_GROUP = "720ef62a-78be-418a-8e4c-ee04ffca6429"  # [sample]

Sources = Literal["all"] | frozenset[uuid.UUID]


def _to_sources(value: Literal["all"] | Iterable[uuid.UUID]) -> Sources:
    if value == "all":
        return "all"
    if isinstance(value, str):
        raise ValueError(f"sources must be 'all' or an iterable of camera GUIDs, got {value!r}")
    return frozenset(uuid.UUID(str(v)) for v in value)


@attrs.frozen
class SimUser:
    """A user the identity provider knows. The password never shows in a repr.

    ``sources`` is ``"all"`` or the camera GUIDs the user may see. ``locked_out`` and
    ``change_password`` make a correct password grant fail with ``LockedOut`` or
    ``ChangePassword`` [sample]. ``windows`` users authenticate with NTLM, not passwords.
    """

    username: str
    password: str = attrs.field(repr=False)
    sources: Sources = attrs.field(default="all", converter=_to_sources, kw_only=True)
    locked_out: bool = attrs.field(default=False, kw_only=True)
    change_password: bool = attrs.field(default=False, kw_only=True)
    windows: bool = attrs.field(default=False, kw_only=True)


@attrs.frozen
class SimCamera:
    """A camera of the Configuration API.

    Who sees it: users with ``sources="all"``, users whose ``sources`` list it, and
    ``visible_to``: ``"all"`` (every user), or a set of usernames; None adds nobody.
    """

    id: uuid.UUID
    name: str
    enabled: bool = True
    visible_to: frozenset[str] | Literal["all"] | None = None

    @property
    def source(self) -> str:
        """The camera as an event source: ``cameras/<guid>``."""
        return f"cameras/{self.id}"

    def to_wire(self) -> dict[str, Any]:
        """A ``/cameras`` item (the fields a client needs) [profile]."""
        return {
            "displayName": self.name,
            "enabled": self.enabled,
            "id": str(self.id),
            "name": self.name,
            "description": "",
            "lastModified": format_time(SEED_TIME),
            "relations": {"self": {"type": "cameras", "id": str(self.id)}},
        }


@attrs.frozen(kw_only=True)
class SimEventType:
    """An event type: its ``/eventTypes`` fields [sample] and its retention [profile]."""

    id: uuid.UUID
    name: str
    display_name: str | None = None
    generator_type: str = "External"
    generator_subtype: str | None = None
    generator_name: str = ""
    generator_id: str = ""
    generator_group_name: str = ""
    generator_group_id: str = ""
    description: str = ""
    retention: float | None = None
    built_in: bool = False
    occurs_globally: bool = False
    counter_event_id: str = ""
    state_group_id: str = ""
    state: str = ""
    source_array: tuple[str, ...] = ("Camera", "CameraGroup")
    last_modified: datetime = SEED_TIME

    @property
    def is_user_defined(self) -> bool:
        """User-defined events have generatorType ``External`` [seed]."""
        return self.generator_type == "External"

    @property
    def user_may_trigger(self) -> bool:
        """The rule of :attr:`xprotect_events.models.EventType.user_may_trigger` [seed]."""
        return EventType(
            id=self.id,
            name=self.name,
            generator_type=self.generator_type,
            generator_subtype=self.generator_subtype,
        ).user_may_trigger

    def _item_head(self) -> dict[str, Any]:
        """The fields that ``/eventTypes`` and ``/userDefinedEvents`` items begin with."""
        return {
            "displayName": self.display_name or self.name,
            "id": str(self.id),
            "name": self.name,
            "lastModified": format_time(self.last_modified),
        }

    def to_wire(self) -> dict[str, Any]:
        """An ``/eventTypes`` item, shaped like the real sample [sample]."""
        return {
            **self._item_head(),
            "description": self.description,
            "generatorType": self.generator_type,
            "generatorSubtype": self.generator_subtype or "",
            "generatorName": self.generator_name,
            "generatorID": self.generator_id,
            "generatorGroupName": self.generator_group_name,
            "generatorGroupId": self.generator_group_id,
            "occursGlobally": self.occurs_globally,
            "builtIn": self.built_in,
            "counterEventID": self.counter_event_id,
            "sourceArray": list(self.source_array),
            "sourceFilterArray": ["" for _ in self.source_array],
            "stateGroupId": self.state_group_id,
            "state": self.state,
            "relations": {
                "parent": {"type": "eventTypeGroups", "id": self.generator_group_id},
                "self": {"type": "eventTypes", "id": str(self.id)},
            },
        }

    def to_user_defined_wire(self) -> dict[str, Any]:
        """A ``/userDefinedEvents`` item, shaped like the real sample [sample]."""
        return {
            **self._item_head(),
            "createdDate": "0001-01-01T00:00:00.0000000",
            "subtype": "System" if self.built_in else "UserDefined",
            "relations": {"self": {"type": "userDefinedEvents", "id": str(self.id)}},
        }


@attrs.frozen
class SimStateGroup:
    """A ``/stateGroups`` item: the states a stateful event type's events move between.
    ``initial`` is the event type whose state every camera is in before any event says
    otherwise (``getState`` of the WebSocket API; None: no initial state) [profile]."""

    id: uuid.UUID
    name: str
    states: tuple[str, ...]
    initial: uuid.UUID | None = None

    def initial_state(self, camera: uuid.UUID) -> dict[str, Any] | None:
        """A camera's state before any stateful event: a synthetic event [profile]."""
        if self.initial is None:
            return None
        return {
            "id": str(uuid.uuid5(_INITIAL_IDS, f"{camera}/{self.id}")),
            "time": format_time(SEED_TIME),
            "type": str(self.initial),
            "source": f"cameras/{camera}",
            "datatype": None,
            "stategroupid": str(self.id),
            "specVersion": "1.0",  # getState rows carry it [3p]
        }

    def to_wire(self) -> dict[str, Any]:
        """Shaped like the real sample [sample]."""
        return {
            "displayName": self.name,
            "name": self.name,
            "lastModified": format_time(SEED_TIME),
            "states": list(self.states),
            "relations": {"self": {"type": "stateGroups", "id": str(self.id)}},
        }


MOTION_STATE_GROUP = uuid.UUID(_MOTION_STATE_GROUP)
#: Synthetic initial-state events get stable ids from this namespace [profile].
_INITIAL_IDS = uuid.UUID("0f7c1a52-77b1-4e5f-9d0e-3c0c4b8e2d91")
CPU_STATE_GROUP = uuid.UUID("8c958201-aa02-40cf-a643-fa7f91d0bed2")  # [sample]
RECORDING_STATE_GROUP = uuid.UUID("b3e7f2a4-5c1d-4e8f-9a6b-2d4c8e1f7a93")  # [profile]


def default_state_groups() -> list[SimStateGroup]:
    """The names and states real state viewers show [sample: the screenshots of the
    Python and MIP SDK samples]: "Motion detected" ("Motion", "No Motion"), "Recording"
    ("Recording"; "Not recording" [profile]); "CPU usage" [sample]. Before any event a
    camera is in "No Motion" and "Recording" (as in both screenshots) [profile]."""
    motion_states = ("Motion", "No Motion")
    return [
        SimStateGroup(MOTION_STATE_GROUP, "Motion detected", motion_states, MOTION_STOPPED),
        SimStateGroup(
            RECORDING_STATE_GROUP, "Recording", ("Recording", "Not recording"), RECORDING_STARTED
        ),
        SimStateGroup(CPU_STATE_GROUP, "CPU usage", ("Normal", "Warning", "Critical", "Undefined")),
    ]


def user_defined(
    id: uuid.UUID, name: str, *, retention: float | None = None, built_in: bool = False
) -> SimEventType:
    """A user-defined event type (``External``)."""
    return SimEventType(
        id=id,
        name=name,
        generator_type="External",
        generator_subtype="System" if built_in else "UserDefined",
        generator_name="User-defined Event",
        generator_group_name="User-defined Events",
        generator_group_id=_GROUP_USER_DEFINED,
        retention=retention,
        built_in=built_in,
        occurs_globally=True,
        source_array=(),
    )


def analytics(
    id: uuid.UUID, name: str, *, subtype: str = "AnalyticsEvent", retention: float | None = None
) -> SimEventType:
    """An analytics (``MIPDevice``) event type; ``subtype="Generic"`` makes a generic event."""
    generic = subtype == "Generic"
    return SimEventType(
        id=id,
        name=name,
        generator_type="MIPDevice",
        generator_subtype=subtype,
        generator_name="Generic Events" if generic else "Analytics Events",
        generator_group_name="Generic Events" if generic else "Analytics Events",
        generator_group_id=_GROUP_GENERIC if generic else _GROUP_ANALYTICS,
        retention=retention,
    )


def motion(id: uuid.UUID, name: str, display: str, counter: uuid.UUID, state: str) -> SimEventType:
    """A built-in motion event type, as in the real ``/eventTypes`` sample [sample]."""
    return SimEventType(
        id=id,
        name=name,
        display_name=display,
        generator_type="RecorderPlugin",
        generator_subtype="Server",
        generator_name="Motion Detection Plugin",
        generator_id=_MOTION_GENERATOR,
        generator_group_name="Analytics Events",
        generator_group_id=_GROUP_DEVICE_PREDEFINED,
        counter_event_id=str(counter),
        state_group_id=_MOTION_STATE_GROUP,
        state=state,
    )


def recording(id: uuid.UUID, started: bool) -> SimEventType:
    """A built-in recording event type: ids, names, state "Recording" [sample]; the rest
    [profile] (not ``External``/``MIPDevice``: service tokens only [seed])."""
    word, counter = ("Started", RECORDING_STOPPED) if started else ("Stopped", RECORDING_STARTED)
    return SimEventType(
        id=id,
        name=f"Recording{word}",
        display_name=f"Recording {word}",
        generator_type="System",
        generator_subtype="Server",
        generator_name="Recording Server",
        generator_group_name="Device - Predefined",
        generator_group_id=_GROUP_DEVICE_PREDEFINED,
        counter_event_id=str(counter),
        state_group_id=str(RECORDING_STATE_GROUP),
        state="Recording" if started else "Not recording",
    )


def default_cameras() -> list[SimCamera]:
    """The four seeded cameras."""
    return [SimCamera(id=i, name=n) for i, n in zip(CAMERA_IDS, CAMERA_NAMES, strict=True)]


def default_event_types() -> list[SimEventType]:
    """The seeded event types (see the module docstring)."""
    return [
        user_defined(USER_DEFINED_EVENT, "Door Forced Open"),
        user_defined(UNSTORED_EVENT, "Doorbell Pressed", retention=0),
        user_defined(REQUEST_PLAY_AUDIO, "RequestPlayAudio", built_in=True),
        user_defined(REQUEST_START_RECORDING, "RequestStartRecording", built_in=True),
        user_defined(REQUEST_STOP_RECORDING, "RequestStopRecording", built_in=True),
        analytics(ANALYTICS_EVENT, "Person Detected"),
        analytics(LICENSE_PLATE_EVENT, "License Plate Recognized"),
        analytics(SHORT_RETENTION_EVENT, "Loitering Detected", retention=SHORT_RETENTION_SECONDS),
        analytics(GENERIC_EVENT, "Generic Event", subtype="Generic"),
        motion(MOTION_STARTED, "MotionStarted", "Motion Started", MOTION_STOPPED, "Motion"),
        motion(MOTION_STOPPED, "MotionStopped", "Motion Stopped", MOTION_STARTED, "No Motion"),
        recording(RECORDING_STARTED, started=True),
        recording(RECORDING_STOPPED, started=False),
    ]


def default_users() -> list[SimUser]:
    """``admin`` (all sources), ``operator`` and the Windows user (cameras 1 and 2)."""
    return [
        SimUser(ADMIN_USER, "admin"),
        SimUser(OPERATOR_USER, "operator", sources=CAMERA_IDS[:2]),
        SimUser(WINDOWS_USER, WINDOWS_PASSWORD, sources=CAMERA_IDS[:2], windows=True),
    ]


def default_service_clients() -> Mapping[str, str]:
    """``{"service": "service-secret"}``."""
    return {SERVICE_CLIENT_ID: SERVICE_CLIENT_SECRET}
