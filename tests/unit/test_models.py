"""The attrs models: trigger validation, sources, event types, tokens."""

from __future__ import annotations

import pickle
import uuid
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import attrs
import pytest

from xprotect_events.errors import InvalidInputError, XProtectError
from xprotect_events.models import (
    MAX_TAG_LENGTH,
    Camera,
    Event,
    EventTrigger,
    EventType,
    Token,
    make_event,
    source_guid,
    to_uuid,
)

TYPE_ID = "481d4d6c-9156-4698-af7e-74b32f9e4359"
CAMERA_ID = "e028f597-c64b-4f27-bb8d-08f5cd768e1c"
TIME = datetime(2024, 5, 1, 12, tzinfo=UTC)


# ============================================================================ EventTrigger.type


@pytest.mark.parametrize(
    "value",
    [
        TYPE_ID,
        TYPE_ID.upper(),
        uuid.UUID(TYPE_ID),
        "{" + TYPE_ID + "}",
        TYPE_ID.replace("-", ""),
    ],
)
def test_trigger_type_accepts_guid_string_or_uuid(value: Any) -> None:
    trigger = EventTrigger(type=value)
    assert trigger.type == uuid.UUID(TYPE_ID)
    assert isinstance(trigger.type, uuid.UUID)


@pytest.mark.parametrize(
    "value", ["", "not-a-guid", TYPE_ID[:-1], TYPE_ID + "0", 42, None, b"x" * 16, [TYPE_ID]]
)
def test_trigger_type_invalid(value: Any) -> None:
    with pytest.raises(InvalidInputError, match="type"):
        EventTrigger(type=value)
    with pytest.raises(ValueError, match="type"):  # InvalidInputError is also a ValueError
        EventTrigger(type=value)


# ============================================================================ EventTrigger.source


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (CAMERA_ID, CAMERA_ID),
        (uuid.UUID(CAMERA_ID), CAMERA_ID),
        (f"cameras/{CAMERA_ID}", f"cameras/{CAMERA_ID}"),
        (f"userDefinedEvents/{TYPE_ID}", f"userDefinedEvents/{TYPE_ID}"),
    ],
)
def test_trigger_source_accepted(value: Any, expected: str | None) -> None:
    assert EventTrigger(type=TYPE_ID, source=value).source == expected


@pytest.mark.parametrize(
    "value",
    [
        "cameras/not-a-guid",
        f"a/b/{CAMERA_ID}",
        f"/{CAMERA_ID}",  # no resource name before the slash
        f"cam eras/{CAMERA_ID}",
        f"cameras/{CAMERA_ID}/",
        "cameras/",
        "",
        "not-a-guid",
        42,
        1.5,
        [f"cameras/{CAMERA_ID}"],
        {"id": CAMERA_ID},
    ],
    ids=repr,
)
def test_trigger_source_rejected(value: Any) -> None:
    with pytest.raises(InvalidInputError):
        EventTrigger(type=TYPE_ID, source=value)


# ============================================================================ other fields


def test_trigger_time_must_be_aware() -> None:
    with pytest.raises(InvalidInputError, match="naive"):
        EventTrigger(type=TYPE_ID, time=datetime(2024, 5, 1, 12))
    with pytest.raises(InvalidInputError):
        EventTrigger(type=TYPE_ID, time="2024-05-01T12:00:00Z")  # type: ignore[arg-type]
    plus_two = datetime(2024, 5, 1, 14, tzinfo=timezone(timedelta(hours=2)))
    assert EventTrigger(type=TYPE_ID, time=plus_two).time == plus_two
    assert EventTrigger(type=TYPE_ID, time=TIME).time == TIME
    assert EventTrigger(type=TYPE_ID).time is None


def test_trigger_tag_length() -> None:
    longest = "x" * MAX_TAG_LENGTH
    assert EventTrigger(type=TYPE_ID, tag=longest).tag == longest
    assert EventTrigger(type=TYPE_ID, tag="").tag == ""
    with pytest.raises(InvalidInputError, match=str(MAX_TAG_LENGTH)):
        EventTrigger(type=TYPE_ID, tag=longest + "x")


@pytest.mark.parametrize("tag", [1, ["a"], b"tag"])
def test_trigger_tag_must_be_str(tag: Any) -> None:
    with pytest.raises(InvalidInputError):
        EventTrigger(type=TYPE_ID, tag=tag)


@pytest.mark.parametrize("data", [{}, {"description": "x"}, MappingProxyType({"a": 1}), None])
def test_trigger_data_mapping_accepted(data: Any) -> None:
    assert EventTrigger(type=TYPE_ID, data=data).data is data


