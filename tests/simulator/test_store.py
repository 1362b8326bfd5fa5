"""The simulator's pure store: wire form, indexes and paging against brute force, sessions."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from xprotect_events.testing import seed
from xprotect_events.testing.clock import to_us
from xprotect_events.testing.directory import Directory, Identity
from xprotect_events.testing.query import LIST_OPERATORS, SESSION_OPERATORS, Query, check_cond
from xprotect_events.testing.records import Guids, Record
from xprotect_events.testing.sessions import SessionTable
from xprotect_events.testing.store import EventStore
from xprotect_events.testing.triggers import validate_trigger
from xprotect_events.wire import event_to_wire

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
NOW_US = to_us(T0 + timedelta(days=1))
CAM = [f"cameras/{c}" for c in seed.CAMERA_IDS]


def make_store() -> EventStore:
    directory = Directory(
        seed.default_users(),
        seed.default_service_clients(),
        seed.default_cameras(),
        seed.default_event_types(),
    )
    return EventStore(directory, seed=3)


def random_events(rng: random.Random, n: int) -> list[dict[str, Any]]:
    types = [seed.ANALYTICS_EVENT, seed.LICENSE_PLATE_EVENT, seed.USER_DEFINED_EVENT]
    sources: list[str | None] = [*CAM, None, "cameras/00000000-0000-4000-8000-000000000001"]
    return [
        {
            "type": rng.choice(types),
            "source": rng.choice(sources),
            "time": T0 + timedelta(seconds=rng.randrange(200)),
            "tag": f"e{i}",
        }
        for i in range(n)
    ]


def all_records(store: EventStore) -> list[Record]:
    return sorted(store.by_id.values(), key=lambda r: r.key)


def test_to_wire_matches_the_core_converter() -> None:
    store = make_store()
    store.bulk(
        [
            {"type": seed.ANALYTICS_EVENT, "source": CAM[0], "time": T0, "data": {"a": [1]}},
            {"type": seed.USER_DEFINED_EVENT, "time": "2024-05-01T12:00:00.1234567Z"},
            {"type": seed.ANALYTICS_EVENT, "time": "2024-05-01T14:00:00.5+02:00", "tag": "t"},
        ],
        NOW_US,
    )
    for rec in store.by_id.values():
        event = rec.to_event()
        assert orjson.loads(orjson.dumps(rec.to_wire(True))) == event_to_wire(event)
        assert "data" not in rec.to_wire(False)


def test_indexes_stay_sorted_through_bulk_and_single_inserts() -> None:
    rng = random.Random(1)
    store = make_store()
    store.bulk(random_events(rng, 500), NOW_US)
    for body in random_events(rng, 50):
        body = {**body, "time": body["time"].isoformat(), "type": str(body["type"])}
        body["datatype"] = None
        if body["source"] not in CAM:
            body["source"] = None
        rec = validate_trigger(body, Identity("service", service=True), store.directory, NOW_US)
        store.admit(rec, NOW_US)
    for index in store.indexes():
        assert index.keys == sorted(index.keys)
        assert [r.key for r in index.recs] == index.keys
    assert len(store.all) == 550


@pytest.mark.parametrize("seed_value", range(6))
def test_paging_matches_brute_force(seed_value: int) -> None:
    rng = random.Random(seed_value)
    store = make_store()
    store.bulk(random_events(rng, 400), NOW_US)
    filters = [
        [],
        [("source.id", "oneOf", (CAM[0], str(seed.CAMERA_IDS[2])))],
        [("source.name", "contains", "a"), ("time", "gt", "2024-05-01T12:00:50Z")],
        [("source.id", "notEquals", CAM[1]), ("time", "lt", "2024-05-01T12:02:00Z")],
    ]
    who = rng.choice([Identity("service", True), Identity("admin"), Identity("operator")])
    visible = store.directory.visible(who)
    for raw in filters:
        conds = [check_cond(p, o, v, LIST_OPERATORS) for p, o, v in raw]
        query = Query(conds, store.directory, visible)
        expected = [r for r in all_records(store) if query.match(r)]
        for desc in (False, True):
            want = expected[::-1] if desc else expected
            size = rng.randint(1, 60)
            got: list[Record] = []
            page = 0
            while True:
                records, more = store.page(query, desc, page, size)
                got += records
                page += 1
                if not more:
                    break
            assert [r.id for r in got] == [r.id for r in want]


def test_retention_sweep_small_and_large() -> None:
    store = make_store()
    short = seed.SHORT_RETENTION_EVENT
    store.bulk(({"type": short, "time": T0 + timedelta(seconds=i)} for i in range(300)), NOW_US)
    store.bulk(({"type": seed.ANALYTICS_EVENT, "time": T0} for i in range(5)), NOW_US)
    assert len(store.by_id) == 5  # already past their retention when stored
    now = to_us(T0)
    store.bulk(({"type": short, "time": T0 + timedelta(seconds=i)} for i in range(300)), now)
    assert store.sweep(now + 61_000_000) == 1  # t=0 expires (now - t > 60 s): one by one
    assert store.sweep(now + 200_000_000) == 139  # t=1..139: a bulk purge
    for index in store.indexes():
        assert all(not r.deleted for r in index.recs)
    assert len(store.by_id) == 5 + 300 - 140


def test_session_model_against_a_reference() -> None:
    rng = random.Random(11)
    store = make_store()
    now = to_us(T0)
    store.bulk(random_events(rng, 100), now)
    conds = [check_cond("type", "notEquals", str(seed.USER_DEFINED_EVENT), SESSION_OPERATORS)]
    query = Query(conds, store.directory, store.directory.visible(Identity("operator")))
    sessions = SessionTable(store)
    session = sessions.create("user:operator", query, rng.random() < 0.5, {}, now)
    returned: set[str] = set()
    deleted_seen: set[str] = set()
    for _step in range(60):
        if rng.random() < 0.5:
            event_type = rng.choice([seed.ANALYTICS_EVENT, seed.SHORT_RETENTION_EVENT])
            when = T0 + timedelta(seconds=rng.uniform(-30, 300))
            store.bulk([{"type": event_type, "source": rng.choice(CAM), "time": when}], now)
        now += rng.randrange(0, 20_000_000)
        store.sweep(now)
        new, deleted = sessions.read(session, rng.randint(1, 8), now)
        for rec in new:
            assert rec.id not in returned, "an event came twice"
            assert query.match(rec)
            returned.add(rec.id)
        for rec in deleted:
            assert rec.id in returned
            assert rec.id not in deleted_seen
            deleted_seen.add(rec.id)
    while True:
        new, _ = sessions.read(session, 50, now)
        if not new:
            break
        returned.update(r.id for r in new)
    live = {r.id for r in store.by_id.values() if query.match(r)}
    assert deleted_seen
    assert len(returned) > 40
    assert live <= returned
    assert not (live & deleted_seen)


def test_listeners_hear_every_event_stored_and_deleted() -> None:
    store = make_store()
    stored: list[str] = []
    deleted: list[str] = []
    store.on_stored.append(lambda recs: stored.extend(r.id for r in recs))
    store.on_deleted.append(lambda recs: deleted.extend(r.id for r in recs))
    now = to_us(T0)
    short = seed.SHORT_RETENTION_EVENT
    store.bulk(({"type": short, "time": T0 + timedelta(seconds=i)} for i in range(3)), now)
    body = {"type": str(seed.ANALYTICS_EVENT), "datatype": None, "source": CAM[0]}
    rec = validate_trigger(body, Identity("service", service=True), store.directory, now)
    assert store.admit(rec, now)
    unstored = {"type": str(seed.UNSTORED_EVENT), "datatype": None}
    kept_out = validate_trigger(unstored, Identity("service", service=True), store.directory, now)
    assert not store.admit(kept_out, now)
    assert len(stored) == 4
    assert set(stored) == {r.id for r in all_records(store)}
    assert store.sweep(now + 62_000_000) == 2
    assert len(deleted) == 2
    assert set(deleted) | {r.id for r in all_records(store)} == set(stored)


@pytest.mark.parametrize("count", [0, 1, 100])
def test_a_batch_of_ids_is_random_version_4_guids(count: int) -> None:
    """``Guids``: each text is the canonical form of its int, a version-4 GUID, all distinct,
    and the same seed gives the same ids."""
    ids = Guids(random.Random(7), count)
    assert len(ids.texts) == count
    for i, text in enumerate(ids.texts):
        value = uuid.UUID(text)
        assert str(value) == text
        assert (value.version, value.variant) == (4, uuid.RFC_4122)
        assert ids.uid(i) == value.int
    assert len(set(ids.texts)) == count
    assert Guids(random.Random(7), count).texts == ids.texts
    if count > 1:  # every random bit (not the version's or variant's) takes both values
        fixed = 0xF << 76 | 0xC << 60
        for shift in (s for s in range(128) if not fixed >> s & 1):
            assert {ids.uid(i) >> shift & 1 for i in range(count)} == {0, 1}, shift
