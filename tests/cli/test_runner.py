"""The shared runner: exit codes, one-line errors with hints, --debug, missing settings.

See ``tests/cli/running.py`` for how the console script is run."""

from __future__ import annotations

import asyncio

from tests.cli.running import admin_env, clean_env, run_cli
from xprotect_events.cli import (
    EXIT_API,
    EXIT_AUTH,
    EXIT_CODES,
    EXIT_CONNECTION,
    EXIT_OK,
    EXIT_USAGE,
    classify,
)
from xprotect_events.errors import (
    AuthenticationError,
    ConnectError,
    ForbiddenError,
    InvalidInputError,
    TLSError,
)
from xprotect_events.testing.simulator import Simulator


def test_errors_map_to_documented_exit_codes() -> None:
    assert classify(AuthenticationError("no"))[0] == EXIT_AUTH
    assert classify(TLSError("bad cert"))[0] == EXIT_CONNECTION
    assert classify(ConnectError("refused"))[0] == EXIT_CONNECTION
    assert classify(ForbiddenError(status=403))[0] == EXIT_API
    assert classify(InvalidInputError("bad"))[0] == EXIT_USAGE
    assert set(EXIT_CODES) >= {0, 1, 2, 3, 4, 5, 130}


async def test_help_documents_exit_codes_and_environment() -> None:
    result = await run_cli("--help", env=clean_env())
    assert result.rc == EXIT_OK
    assert "Exit codes:" in result.out
    for code in EXIT_CODES:
        assert f"  {code} " in result.out
    assert "XPROTECT_PASSWORD" in result.out


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
