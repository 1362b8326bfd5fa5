"""A new user's first contact, through the real entry point: what a fresh pair of eyes
found wrong in the output (tables that hid names or cut ids, a closed pipe that exited 1
or lost lines, help without words, notes that were missing); the errors and hints are in
test_cli_fresh_eyes_errors.py."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
from pathlib import Path

import click
import orjson
import pytest

from tests.cli.running import (
    CAMERA_1,
    PERSON,
    admin_env,
    cli_path,
    cli_process,
    finish,
    read_until,
    run_cli,
    run_cli_tty,
    store,
)
from xprotect_events.cli import (
    EXIT_NOT_ACCEPTED,
    EXIT_OK,
    cli,
)
from xprotect_events.models import EventTrigger
from xprotect_events.testing import seed
from xprotect_events.testing.faultflags import apply_fault_flags, parse_fault_flag
from xprotect_events.testing.simulator import Simulator

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.mark.parametrize("columns", [80, 100, 120])
async def test_types_on_a_terminal_show_every_name_and_whole_ids(
    sim: Simulator, columns: int
) -> None:
    listed = await run_cli("types", "--json", env=admin_env(sim))
    expected = {t["id"]: t["displayName"] or t["name"] for t in listed.json_lines()}
    shown = await run_cli_tty("types", env=admin_env(sim), columns=columns)
    assert shown.rc == EXIT_OK, shown.err
    rows = [line for line in shown.out.splitlines() if GUID.search(line)]
    assert {GUID.search(line).group() for line in rows} == set(expected)  # type: ignore[union-attr]
    for name in expected.values():  # a name may fold onto the next lines, never vanish
        assert name.split()[0][:8] in shown.out, (name, shown.out)
    assert "…" not in shown.out
    assert max(len(line.rstrip()) for line in shown.out.splitlines()) <= columns


async def test_types_on_a_narrow_terminal_keep_the_ids_whole(sim: Simulator) -> None:
    listed = await run_cli("types", "--json", env=admin_env(sim))
    shown = await run_cli_tty("types", env=admin_env(sim), columns=40)
    assert shown.rc == EXIT_OK, shown.err
    assert set(GUID.findall(shown.out)) == {t["id"] for t in listed.json_lines()}
    assert "…" not in shown.out


async def test_get_on_a_narrow_terminal_never_cuts_the_event_id(sim: Simulator) -> None:
    store(sim, EventTrigger(type=seed.ANALYTICS_EVENT, source=CAMERA_1, tag="t"))
    (event,) = (await run_cli("list", "--json", env=admin_env(sim))).json_lines()
    shown = await run_cli_tty("get", event["id"], env=admin_env(sim), columns=40)
    assert shown.rc == EXIT_OK, shown.err
    assert "…" not in shown.out
    assert event["id"] in "".join(shown.out.split()), shown.out


def test_demo_into_a_closed_pipe_exits_0_in_silence() -> None:
    """``demo | head -1``: the reader went away; that is no failed trigger (exit 1)."""
    piped = _closed_pipe_run(["demo", "--events", "20"])
    assert piped.returncode == EXIT_OK, piped.stderr
    assert "Traceback" not in piped.stderr


def _closed_pipe_run(
    args: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI with stdout a pipe whose reader closes it after the first line."""
    proc = subprocess.Popen(  # noqa: S603 (our own console script)
        [cli_path(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    return subprocess.CompletedProcess(args, proc.wait(timeout=60), "", err)


def test_every_option_of_every_command_says_what_it_does_and_its_default() -> None:
    for name, command in cli.commands.items():
        for param in command.params:
            if not isinstance(param, click.Option) or param.name == "help":
                continue
            assert param.help, f"{name} {param.opts[0]} has no help"
            if not param.is_flag and isinstance(param.default, (int, float, str)):
                assert param.show_default, f"{name} {param.opts[0]} hides its default"


async def test_a_batch_whose_json_reader_goes_away_stops_and_accounts_for_every_line(
    sim: Simulator, tmp_path: Path
) -> None:
    """``trigger-batch --json big.jsonl | head -1``: it stops sending (nobody reads the
    results), every line is accepted or in the rejects file, and the exit code says so."""
    lines = [f'{{"type": "{PERSON}", "tag": "n{i}"}}' for i in range(20000)]
    source = tmp_path / "big.jsonl"
    source.write_text("\n".join(lines) + "\n")
    args = ["trigger-batch", "--json", str(source)]
    piped = await asyncio.to_thread(_closed_pipe_run, args, admin_env(sim))
    assert piped.returncode == EXIT_NOT_ACCEPTED, piped.stderr
    assert "Traceback" not in piped.stderr
    assert "error occurred during closing" not in piped.stderr
    assert f"{len(lines)} line(s): " in piped.stderr, piped.stderr
    stored = await run_cli("list", "--json", "--limit", "0", env=admin_env(sim))
    accepted = {event["tag"] for event in stored.json_lines()}
    rejects = tmp_path / "big.jsonl.rejects.jsonl"
    kept = [orjson.loads(line)["_reject"] for line in rejects.read_text().splitlines()]
    unsettled = {record["raw"] for record in kept}
    assert {record["status"] for record in kept} <= {"unknown", "not sent"}
    for i, line in enumerate(lines):  # each line landed, or is in the rejects file
        assert f"n{i}" in accepted or line in unsettled, line


async def test_list_by_a_part_of_a_source_name_says_the_name_is_whole(sim: Simulator) -> None:
    store(sim, EventTrigger(type=seed.ANALYTICS_EVENT, source=CAMERA_1, tag="t"))
    part, part_json, whole = await asyncio.gather(
        run_cli("list", "--source-name", "Camera 1", env=admin_env(sim)),
        run_cli("list", "--source-name", "Camera 1", "--json", env=admin_env(sim)),
        run_cli("list", "--source-name", seed.CAMERA_NAMES[0], env=admin_env(sim)),
    )
    for result in (part, part_json):
        assert result.rc == EXIT_OK, result.err
        assert f"did you mean '{seed.CAMERA_NAMES[0]}'?" in result.err, result.err
        assert "contains:Camera 1 matches a part" in result.err
    assert part_json.out == ""
    assert "no source is named" not in whole.err
    assert len(whole.out.splitlines()) == 2  # the header and the event


async def test_a_batch_file_saved_as_utf16_is_rejected_saying_so(
    sim: Simulator, tmp_path: Path
) -> None:
    source = tmp_path / "windows.jsonl"
    source.write_bytes(f'{{"type": "{PERSON}"}}\n'.encode("utf-16"))
    result = await run_cli("trigger-batch", str(source), env=admin_env(sim))
    assert result.rc == EXIT_NOT_ACCEPTED, result.err
    rejects = source.with_suffix(".jsonl.rejects.jsonl").read_text().splitlines()
    record = orjson.loads(rejects[0])  # (UTF-16's own line end leaves a second line)
    assert record["_reject"]["reason"].startswith("not UTF-8 text (byte 0xff at position 0)")
    assert "UTF-16" in record["_reject"]["reason"]
    assert "surrogates" not in record["_reject"]["reason"]


async def test_unknown_lines_come_with_a_warning_before_the_rejects_file_is_resent(
    sim: Simulator, tmp_path: Path
) -> None:
    """Sent, no answer: resending the rejects file could trigger them twice; say so."""
    rule = "POST /api/rest/v1/events/batch=reset_after"  # it lands, the answer is cut
    apply_fault_flags(sim.faults, [parse_fault_flag(rule)])
    source = tmp_path / "in.jsonl"
    source.write_text(f'{{"type": "{PERSON}"}}\n')
    plain, journaled = await asyncio.gather(
        run_cli("trigger-batch", str(source), env=admin_env(sim)),
        run_cli(
            "trigger-batch",
            str(source),
            "--rejects",
            str(tmp_path / "other.jsonl"),
            "--journal",
            str(tmp_path / "j.jsonl"),
            env=admin_env(sim),
        ),
    )
    assert plain.rc == journaled.rc == EXIT_NOT_ACCEPTED
    assert "1 unknown line(s) were sent and no answer came" in plain.err, plain.err
    assert "sends them again" in plain.err
    assert "run the same command again (with this --journal)" in journaled.err, journaled.err


@pytest.mark.parametrize("mode", [(), ("--live",)])
async def test_watch_warns_of_a_type_id_no_event_type_has(
    sim: Simulator, mode: tuple[str, ...]
) -> None:
    typo = "00000000-0000-0000-0000-000000000001"
    args = ("watch", *mode, "--json", "--type", typo, "--type", PERSON)
    async with cli_process(*args, env=admin_env(sim)) as proc:
        lines = await read_until(proc.stderr, "watching")
        proc.send_signal(signal.SIGTERM)
        assert await finish(proc) == EXIT_OK
    warned = [line for line in lines if line.startswith("warning:")]
    assert len(warned) == 1, lines  # the typo; the known type is fine
    assert typo in warned[0]
    assert "xprotect-events types" in warned[0]
