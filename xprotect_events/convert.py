"""The cattrs converter: wire objects to the Configuration API's attrs classes and back.

``structure(value, EventType)`` turns a camelCase JSON object into the class (unknown
fields kept in ``extra``), strictly: any mismatch is a :class:`ProtocolError`. Events and
triggers go through :mod:`.wire`'s hand-written fast codecs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from . import wire
from .errors import ProtocolError
from .models import Camera, Event, EventTrigger, EventType

T = TypeVar("T")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# Wire names that do not follow plain camelCase (seen in real /eventTypes answers).
_IRREGULAR = {"generator_id": "generatorID", "counter_event_id": "counterEventID"}


def _wire_name(name: str) -> str:
    return _IRREGULAR.get(name, _camel(name))


def _exactly(kind: type[T]) -> Callable[[Any, Any], T]:
    """A strict hook: cattrs would turn ``["x"]`` into ``"['x']"`` and ``"false"`` into True."""

    def hook(value: Any, _: Any) -> T:
        if isinstance(value, kind):
            return value
        raise ProtocolError(f"expected {kind.__name__}, got {type(value).__name__}")

    return hook


def _str_tuple(value: Any, _: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProtocolError(f"expected an array of strings, got {value!r}")
    return tuple(value)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_structure_hook(str, _exactly(str))
    conv.register_structure_hook(bool, _exactly(bool))
    conv.register_structure_hook_func(lambda t: t == tuple[str, ...], _str_tuple)
    conv.register_structure_hook(uuid.UUID, lambda v, _: wire.guid_from_wire(v, "id"))
    conv.register_unstructure_hook(uuid.UUID, str)
    conv.register_structure_hook(datetime, lambda v, _: wire.parse_time(v))
    conv.register_unstructure_hook(datetime, wire.format_time)
    conv.register_structure_hook(Event, lambda v, _: wire.event_from_wire(v))
    conv.register_unstructure_hook(Event, wire.event_to_wire)
    conv.register_unstructure_hook(EventTrigger, wire.trigger_to_wire)
    for cls in (EventType, Camera):
        conv.register_structure_hook(cls, _structure_keeping_extra(conv, cls))
    return conv


def _structure_keeping_extra(conv: cattrs.Converter, cls: type[T]) -> Callable[[Any, Any], T]:
    fields = [f for f in attrs.fields(cls) if f.name != "extra"]  # type: ignore[arg-type]
    known = {_wire_name(f.name) for f in fields}
    renames = {f.name: override(rename=_wire_name(f.name)) for f in fields}
    base = make_dict_structure_fn(cls, conv, extra=override(omit=True), **renames)  # type: ignore[arg-type]

    def structure(value: Any, _: Any) -> T:
        if not isinstance(value, dict):
            raise ProtocolError(f"expected a {cls.__name__} object, got {type(value).__name__}")
        obj = base(value, cls)
        extra = {k: v for k, v in value.items() if k not in known}
        return attrs.evolve(obj, extra=extra) if extra else obj  # type: ignore[misc]

    return structure


converter = _make_converter()


def structure(value: Any, cls: type[T]) -> T:
    """Structure a wire value; any mismatch becomes a :class:`ProtocolError`."""
    try:
        return converter.structure(value, cls)
    except ProtocolError:
        raise
    except (cattrs.BaseValidationError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProtocolError(f"unexpected {cls.__name__} shape: {_describe(exc)}") from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        return "; ".join(_describe(e) for e in exc.exceptions[:3])
    return f"{type(exc).__name__}: {exc}"


def array_of(cls: type[T]) -> Callable[[Any], list[T]]:
    """A decoder of ``{"array": [cls…]}``."""
    return lambda body: [structure(item, cls) for item in wire.array_envelope(body)]


def data_of(cls: type[T]) -> Callable[[Any], T]:
    """A decoder of ``{"data": cls}``."""
    return lambda body: structure(wire.data_envelope(body), cls)
