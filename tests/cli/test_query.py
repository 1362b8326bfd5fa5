"""The reading commands: token, types, list and get.

See ``tests/cli/running.py`` for how the console script is run."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from tests.cli.running import (
    CAMERA_1,
    CAMERA_2,
    DOOR,
    MOTION,
    PERSON,
    admin_env,
    clean_env,
    run_cli,
    store,
)
from xprotect_events.cli import EXIT_API, EXIT_OK, EXIT_USAGE
from xprotect_events.client import XProtectClient
from xprotect_events.models import EventTrigger
from xprotect_events.testing import seed
from xprotect_events.testing.simulator import Simulator


async def test_token_shows_type_and_expiry_but_never_the_token(sim: Simulator) -> None:
    table, as_json, shown = await asyncio.gather(
        run_cli("token", env=admin_env(sim)),
        run_cli("token", "--json", env=admin_env(sim)),
        run_cli("token", "--json", "--show-token", env=admin_env(sim)),
    )
    assert table.rc == as_json.rc == shown.rc == EXIT_OK
    assert "Bearer" in table.out
    assert "expires_at" in table.out
    (record,) = as_json.json_lines()
    assert record["kind"] == "user"
    assert record["expires_in"] == 3600
    assert "access_token" not in record
    (with_token,) = shown.json_lines()
    assert with_token["access_token"]
    assert with_token["access_token"] not in table.out + table.err


async def test_token_for_a_service_client_from_flags(sim: Simulator) -> None:
    result = await run_cli(
        "token",
        "--json",
        "--url",
        sim.url,
        "--client-id",
        seed.SERVICE_CLIENT_ID,
        "--client-secret",
        seed.SERVICE_CLIENT_SECRET,
        env=clean_env(),
    )
    assert result.rc == EXIT_OK, result.err
    assert result.json_lines()[0]["kind"] == "service"


async def test_types_say_what_these_credentials_may_trigger(sim: Simulator) -> None:
    as_json, table = await asyncio.gather(
        run_cli("types", "--json", env=admin_env(sim)), run_cli("types", env=admin_env(sim))
    )
    assert as_json.rc == table.rc == EXIT_OK
    may = {t["id"]: t["mayTrigger"] for t in as_json.json_lines()}
    assert may[PERSON] is True
    assert may[DOOR] is True
    assert may[MOTION] is False
    assert may[str(seed.GENERIC_EVENT)] is False
    assert "Person Detected" in table.out


async def test_list_filters_by_source_name_and_time_as_json_lines(sim: Simulator) -> None:
    now = datetime.now(UTC)
    old = now - timedelta(hours=2)
    store(
        sim,
        EventTrigger(type=PERSON, source=CAMERA_1, time=old, tag="old-entrance"),
        EventTrigger(type=PERSON, source=CAMERA_1, time=now - timedelta(minutes=5), tag="new-1"),
        EventTrigger(type=DOOR, source=CAMERA_1, time=now - timedelta(minutes=4), tag="new-2"),
        EventTrigger(type=PERSON, source=CAMERA_2, time=now - timedelta(minutes=3), tag="park"),
    )
    env = admin_env(sim)
    recent, desc, by_id, table = await asyncio.gather(
        run_cli("list", "--json", "--source-name", "contains:Entrance", "--since", "-1h", env=env),
        run_cli("list", "--json", "--order", "desc", "--limit", "2", env=env),
        run_cli("list", "--json", "--source-id", CAMERA_2, env=env),
        run_cli("list", "--source-name", "Camera 2 - Parking", env=env),
    )
    assert [e["tag"] for e in recent.json_lines()] == ["new-1", "new-2"]
    assert [e["tag"] for e in desc.json_lines()] == ["park", "new-2"]
    assert [e["tag"] for e in by_id.json_lines()] == ["park"]
    assert table.rc == EXIT_OK
    assert "Camera 2 - Parking" in table.out
    assert "park" in table.out
    assert "1 event(s)" in table.err
    for line in recent.json_lines():
        assert set(line) >= {"id", "time", "type", "source", "tag", "datatype"}


async def test_list_with_a_naive_since_is_a_usage_error(sim: Simulator) -> None:
    result = await run_cli("list", "--since", "2024-05-01T12:00:00", env=admin_env(sim))
    assert result.rc == EXIT_USAGE
    assert "no time zone" in result.err
    assert "Traceback" not in result.err


async def test_get_shows_one_event_with_its_data(
    sim: Simulator, service_client: XProtectClient
) -> None:
    event = await service_client.trigger_event(
        EventTrigger(type=PERSON, source=CAMERA_1, datatype="analytics", data={"score": 7})
    )
    env = admin_env(sim)
    as_json, table, missing = await asyncio.gather(
        run_cli("get", str(event.id), "--include-data", "--json", env=env),
        run_cli("get", str(event.id), "--include-data", env=env),
        run_cli("get", str(uuid.uuid4()), env=env),
    )
    (record,) = as_json.json_lines()
    assert record["id"] == str(event.id)
    assert record["data"] == {"score": 7}
    assert "Person Detected" in table.out
    assert "Camera 1 - Main Entrance" in table.out
    assert 'data\t{"score":7}' in table.out  # piped: key<TAB>value lines
    assert missing.rc == EXIT_API
    assert missing.err.count("\n") == 1
    assert "404" in missing.err


async def test_types_show_each_types_retention_and_warn_of_unstored_ones(sim: Simulator) -> None:
    as_json, table = await asyncio.gather(
        run_cli("types", "--json", env=admin_env(sim)), run_cli("types", env=admin_env(sim))
    )
    assert as_json.rc == table.rc == EXIT_OK
    retention = {t["id"]: t["retention"] for t in as_json.json_lines()}
    assert retention[str(seed.UNSTORED_EVENT)] == 0
    assert retention[PERSON] is None
    assert retention[str(seed.SHORT_RETENTION_EVENT)] == seed.SHORT_RETENTION_SECONDS
    assert "retention" in table.out.splitlines()[0]
    assert "never stored" in table.out
    assert "never stored, so `get` and `list` will not find it" in table.err
