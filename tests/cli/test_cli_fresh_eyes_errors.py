"""A new user's mistakes, through the real entry point: error lines that read the same
whoever finds the mistake, hints that name the right thing, values refused before anything
is sent, and no traceback or secret in any of it (see test_cli_fresh_eyes.py for output)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from tests.cli.running import (
    PERSON,
    admin_env,
    clean_env,
    run_cli,
)
from xprotect_events.cli import (
    EXIT_API,
    EXIT_AUTH,
    EXIT_CONNECTION,
    EXIT_OK,
    EXIT_USAGE,
)
from xprotect_events.testing import seed
from xprotect_events.testing.simulator import Simulator

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


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
    flag, variable, huge = await asyncio.gather(
        run_cli("list", "--timeout", "0", env=admin_env(sim)),
        run_cli("list", env=admin_env(sim, XPROTECT_TIMEOUT="-1")),
        run_cli("list", "--timeout", "1e10", env=admin_env(sim)),  # the library's bound
    )
    assert flag.rc == variable.rc == huge.rc == EXIT_USAGE
    assert flag.err.startswith("error: invalid value for --timeout: "), flag.err
    assert variable.err.startswith("error: invalid value for XPROTECT_TIMEOUT=-1 (for --timeout)")
    assert huge.err.startswith("error: --timeout: "), huge.err


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--port", "0", "--session-idle-timeout", "nan"],
        ["serve", "--port", "0", "--token-lifetime", "inf"],
        ["serve", "--port", "0", "--token-lifetime", "1e300"],  # no client takes that token
        ["watch", "--poll-interval", "inf"],
        ["demo", "--rate", "nan"],
        ["list", "--timeout", "nan"],
    ],
)
async def test_nan_and_inf_seconds_are_refused_up_front(sim: Simulator, args: list[str]) -> None:
    result = await run_cli(*args, env=admin_env(sim), timeout=20)
    assert result.rc == EXIT_USAGE, result.err
    assert "Traceback" not in result.err
    assert result.err.startswith(f"error: invalid value for {args[-2]}: "), result.err
    assert "not a finite number" in result.err or "not in the range" in result.err


async def test_a_nan_settle_is_refused_before_the_batch_starts(
    sim: Simulator, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(f'{{"type": "{PERSON}"}}\n')
    journal = str(tmp_path / "j.jsonl")
    args = ("trigger-batch", str(source), "--journal", journal)
    first = await run_cli(*args, env=admin_env(sim))
    assert first.rc == EXIT_OK, first.err
    again = await run_cli(*args, "--settle", "nan", env=admin_env(sim))
    assert again.rc == EXIT_USAGE, again.err
    assert again.err.startswith("error: invalid value for --settle: "), again.err
    assert not (tmp_path / "in.jsonl.rejects.jsonl").exists()  # nothing ran


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
