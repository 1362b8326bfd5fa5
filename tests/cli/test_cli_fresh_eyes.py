"""A new user's first contact, through the real entry point: what a fresh pair of eyes
found wrong (tables that hid names or cut ids, a closed pipe that exited 1, error lines
that read differently for the same mistake, hints that named the wrong thing)."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import click
import orjson
import pytest

from tests.cli.running import (
    CAMERA_1,
    PERSON,
    admin_env,
    clean_env,
    cli_path,
    run_cli,
    run_cli_tty,
    store,
)
from xprotect_events.cli import (
    EXIT_API,
    EXIT_AUTH,
    EXIT_CONNECTION,
    EXIT_NOT_ACCEPTED,
    EXIT_OK,
    EXIT_USAGE,
    cli,
)
from xprotect_events.models import EventTrigger
from xprotect_events.testing import seed
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


async def test_a_bad_value_reads_the_same_whoever_found_it(sim: Simulator, tmp_path: Path) -> None:
    """click's checks and the commands' own: "invalid value for FLAG-or-ARGUMENT: …"."""
    env = admin_env(sim)
    results = await asyncio.gather(
        run_cli("trigger-batch", str(tmp_path), env=env),  # click: a directory
        run_cli("trigger-batch", str(tmp_path / "nothing.jsonl"), env=env),  # the command
        run_cli("trigger", "--type", "Persn", env=env),  # found after logging in
        run_cli("list", "--order", "up", env=env),
        run_cli("trigger-batch", "-", "--journal", str(tmp_path / "j"), env=env, stdin=b""),
    )
    directory, missing, name, order, journal = (r.err for r in results)
    assert directory.startswith("error: invalid value for FILE: "), directory
    assert missing.startswith("error: invalid value for FILE: "), missing
    assert name.startswith("error: invalid value for --type: "), name
    assert order.startswith("error: invalid value for --order: "), order
    assert journal.startswith("error: invalid value for --journal: "), journal
    assert all(r.rc == EXIT_USAGE for r in results)


async def test_did_you_mean_covers_a_dropped_letter_a_part_and_word_starts(
    sim: Simulator,
) -> None:
    env = admin_env(sim)
    typo, part, starts = await asyncio.gather(
        run_cli("trigger", "--type", "Persn", env=env),
        run_cli("trigger", "--type", str(seed.ANALYTICS_EVENT), "--source", "Camera", env=env),
        run_cli("trigger", "--type", "Lic Plate", env=env),
    )
    assert "did you mean 'Person Detected'?" in typo.err, typo.err
    cameras = [f"'{name}'" for name in seed.CAMERA_NAMES]
    assert f"did you mean {' or '.join(cameras)}?" in part.err, part.err  # each, not one
    assert "did you mean 'License Plate Recognized'?" in starts.err, starts.err


async def test_a_timeout_out_of_range_names_its_flag_or_variable(sim: Simulator) -> None:
    flag, variable = await asyncio.gather(
        run_cli("list", "--timeout", "0", env=admin_env(sim)),
        run_cli("list", env=admin_env(sim, XPROTECT_TIMEOUT="-1")),
    )
    assert flag.rc == variable.rc == EXIT_USAGE
    assert flag.err.startswith("error: --timeout: "), flag.err
    assert variable.err.startswith("error: XPROTECT_TIMEOUT (--timeout): "), variable.err


async def test_user_and_service_client_conflict_says_what_to_unset_or_leave_out(
    sim: Simulator,
) -> None:
    flags, mixed = await asyncio.gather(
        run_cli("token", "--client-id", "service", env=admin_env(sim)),
        run_cli(
            "token",
            "--password",
            "admin",
            env=clean_env(
                XPROTECT_URL=sim.url, XPROTECT_USERNAME="admin", XPROTECT_CLIENT_ID="service"
            ),
        ),
    )
    assert flags.rc == mixed.rc == EXIT_USAGE
    assert "service client (--client-id)" in flags.err, flags.err  # no secret was given
    assert "or leave out --client-id" in flags.err, flags.err
    assert "unset --" not in flags.err + mixed.err  # a flag cannot be unset
    assert "unset XPROTECT_USERNAME and leave out --password" in mixed.err, mixed.err


@pytest.mark.parametrize("live", [False, True])
async def test_a_checkpoint_that_cannot_be_kept_is_one_usage_line_before_login(
    sim: Simulator, tmp_path: Path, live: bool
) -> None:
    mode = ("--live",) if live else ()
    missing = str(tmp_path / "no-such-dir" / "pos.json")
    corrupt = tmp_path / "pos.json"
    corrupt.write_text("garbage\n")
    nowhere, broken = await asyncio.gather(
        run_cli("watch", *mode, "--checkpoint", missing, env=admin_env(sim)),
        run_cli("watch", *mode, "--checkpoint", str(corrupt), env=admin_env(sim)),
    )
    assert nowhere.rc == broken.rc == EXIT_USAGE
    assert nowhere.err.startswith("error: invalid value for --checkpoint: "), nowhere.err
    assert "no such directory" in nowhere.err
    assert ".lock" not in nowhere.err
    for result in (nowhere, broken):  # nothing was watched: no "stopped: 0 new" line
        assert result.err.count("\n") == 1, result.err
    assert corrupt.read_text() == "garbage\n"


async def test_an_unreachable_proxy_is_named_in_the_hint_not_the_url(sim: Simulator) -> None:
    dead = "http://127.0.0.1:1"  # nothing listens on port 1
    flag, variable = await asyncio.gather(
        run_cli("token", "--proxy", dead, env=admin_env(sim)),
        run_cli("token", env=admin_env(sim, HTTP_PROXY=dead, HTTPS_PROXY=dead, NO_PROXY="")),
    )
    for result in (flag, variable):
        assert result.rc == EXIT_CONNECTION, result.err
        assert "check --proxy (XPROTECT_PROXY), or HTTPS_PROXY/HTTP_PROXY" in result.err
        assert "check --url" not in result.err
        assert result.err.count("\n") == 1, result.err


def test_every_option_of_every_command_says_what_it_does_and_its_default() -> None:
    for name, command in cli.commands.items():
        for param in command.params:
            if not isinstance(param, click.Option) or param.name == "help":
                continue
            assert param.help, f"{name} {param.opts[0]} has no help"
            if not param.is_flag and isinstance(param.default, (int, float, str)):
                assert param.show_default, f"{name} {param.opts[0]} hides its default"


async def test_a_url_with_the_api_path_and_credentials_never_shows_the_password(
    sim: Simulator,
) -> None:
    host = sim.url.split("://", 1)[1]
    with_flag, from_env = await asyncio.gather(
        run_cli("list", "--url", f"http://admin:s3cret@{host}/api/rest/v1", env=admin_env(sim)),
        run_cli("list", env=admin_env(sim, XPROTECT_URL=f"http://u:s3cret@{host}/API/IDP")),
    )
    for result in (with_flag, from_env):
        assert result.rc == EXIT_USAGE
        assert "s3cret" not in result.out + result.err, result.err
        assert "must not carry credentials" in result.err
        assert result.err.count("\n") == 1, result.err
    assert from_env.err.startswith("error: XPROTECT_URL: "), from_env.err


async def test_a_source_name_that_is_not_text_is_a_usage_error_not_a_traceback(
    sim: Simulator,
) -> None:
    not_utf8 = b"\xff".decode("utf-8", "surrogateescape")  # as the shell passes the byte
    listed, watched = await asyncio.gather(
        run_cli("list", "--source-name", not_utf8, env=admin_env(sim)),
        run_cli("watch", "--source-name", f"contains:{not_utf8}", env=admin_env(sim)),
    )
    for result in (listed, watched):
        assert result.rc == EXIT_USAGE, result.err
        assert "Traceback" not in result.err
        assert result.err.startswith("error: invalid value for --source-name: "), result.err
        assert result.err.count("\n") == 1, result.err


async def test_a_relative_time_too_long_ago_is_a_usage_error_not_a_traceback(
    sim: Simulator,
) -> None:
    listed, triggered = await asyncio.gather(
        run_cli("list", "--since", "99999999999w", env=admin_env(sim)),
        run_cli("trigger", "--type", PERSON, "--time", "3000000d", env=admin_env(sim)),
    )
    for result, flag in ((listed, "--since"), (triggered, "--time")):
        assert result.rc == EXIT_USAGE, result.err
        assert "Traceback" not in result.err
        assert result.err.startswith(f"error: invalid value for {flag}: "), result.err
        assert "too long ago" in result.err


async def test_a_host_name_no_lookup_can_take_is_a_usage_error_not_a_traceback(
    sim: Simulator,
) -> None:
    too_long = "a" * 64 + ".example"  # a DNS label has at most 63 characters
    server, proxy = await asyncio.gather(
        run_cli("token", "--url", f"http://{too_long}", env=admin_env(sim)),
        run_cli("token", "--proxy", f"http://{too_long}:3128", env=admin_env(sim)),
    )
    for result, flag in ((server, "--url"), (proxy, "--proxy")):
        assert result.rc == EXIT_USAGE, result.err
        assert "Traceback" not in result.err
        assert result.err.startswith(f"error: {flag}: "), result.err
        assert result.err.count("\n") == 1, result.err


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


async def test_a_url_with_a_path_the_server_has_no_login_under_hints_at_the_url(
    sim: Simulator,
) -> None:
    result = await run_cli("token", "--url", f"{sim.url}/xprotect", env=admin_env(sim))
    assert result.rc == EXIT_API, result.err
    assert "check --url (XPROTECT_URL)" in result.err, result.err
    assert "retention" not in result.err  # no stored event is involved
    assert result.err.count("\n") == 1, result.err


async def test_a_refused_windows_login_does_not_ask_for_the_windows_flag_it_has(
    sim: Simulator,
) -> None:
    pytest.importorskip("spnego")
    env = clean_env(XPROTECT_URL=sim.url, XPROTECT_PASSWORD="wrong")
    result = await run_cli("token", "--windows", "-u", seed.WINDOWS_USER, env=env)
    assert result.rc == EXIT_AUTH, result.err
    assert "needs --windows" not in result.err, result.err
    assert "DOMAIN\\user" in result.err
    assert "wrong" not in result.err.replace("wrong user name", "")  # never the password


async def test_debug_after_the_command_says_where_it_goes(sim: Simulator) -> None:
    after, format_json = await asyncio.gather(
        run_cli("list", "--debug", env=admin_env(sim)),
        run_cli("list", "--format", "json", env=admin_env(sim)),
    )
    assert after.rc == format_json.rc == EXIT_USAGE
    assert "xprotect-events --debug list" in after.err, after.err
    assert "use --json" in format_json.err, format_json.err


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