@pytest.mark.parametrize("data", [[], [("a", 1)], "data", 1, b"{}", {"a"}])
def test_trigger_data_non_mapping_rejected(data: Any) -> None:
    with pytest.raises(InvalidInputError, match="data"):
        EventTrigger(type=TYPE_ID, data=data)


@pytest.mark.parametrize("datatype", [1, True, ["analytics"]])
def test_trigger_datatype_must_be_str(datatype: Any) -> None:
    with pytest.raises(InvalidInputError, match="datatype"):
        EventTrigger(type=TYPE_ID, datatype=datatype)
    assert EventTrigger(type=TYPE_ID, datatype="analytics").datatype == "analytics"


def test_trigger_is_frozen_and_revalidated_by_evolve() -> None:
    trigger = EventTrigger(type=TYPE_ID)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        trigger.tag = "x"  # type: ignore[misc]
    with pytest.raises(InvalidInputError):
        attrs.evolve(trigger, source="cameras/not-a-guid")


def test_trigger_errors_are_xprotect_errors() -> None:
    with pytest.raises(XProtectError):
        EventTrigger(type="nope")


# ============================================================================ sources / ids


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (f"cameras/{CAMERA_ID}", uuid.UUID(CAMERA_ID)),
        (CAMERA_ID, uuid.UUID(CAMERA_ID)),
        (CAMERA_ID.upper(), uuid.UUID(CAMERA_ID)),
        (None, None),
        ("", None),
        ("cameras/junk", None),
        ("junk", None),
    ],
)
def test_event_source_id(source: str | None, expected: uuid.UUID | None) -> None:
    event = Event(id=uuid.uuid4(), time=TIME, type=uuid.UUID(TYPE_ID), source=source)
    assert event.source_id == expected
    assert source_guid(source) == expected


def test_to_uuid() -> None:
    assert to_uuid(TYPE_ID) == uuid.UUID(TYPE_ID)
    value = uuid.UUID(TYPE_ID)
    assert to_uuid(value) is value
    with pytest.raises(InvalidInputError, match="session id"):
        to_uuid("x", "session id")
    with pytest.raises(InvalidInputError):
        to_uuid(None)


def test_camera_source() -> None:
    camera = Camera(id=uuid.UUID(CAMERA_ID), name="Main entry")
    assert camera.source == f"cameras/{CAMERA_ID}"
    assert EventTrigger(type=TYPE_ID, source=camera.source).source == camera.source


# ============================================================================ EventType


@pytest.mark.parametrize(
    ("generator_type", "generator_subtype", "allowed"),
    [
        ("External", None, True),
        ("External", "System", True),
        ("MIPDevice", None, True),
        ("MIPDevice", "Analytics", True),
        ("MIPDevice", "Generic", False),
        ("RecorderPlugin", "Server", False),
        ("RecorderPlugin", None, False),
        ("System", None, False),
        (None, None, False),
        ("external", None, False),
    ],
)
def test_event_type_user_may_trigger(
    generator_type: str | None, generator_subtype: str | None, allowed: bool
) -> None:
    et = EventType(
        id=uuid.UUID(TYPE_ID),
        name="x",
        generator_type=generator_type,
        generator_subtype=generator_subtype,
    )
    assert et.user_may_trigger is allowed


# ============================================================================ Token


def test_token_repr_hides_the_access_token() -> None:
    secret = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"
    token = Token(access_token=secret, expires_in=3600.0, scope="managementserver")
    for text in (repr(token), str(token), f"{token}", repr([token])):
        assert secret not in text
        assert "c2VjcmV0" not in text
    assert "3600" in repr(token)
    assert token.access_token == secret
    assert token.token_type == "Bearer"


def test_event_repr_leaves_extra_out() -> None:
    event = Event(
        id=uuid.UUID(int=1), time=TIME, type=uuid.UUID(TYPE_ID), extra={"stategroupid": "zzz"}
    )
    assert "zzz" not in repr(event)
    assert event.extra == {"stategroupid": "zzz"}


def test_an_event_a_decoder_builds_is_the_event_its_fields_make() -> None:
    fields: dict[str, Any] = {
        "id": uuid.UUID(CAMERA_ID),
        "time": TIME,
        "type": uuid.UUID(TYPE_ID),
        "source": f"cameras/{CAMERA_ID}",
        "tag": "t",
        "datatype": "kind",
        "data": {"a": 1},
        "extra": {"x": 2},
    }
    built = make_event(**fields)
    made = Event(**fields)
    assert type(built) is Event
    assert (built, hash(built), repr(built)) == (made, hash(made), repr(made))
    assert attrs.asdict(built) == fields
    assert pickle.loads(pickle.dumps(built)) == made  # noqa: S301 (our own bytes)
    assert attrs.evolve(built, tag="u") == attrs.evolve(made, tag="u")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.tag = "u"  # type: ignore[misc]
    assert not hasattr(built, "__dict__")
