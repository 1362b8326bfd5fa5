"""The fast check of a batch answer (msgspec, from the bytes) against the checked one: the
same results for every answer it takes, and it takes none that the checked one refuses or
reads differently."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xprotect_events.accounting import chunk_answered
from xprotect_events.chunks import encode_all
from xprotect_events.echo import echoed
from xprotect_events.errors import ProtocolError
from xprotect_events.models import EventTrigger
from xprotect_events.report import TriggerResult

TYPE = uuid.UUID("481d4d6c-9156-4698-af7e-74b32f9e4359")
CAMERA = "cameras/e028f597-c64b-4f27-bb8d-08f5cd768e1c"
TIME = "2024-05-01T12:00:00.1234567Z"
PATH = "/api/rest/v1/events/batch"


def triggers(n: int = 3, **extra: Any) -> list[EventTrigger]:
    return [EventTrigger(type=TYPE, source=CAMERA, tag=f"t{i}", **extra) for i in range(n)]


def echo(trigger: EventTrigger, i: int = 0, **changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": str(uuid.UUID(int=i + 1)),
        "time": TIME,
        "type": str(trigger.type),
        "source": trigger.source,
        "tag": trigger.tag,
        "datatype": trigger.datatype,
    }
    item.update(changes)
    return {k: v for k, v in item.items() if v is not DROP}


DROP = object()


def results(items: list[TriggerResult]) -> list[tuple[Any, ...]]:
    return [(r.index, r.status, r.answer, r.error) for r in items]


def agree(sent: list[EventTrigger], raw: bytes) -> bool:
    """Whether the fast check took the answer; when it did, the checked path gives the same
    results (and it takes nothing the checked path refuses). The check against what the
    encoder said an echo repeats and the one against the decoded request body agree."""
    encoded = encode_all(list(sent), 1 << 20)
    assert encoded is not None
    payload, echoes = encoded
    indices = range(10, 10 + len(sent))
    fast = echoed(indices, sent, raw, payload, echoes)
    by_body = echoed(indices, sent, raw, payload)
    assert (fast is None) == (by_body is None)
    if fast is not None and by_body is not None:
        assert (fast.ids, fast.times) == (by_body.ids, by_body.times)
    try:
        body = orjson.loads(raw) if raw.strip() else None
        checked = chunk_answered(indices, sent, body, PATH)
    except (ProtocolError, orjson.JSONDecodeError):
        assert fast is None
        return False
    if fast is not None:
        assert (fast.ids, fast.times) == (checked.ids, checked.times)
        assert results(fast.results()) == results(checked.results())
        assert fast.counts() == checked.counts()
    return fast is not None


def answer(items: list[Any]) -> bytes:
    return orjson.dumps({"array": items})


def test_an_answer_of_echoes_takes_the_fast_path() -> None:
    sent = triggers()
    assert agree(sent, answer([echo(t, i) for i, t in enumerate(sent)]))
    times = [echo(t, i, time=f"2024-05-01T12:00:0{i}.0000000Z") for i, t in enumerate(sent)]
    assert agree(sent, answer(times))
    items = orjson.dumps([echo(t, i) for i, t in enumerate(sent)])
    assert agree(sent, b' {"_links": {}, "array": ' + items + b"}")
    # the same id thrice: one event for three triggers, refused by both paths (was kept)
    assert not agree(sent, answer([echo(t, 0) for t in sent]))
    nulls = [EventTrigger(type=TYPE) for _ in range(2)]
    assert agree(nulls, answer([echo(t, i) for i, t in enumerate(nulls)]))
    timed = triggers(time=datetime(2024, 5, 1, tzinfo=UTC))
    assert agree(timed, answer([echo(t, i) for i, t in enumerate(timed)]))


@pytest.mark.parametrize(
    "change",
    [
        {"tag": "other"},
        {"tag": DROP},
        {"source": None},
        {"datatype": "x"},
        {"type": str(TYPE).upper()},
        {"id": "short"},
        {"id": 5},
        {"time": "2024-05-01T12:00:00Z"},
        {"extra": 1},
        {"data": {"a": 1}},
    ],
)
def test_any_other_item_goes_to_the_checked_path(change: dict[str, Any]) -> None:
    sent = triggers()
    items = [echo(t, i) for i, t in enumerate(sent)]
    items[1] = echo(sent[1], 1, **change)
    assert not agree(sent, answer(items))


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"null",
        b"[]",
        b'{"array": null}',
        b'{"array": []}',
        b'{"array": [1, 2, 3]}',
        b'{"array": [{"error": {"httpCode": 400, "details": []}}]}',
        b'{"array": [',
        b"\xef\xbb\xbf{}",
    ],
)
def test_malformed_or_short_answers_go_to_the_checked_path(raw: bytes) -> None:
    assert not agree(triggers(), raw)


def test_a_trigger_with_data_goes_to_the_checked_path() -> None:
    sent = triggers(data={"a": 1})
    assert not agree(sent, answer([echo(t, data={"a": 1}) for t in sent]))


def test_the_wrong_number_of_items_goes_to_the_checked_path() -> None:
    sent = triggers()
    assert not agree(sent, answer([echo(t) for t in sent][:2]))
    assert not agree(sent, answer([echo(t) for t in sent] * 2))


def test_duplicate_keys_are_read_alike() -> None:
    sent = triggers(1)
    raw = answer([echo(sent[0])])[:-3] + b',"id":"' + str(uuid.UUID(int=9)).encode() + b'"}]}'
    assert agree(sent, raw)


_TEXT = st.one_of(st.none(), st.sampled_from(["t0", "t1", "", "é", "x" * 36]), st.text(max_size=4))
_VALUE = st.one_of(
    _TEXT, st.integers(-(2**63), 2**63 - 1), st.booleans(), st.lists(st.none(), max_size=1)
)
_KEYS = ["id", "time", "type", "source", "tag", "datatype", "data", "error", "x"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.dictionaries(st.sampled_from(_KEYS), _VALUE, max_size=3), min_size=3, max_size=3),
    st.lists(st.booleans(), min_size=3, max_size=3),
)
def test_mutated_answers_agree(changes: list[dict[str, Any]], keep: list[bool]) -> None:
    sent = triggers()
    items = [
        echo(t, i) if k else echo(t, i, **c)
        for i, (t, c, k) in enumerate(zip(sent, changes, keep, strict=True))
    ]
    agree(sent, answer(items))
