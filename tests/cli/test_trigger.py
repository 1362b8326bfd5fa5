"""The triggering commands: trigger, and trigger-batch with its rejects file.

See ``tests/cli/running.py`` for how the console script is run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from tests.cli.running import CAMERA_1, CAMERA_2, MOTION, PERSON, admin_env, clean_env, run_cli
from xprotect_events.cli import (
    EXIT_API,
    EXIT_NOT_ACCEPTED,
    EXIT_OK,
    EXIT_USAGE,
    REJECT_KEY,
    parse_trigger_line,
    reject_record,
)
from xprotect_events.client import XProtectClient
from xprotect_events.errors import InvalidInputError
from xprotect_events.testing import seed
from xprotect_events.testing.simulator import Simulator


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
        ("[1]", "expected a JSON object, got an array"),
        ("null", "expected a JSON object, got null"),  # in JSON's words, not NoneType
        ('"x"', "expected a JSON object, got a string"),
        ("1.5", "expected a JSON object, got a number"),
        ("true", "expected a JSON object, got a boolean"),
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
    line = f'{{"type": "{PERSON}"}}'
    record = reject_record(3, line, "rejected", "no")
    note = {"line": 3, "status": "rejected", "reason": "no", "raw": line}
    assert record == {"type": PERSON, REJECT_KEY: note}
    raw = reject_record(4, "garbage", "rejected", "not JSON")
    assert raw[REJECT_KEY]["raw"] == "garbage"


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
