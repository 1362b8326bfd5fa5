"""Events in their wire form, and strategies that vary them, for the decoder tests
(fast decoders against the checked one: canonical.py, typed.py, ws_typed.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

TYPE_ID = "481d4d6c-9156-4698-af7e-74b32f9e4359"
EVENT_ID = "7f9a3c1e-2b4d-4e6f-8a0b-1c2d3e4f5a6b"
CAMERA = "cameras/e028f597-c64b-4f27-bb8d-08f5cd768e1c"
#: A value for a key of :func:`wire_event` that leaves the key out.
DROP = object()


def wire_event(**changes: Any) -> dict[str, Any]:
    """An event as servers write it, with ``changes`` (``DROP`` removes a key)."""
    d: dict[str, Any] = {
        "id": EVENT_ID,
        "time": "2024-05-01T12:00:00.1234567Z",
        "type": TYPE_ID,
        "source": CAMERA,
        "tag": "door",
        "datatype": None,
    }
    d.update(changes)
    return {k: v for k, v in d.items() if v is not DROP}


#: Times whose canonical text (``format_time``) is in range whatever the 7th digit.
TIMES = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
#: A string field: null or short text.
TEXT = st.none() | st.text(max_size=8)
_VALUES = st.none() | st.booleans() | st.integers() | st.text(max_size=40) | st.just(EVENT_ID)
#: Up to four keys of an event changed (to odd values, good values or DROP), or added.
CHANGES = st.dictionaries(
    st.sampled_from(["id", "time", "type", "source", "tag", "datatype", "data", "other"]),
    _VALUES | st.sampled_from(["2024-05-01T12:00:00.1234567Z", TYPE_ID, DROP]),
    max_size=4,
)
#: Time texts in many forms: separators, 0 to 12 fraction digits, zones (some not UTC).
TIME_FORMS = st.builds(
    lambda when, sep, digits, zone: (
        when.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + ("." + digits if digits else "") + zone
    ),
    TIMES,
    st.sampled_from(["T", "t", " "]),
    st.text("0123456789", max_size=12),
    st.sampled_from(["Z", "z", "+00:00", "-00:00", "+01:30", "", "+0000"]),
)
