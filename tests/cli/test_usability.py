"""Issue 17, through the real entry point: tables at 80 and 140 columns (a pseudo-terminal,
``COLUMNS``), piped output, one-line errors with the flag and its variable, hints that match
the cause, did-you-mean, notes on stderr, plain retry log lines, ``serve``'s help and its
https hint, and ``--proxy``."""

from __future__ import annotations

import asyncio
import re
import shlex
import signal
import uuid

import pytest

from tests.cli.running import (
    CAMERA_1,
    admin_env,
    clean_env,
    cli_process,
    finish,
    read_until,
    run_cli,
    run_cli_tty,
    store,
)
from tests.proxy import ForwardProxy
from xprotect_events.cli import EXIT_AUTH, EXIT_CONNECTION, EXIT_OK, EXIT_USAGE, LISTENING
from xprotect_events.models import EventTrigger
from xprotect_events.testing import seed
from xprotect_events.testing.faultflags import apply_fault_flags, parse_fault_flag
from xprotect_events.testing.simulator import Simulator

TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z")


def store_long(sim: Simulator, count: int) -> None:
    """``count`` events with long names and tags."""
    triggers = [
        EventTrigger(type=seed.ANALYTICS_EVENT, source=CAMERA_1, tag=f"a-rather-long-tag-{i}")
        for i in range(count)
    ]
    store(sim, *triggers)


async def ids_of(sim: Simulator) -> set[str]:
    result = await run_cli("list", "--json", "--limit", "0", env=admin_env(sim))
    return {line["id"] for line in result.json_lines()}


def words(lines: list[str]) -> set[str]:
    return {word for line in lines for word in line.split()}


@pytest.mark.parametrize("columns", [80, 140])
async def test_tables_never_cut_an_id_or_a_time(sim: Simulator, columns: int) -> None:
    store_long(sim, 3)
    ids = await ids_of(sim)
    result = await run_cli_tty("list", env=admin_env(sim), columns=columns)
    assert result.rc == EXIT_OK, result.err
    lines = [line for line in result.out.splitlines() if TIME.search(line)]
    assert len(lines) == 3
    assert ids <= words(lines)
    assert all(len(line.rstrip()) <= columns for line in result.out.splitlines())
    assert "…" not in result.out
    if columns == 140:  # wide enough for every column, unfolded
        assert "Camera 1 - Main Entrance" in result.out
        assert "a-rather-long-tag-0" in result.out


@pytest.mark.parametrize("columns", [80, 140])
async def test_watch_is_one_line_per_event_with_the_whole_id(sim: Simulator, columns: int) -> None:
    store_long(sim, 2)
    ids = await ids_of(sim)
    result = await run_cli_tty(
        "watch", "--since", "-1h", env=admin_env(sim), columns=columns, stop_after=max(ids)
    )
    assert result.rc == EXIT_OK, result.err
    lines = [line for line in result.out.splitlines() if line.strip()]
    assert len(lines) == 2, result.out
    assert all(line.startswith("+ new") and TIME.search(line) for line in lines)
    assert all(len(line) <= columns for line in lines)
    assert ids <= words(lines)


async def test_piped_output_is_tab_separated_with_a_header(sim: Simulator) -> None:
    store_long(sim, 3)
    listed, types = await asyncio.gather(
        run_cli("list", env=admin_env(sim)), run_cli("types", env=admin_env(sim))
    )
    assert listed.rc == types.rc == EXIT_OK
    header, *rows = listed.out.splitlines()
    assert header == "time\ttype\tsource\ttag\tid"
    assert len(rows) == 3
    for row in rows:
        time, kind, source, _tag, event_id = row.split("\t")
        assert TIME.fullmatch(time)
        assert (kind, source) == ("Person Detected", "Camera 1 - Main Entrance")
        assert uuid.UUID(event_id)
    assert "─" not in listed.out
    assert not any(line != line.rstrip() for line in listed.out.splitlines())
    assert types.out.splitlines()[0] == "name\tid\tgenerator\tmay_trigger\tretention"
    assert "Motion Started\t" in types.out


async def test_list_says_when_it_stopped_at_the_limit_or_the_range_is_empty(
    sim: Simulator,
) -> None:
    store_long(sim, 3)
    limited, everything, inverted = await asyncio.gather(
        run_cli("list", "--limit", "2", env=admin_env(sim)),
        run_cli("list", "--limit", "3", env=admin_env(sim)),
        run_cli("list", "--since", "-1h", "--until", "-2h", env=admin_env(sim)),
    )
    assert len(limited.out.splitlines()) == 3  # the header and 2
    assert "showing 2 of more; use --limit 0 for all" in limited.err
    assert "of more" not in everything.err
    assert "--since is not before --until" in inverted.err


async def test_usage_errors_are_one_line_naming_the_flag_and_the_variable(
    sim: Simulator,
) -> None:
    from_env, from_flag, unknown = await asyncio.gather(
        run_cli("list", env=admin_env(sim, XPROTECT_TIMEOUT="abc")),
        run_cli("list", "--limit", "x", env=admin_env(sim)),
        run_cli("list", "--no-such-flag", env=admin_env(sim)),
    )
    for result in (from_env, from_flag, unknown):
        assert result.rc == EXIT_USAGE
        assert result.err.count("\n") == 1, result.err
        assert result.err.startswith("error: ")
    assert "XPROTECT_TIMEOUT=abc" in from_env.err
    assert "--timeout" in from_env.err
    assert "--limit" in from_flag.err
    assert "XPROTECT" not in from_flag.err
    assert "--no-such-flag" in unknown.err


