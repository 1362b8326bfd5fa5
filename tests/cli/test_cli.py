"""The ``xprotect-events`` command, driven through its real console script as a subprocess.

Each test starts a simulator in this process (or ``serve`` as a subprocess) and runs the
installed entry point against it with ``asyncio.create_subprocess_exec``. Nothing sleeps
to win a race: output is read up to a marker line under a deadline.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import click
import orjson
import pytest

from xprotect_events.cli import (
    EXIT_API,
    EXIT_AUTH,
    EXIT_CODES,
    EXIT_CONNECTION,
    EXIT_NOT_ACCEPTED,
    EXIT_OK,
    EXIT_USAGE,
    LISTENING,
    REJECT_KEY,
    classify,
    id_conditions,
    name_conditions,
    parse_trigger_line,
    parse_when,
    reject_record,
)
from xprotect_events.client import XProtectClient
from xprotect_events.errors import (
    AuthenticationError,
    ConnectError,
    ForbiddenError,
    InvalidInputError,
    TLSError,
)
from xprotect_events.models import EventTrigger
from xprotect_events.testing import seed
from xprotect_events.testing.simulator import Simulator

CAMERA_1, CAMERA_2 = (f"cameras/{c}" for c in seed.CAMERA_IDS[:2])
PERSON = str(seed.ANALYTICS_EVENT)
DOOR = str(seed.USER_DEFINED_EVENT)
MOTION = str(seed.MOTION_STARTED)

# --------------------------------------------------------------------------- helpers


def cli_path() -> str:
    """The installed console script beside this interpreter (``pip install -e .``)."""
    beside = Path(sys.executable).parent / "xprotect-events"
    found = str(beside) if beside.exists() else shutil.which("xprotect-events")
    if found is None:
        pytest.fail("the xprotect-events console script is not installed: pip install -e .")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without XPROTECT_* settings or a terminal width, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XPROTECT_")}
    env.pop("COLUMNS", None)
    env.update(extra)
    return env


def admin_env(sim: Simulator, **extra: str) -> dict[str, str]:
    settings = {"XPROTECT_URL": sim.url, "XPROTECT_USERNAME": "admin", "XPROTECT_PASSWORD": "admin"}
    return clean_env(**{**settings, **extra})


@attrs.frozen
class Result:
    rc: int
    out: str
    err: str

    def json_lines(self) -> list[Any]:
        return [orjson.loads(line) for line in self.out.splitlines() if line.strip()]


async def run_cli(
    *args: str, env: dict[str, str], stdin: bytes | None = None, timeout: float = 30.0
) -> Result:
    """Run the console script to its end (bounded); its exit code and output."""
    proc = await asyncio.create_subprocess_exec(
        cli_path(),
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


async def start_cli(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        cli_path(),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )


async def read_until(
    stream: asyncio.StreamReader | None, marker: str, timeout: float = 15.0
) -> list[str]:
    """Lines up to and including the first that contains ``marker`` (under a deadline)."""
    assert stream is not None
    lines: list[str] = []

    async def read() -> list[str]:
        while True:
            raw = await stream.readline()
            if not raw:
                raise AssertionError(f"the output ended before {marker!r}: {lines}")
            lines.append(raw.decode())
            if marker in lines[-1]:
                return lines

    return await asyncio.wait_for(read(), timeout)


async def finish(proc: asyncio.subprocess.Process, timeout: float = 15.0) -> int:
    """Wait for the process to end; kill it if it does not in time (and fail)."""
    try:
        return await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise


def store(sim: Simulator, *triggers: EventTrigger) -> None:
    assert sim.store_events(triggers) == len(triggers)


# --------------------------------------------------------------------------- pure parts


def test_parse_when_accepts_zones_and_relative_times() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_when("2024-05-01T10:00:00Z") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_when("2024-05-01T12:00:00+02:00") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_when("2024-05-01T10:00:00.1234567Z").microsecond == 123457
    assert parse_when("-1h", now) == now - timedelta(hours=1)
    assert parse_when("15m", now) == now - timedelta(minutes=15)
    assert parse_when("2d", now) == now - timedelta(days=2)
    assert parse_when("now", now) == now


@pytest.mark.parametrize("text", ["2024-05-01T12:00:00", "2024-05-01", "2024-05-01 12:00"])
def test_parse_when_refuses_naive_times_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match="no time zone; add Z"):
        parse_when(text)


@pytest.mark.parametrize("text", ["yesterday", "12", "2024-13-45T99:00:00Z"])
def test_parse_when_refuses_what_is_not_a_time(text: str) -> None:
    with pytest.raises(ValueError, match="not a time"):
        parse_when(text)


def test_name_and_id_conditions_use_the_api_operators() -> None:
    assert [c.encode() for c in name_conditions(["contains:Entrance"])] == ["contains:'Entrance'"]
    assert [c.encode() for c in name_conditions(["A", "B"])] == ["oneOf:('A','B')"]
    assert [c.encode() for c in name_conditions(["Cam: 1"])] == ["equals:'Cam: 1'"]
    assert [c.encode() for c in id_conditions([CAMERA_1])] == [f"equals:'{CAMERA_1}'"]
    assert id_conditions([f"notEquals:{CAMERA_1}"])[0].operator == "notEquals"
    with pytest.raises(click.BadParameter):
        id_conditions(["cameras/not-a-guid"])


def test_parse_trigger_line_reads_the_wire_form_and_ignores_reject_notes() -> None:
    line = orjson.dumps(
        {
            "type": PERSON,
            "source": CAMERA_1,
            "time": "2024-05-01T12:00:00.1234567Z",
            "tag": "t",
            "datatype": "analytics",
            "data": {"a": 1},
            REJECT_KEY: {"reason": "fixed now"},
        }
    ).decode()
    trigger = parse_trigger_line(line)
    assert trigger.type == seed.ANALYTICS_EVENT
    assert trigger.time == datetime(2024, 5, 1, 12, 0, 0, 123457, tzinfo=UTC)
    assert trigger.data == {"a": 1}


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("not json", "not JSON"),
        ("[1]", "expected a JSON object"),
        ('{"source": null}', "no 'type'"),
        ('{"type": "x"}', "GUID"),
        (f'{{"type": "{PERSON}", "colour": 1}}', "unknown field"),
        (f'{{"type": "{PERSON}", "time": "soon"}}', "time"),
    ],
)
def test_parse_trigger_line_says_what_is_wrong(line: str, why: str) -> None:
    with pytest.raises(InvalidInputError, match=why):
        parse_trigger_line(line)


def test_reject_record_keeps_the_trigger_resendable() -> None:
    record = reject_record(3, f'{{"type": "{PERSON}"}}', "rejected", "no")
    assert record == {"type": PERSON, REJECT_KEY: {"line": 3, "status": "rejected", "reason": "no"}}
    raw = reject_record(4, "garbage", "rejected", "not JSON")
    assert raw[REJECT_KEY]["raw"] == "garbage"


def test_errors_map_to_documented_exit_codes() -> None:
    assert classify(AuthenticationError("no"))[0] == EXIT_AUTH
    assert classify(TLSError("bad cert"))[0] == EXIT_CONNECTION
    assert classify(ConnectError("refused"))[0] == EXIT_CONNECTION
    assert classify(ForbiddenError(status=403))[0] == EXIT_API
    assert classify(InvalidInputError("bad"))[0] == EXIT_USAGE
    assert set(EXIT_CODES) >= {0, 1, 2, 3, 4, 5, 130}


# --------------------------------------------------------------------------- the command


async def test_help_documents_exit_codes_and_environment() -> None:
    result = await run_cli("--help", env=clean_env())
    assert result.rc == EXIT_OK
    assert "Exit codes:" in result.out
    for code in EXIT_CODES:
        assert f"  {code} " in result.out
    assert "XPROTECT_PASSWORD" in result.out


async def test_demo_runs_to_a_summary_and_exits_0() -> None:
    result = await run_cli("demo", env=clean_env(), timeout=60)
    assert result.rc == EXIT_OK, result.err
    assert "demo finished: 3000 of 3000 events accepted, 3000 received" in result.out
    assert "summary" in result.out
    assert "contains 'Entrance': 750" in result.out


async def test_serve_prints_its_url_first_serves_and_stops_on_sigterm() -> None:
    proc = await start_cli("serve", "--port", "0", "--seed-events", "20", env=clean_env())
    try:
        first = (await read_until(proc.stdout, LISTENING))[0]
        assert first.startswith(LISTENING)
        url = first.removeprefix(LISTENING).strip()
        assert not url.endswith(":0")
        async with XProtectClient(url, username="admin", password="admin") as client:
            events = [e async for e in client.list_events()]
        assert len(events) == 20
        proc.send_signal(signal.SIGTERM)
        assert await finish(proc) == EXIT_OK
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_serve_over_https_prints_the_ca_path() -> None:
    pytest.importorskip("trustme")
    proc = await start_cli("serve", "--port", "0", "--https", env=clean_env())
    try:
        lines = await read_until(proc.stdout, "CA certificate:")
        url = lines[0].removeprefix(LISTENING).strip()
        ca_path = lines[-1].split("CA certificate:")[1].split()[0]
        assert url.startswith("https://")
        env = clean_env(XPROTECT_URL=url, XPROTECT_USERNAME="admin", XPROTECT_PASSWORD="admin")
        trusted, from_env, insecure, untrusted = await asyncio.gather(
            run_cli("token", "--ca-bundle", ca_path, env=env),
            run_cli("token", env={**env, "XPROTECT_CA_BUNDLE": ca_path}),
            run_cli("token", env={**env, "XPROTECT_INSECURE": "1"}),
            run_cli("token", env=env),
        )
        assert trusted.rc == from_env.rc == insecure.rc == EXIT_OK, trusted.err
        assert untrusted.rc == EXIT_CONNECTION
        assert "--ca-bundle" in untrusted.err
        proc.send_signal(signal.SIGINT)
        assert await finish(proc) == EXIT_OK
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


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
    assert '"score": 7' in table.out
    assert missing.rc == EXIT_API
    assert missing.err.count("\n") == 1
    assert "404" in missing.err


async def test_trigger_by_names_and_with_data(
    sim: Simulator, service_client: XProtectClient
) -> None:
    result = await run_cli(
        "trigger",
        "--type",
        "Person Detected",
        "--source",
        "Camera 2 - Parking",
        "--tag",
        "from-cli",
        "--datatype",
        "analytics",
        "--data",
        '{"objects": 2}',
        "--json",
        env=admin_env(sim),
    )
    assert result.rc == EXIT_OK, result.err
    (record,) = result.json_lines()
    stored = await service_client.get_event(record["id"], include_data=True)
    assert stored.tag == "from-cli"
    assert stored.source == CAMERA_2
    assert stored.data == {"objects": 2}


async def test_trigger_refused_by_the_server_is_an_api_error(sim: Simulator) -> None:
    refused, unknown_type = await asyncio.gather(
        run_cli("trigger", "--type", MOTION, env=admin_env(sim)),
        run_cli("trigger", "--type", "No Such Type", env=admin_env(sim)),
    )
    assert refused.rc == EXIT_API
    assert "403" in refused.err
    assert refused.err.count("\n") == 1
    assert unknown_type.rc == EXIT_USAGE
    assert "Person Detected" in unknown_type.err  # the known names are listed


def batch_lines() -> list[str]:
    good = [
        orjson.dumps({"type": PERSON, "source": CAMERA_1, "tag": f"b{i}", "datatype": None})
        for i in range(150)
    ]
    bad = [
        b"not json",
        orjson.dumps({"type": "not-a-guid", "source": CAMERA_1}),
        orjson.dumps({"type": MOTION, "source": CAMERA_2, "datatype": None, "tag": "motion"}),
    ]
    return [line.decode() for line in good[:100] + bad + good[100:]] + [""]


async def test_trigger_batch_writes_rejects_that_can_be_fixed_and_resent(
    sim: Simulator, tmp_path: Path, service_client: XProtectClient
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(batch_lines()))
    result = await run_cli("trigger-batch", str(source), env=admin_env(sim))
    assert result.rc == EXIT_NOT_ACCEPTED
    assert "150 accepted, 3 rejected, 0 unknown" in result.err
    rejects = [
        orjson.loads(line) for line in Path(f"{source}.rejects.jsonl").read_text().splitlines()
    ]
    reasons = {r[REJECT_KEY]["line"]: r[REJECT_KEY]["reason"] for r in rejects}
    assert sorted(reasons) == [101, 102, 103]
    assert "not JSON" in reasons[101]
    assert "GUID" in reasons[102]
    assert "403" in reasons[103]
    # the motion event was refused to the admin user; a service client may send it as is
    motion = [r for r in rejects if r.get("type") == MOTION]
    fixed = tmp_path / "fixed.jsonl"
    fixed.write_bytes(orjson.dumps(motion[0]) + b"\n")
    resend = await run_cli(
        "trigger-batch",
        str(fixed),
        "--client-id",
        seed.SERVICE_CLIENT_ID,
        env=clean_env(XPROTECT_URL=sim.url, XPROTECT_CLIENT_SECRET=seed.SERVICE_CLIENT_SECRET),
    )
    assert resend.rc == EXIT_OK, resend.err
    tags = [e.tag async for e in service_client.list_events()]
    assert len(tags) == 151
    assert "motion" in tags


async def test_trigger_batch_from_stdin_with_json_results(sim: Simulator, tmp_path: Path) -> None:
    lines = "\n".join(batch_lines()[:5]).encode()
    result = await run_cli(
        "trigger-batch",
        "-",
        "--json",
        "--rejects",
        str(tmp_path / "r.jsonl"),
        env=admin_env(sim),
        stdin=lines,
    )
    assert result.rc == EXIT_OK, result.err
    records = result.json_lines()
    assert [r["line"] for r in records] == [1, 2, 3, 4, 5]
    assert {r["status"] for r in records} == {"accepted"}
    assert not (tmp_path / "r.jsonl").exists()


async def test_watch_streams_until_sigint_and_deletes_its_session(
    sim: Simulator, service_client: XProtectClient
) -> None:
    proc = await start_cli(
        "watch", "--json", "--poll-interval", "0.1", "--type", "Person Detected",
        env=admin_env(sim),
    )  # fmt: skip
    try:
        await read_until(proc.stderr, "watching events")
        assert sim.sessions_alive == 1
        for tag in ("w1", "w2"):
            await service_client.trigger_event(EventTrigger(type=PERSON, source=CAMERA_1, tag=tag))
        await service_client.trigger_event(EventTrigger(type=DOOR, tag="not-watched"))
        seen = await read_until(proc.stdout, '"w2"')
        changes = [orjson.loads(line) for line in seen]
        assert [c["event"]["tag"] for c in changes] == ["w1", "w2"]
        assert {c["kind"] for c in changes} == {"new"}
        proc.send_signal(signal.SIGINT)
        assert await finish(proc) == EXIT_OK
        assert sim.sessions_alive == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_bad_password_is_exit_3_with_one_line_and_no_traceback(sim: Simulator) -> None:
    env = admin_env(sim, XPROTECT_PASSWORD="wrong")
    result = await run_cli("list", env=env)
    assert result.rc == EXIT_AUTH
    assert result.err.startswith("error: ")
    assert result.err.count("\n") == 1
    assert "Traceback" not in result.err
    assert "wrong" not in result.err


async def test_debug_shows_the_traceback_but_never_the_password(sim: Simulator) -> None:
    env = admin_env(sim, XPROTECT_PASSWORD="s3cret-pa55")
    result = await run_cli("--debug", "list", env=env)
    assert result.rc == EXIT_AUTH
    assert "Traceback" in result.err
    assert "s3cret-pa55" not in result.err + result.out


async def test_missing_settings_are_usage_errors(sim: Simulator) -> None:
    no_url, no_user, no_password = await asyncio.gather(
        run_cli("list", env=clean_env()),
        run_cli("list", env=clean_env(XPROTECT_URL=sim.url)),
        run_cli("list", env=clean_env(XPROTECT_URL=sim.url, XPROTECT_USERNAME="admin")),
    )
    assert no_url.rc == no_user.rc == no_password.rc == EXIT_USAGE
    assert "XPROTECT_URL" in no_url.err
    assert "--username" in no_user.err
    assert "XPROTECT_PASSWORD" in no_password.err  # stdin is not a terminal: no prompt


async def test_unreachable_server_is_exit_4() -> None:
    env = clean_env(XPROTECT_URL="http://127.0.0.1:9", XPROTECT_USERNAME="a", XPROTECT_PASSWORD="b")
    result = await run_cli("list", env=env)
    assert result.rc == EXIT_CONNECTION
    assert "could not connect" in result.err
    assert result.err.count("\n") == 1