async def test_names_did_you_mean_compact_forms_and_bad_guids(sim: Simulator) -> None:
    env = admin_env(sim)
    typo, compact, truncated = await asyncio.gather(
        run_cli("trigger", "--type", "Person Detectd", env=env),
        run_cli("trigger", "--type", "persondetected", "--json", env=env),
        run_cli("trigger", "--type", str(seed.ANALYTICS_EVENT)[:23], env=env),
    )
    assert typo.rc == truncated.rc == EXIT_USAGE
    assert "did you mean 'Person Detected'" in typo.err
    assert "Motion Started" in typo.err  # the known names as `types` shows them
    assert compact.rc == EXIT_OK, compact.err
    assert "not a valid GUID" in truncated.err
    assert "no event type" not in truncated.err


async def test_hints_match_the_cause(sim: Simulator) -> None:
    pytest.importorskip("trustme")
    async with Simulator(https=True) as tls:
        results = await asyncio.gather(
            run_cli("token", env=admin_env(sim, XPROTECT_URL=sim.url.replace("http:", "https:"))),
            run_cli("token", env=admin_env(tls, XPROTECT_URL=tls.url.replace("https:", "http:"))),
            run_cli("token", env=admin_env(sim, XPROTECT_URL=sim.url + "/api/rest/v1")),
            run_cli(
                "token",
                env=clean_env(
                    XPROTECT_URL=sim.url, XPROTECT_CLIENT_ID="service", XPROTECT_CLIENT_SECRET="x"
                ),
            ),
            run_cli(
                "token",
                env=admin_env(
                    sim, XPROTECT_CLIENT_ID="service", XPROTECT_CLIENT_SECRET="service-secret"
                ),
            ),
        )
    https_to_http, http_to_https, api_path, bad_secret, both = results
    assert https_to_http.rc == EXIT_CONNECTION
    assert "use http://" in https_to_http.err
    assert "--ca-bundle" not in https_to_http.err
    assert http_to_https.rc == EXIT_CONNECTION
    assert "use https://" in http_to_https.err
    assert api_path.rc == EXIT_USAGE
    assert f"try {sim.url} " in api_path.err
    assert "retention" not in api_path.err
    assert bad_secret.rc == EXIT_AUTH
    assert "invalid_client" in bad_secret.err
    assert "XPROTECT_CLIENT_SECRET" in bad_secret.err
    assert "username" not in bad_secret.err
    assert both.rc == EXIT_USAGE
    assert "unset XPROTECT_USERNAME XPROTECT_PASSWORD" in both.err
    assert "unset XPROTECT_CLIENT_ID XPROTECT_CLIENT_SECRET" in both.err
    for result in results:
        assert result.err.count("\n") == 1, result.err


async def test_retries_are_logged_in_plain_words(sim: Simulator) -> None:
    async with cli_process("watch", "--poll-interval", "0.05", env=admin_env(sim)) as proc:
        await read_until(proc.stderr, "watching events")
        rules = ["GET /api/rest/v1/eventSessions/{id}=reset_before"]
        rules.append("POST /api/rest/v1/eventSessions=reset_before")
        apply_fault_flags(sim.faults, [parse_fault_flag(rule) for rule in rules])
        lines = await read_until(proc.stderr, "event session create failed", timeout=60)
        proc.send_signal(signal.SIGINT)
        assert await finish(proc) == EXIT_OK
    logged = [line.strip() for line in lines if line.startswith("warning:")]
    step = r"warning: event session (read|create) failed; reconnecting in \d+\.\d s: [a-z ]+"
    assert logged, lines
    assert all(re.fullmatch(step, line) for line in logged), logged
    assert "read failed" in logged[0]
    assert all(len(line) < 100 for line in logged)


async def test_serve_help_keeps_the_fault_example_whole() -> None:
    result = await run_cli("serve", "--help", env=clean_env(COLUMNS="80"))
    example = "--fault 'POST /api/rest/v1/events/batch=reset_after,status:500@0.05'"
    assert example in result.out
    assert "    'GET /api/rest/v1/eventSessions/{id}'" in result.out


async def test_serve_https_try_line_trusts_the_ca() -> None:
    pytest.importorskip("trustme")
    async with cli_process("serve", "--port", "0", "--https", env=clean_env()) as proc:
        lines = await read_until(proc.stdout, "try:")
        assert lines[0].startswith(LISTENING)
        command = lines[-1].split("try:", 1)[1]
        settings = dict(word.split("=", 1) for word in shlex.split(command) if "=" in word)
        assert "XPROTECT_CA_BUNDLE" in settings
        result = await run_cli("token", env=clean_env(**settings))
        assert result.rc == EXIT_OK, result.err
        proc.send_signal(signal.SIGINT)
        assert await finish(proc) == EXIT_OK


async def test_proxy_flag_and_variable(sim: Simulator) -> None:
    async with ForwardProxy() as proxy:
        flag, variable = await asyncio.gather(
            run_cli("token", "--proxy", proxy.url, env=admin_env(sim)),
            run_cli("list", env=admin_env(sim, XPROTECT_PROXY=proxy.url)),
        )
    assert flag.rc == variable.rc == EXIT_OK, flag.err + variable.err
    assert len(proxy.requests) >= 2
    assert all(target.startswith(sim.url) for _, target in proxy.requests)
