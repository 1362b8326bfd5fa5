"""The serve command: the simulator as a server.

See ``tests/cli/running.py`` for how the console script is run."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.cli.running import clean_env, cli_process, finish, read_until, run_cli
from xprotect_events.cli import EXIT_CONNECTION, EXIT_OK, EXIT_USAGE, LISTENING
from xprotect_events.client import XProtectClient


async def test_serve_prints_its_url_first_serves_and_stops_on_sigterm() -> None:
    async with cli_process("serve", "--port", "0", "--seed-events", "20", env=clean_env()) as proc:
        first = (await read_until(proc.stdout, LISTENING))[0]
        assert first.startswith(LISTENING)
        url = first.removeprefix(LISTENING).strip()
        assert not url.endswith(":0")
        async with XProtectClient(url, username="admin", password="admin") as client:
            events = [e async for e in client.list_events()]
        assert len(events) == 20
        proc.send_signal(signal.SIGTERM)
        assert await finish(proc) == EXIT_OK


async def test_serve_over_https_prints_the_ca_path() -> None:
    pytest.importorskip("trustme")
    async with cli_process("serve", "--port", "0", "--https", env=clean_env()) as proc:
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


def without_trustme(tmp_path: Path) -> dict[str, str]:
    """An environment whose ``import trustme`` fails (the ``https`` extra not installed)."""
    (tmp_path / "trustme.py").write_text("raise ImportError('No module named trustme')\n")
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH")) if p)
    return clean_env(PYTHONPATH=path)


async def test_https_without_the_https_extra_says_what_to_install(tmp_path: Path) -> None:
    """``Simulator(https=True)`` and ``serve --https`` without trustme: a
    ConfigurationError naming the extra, not a bare ModuleNotFoundError."""
    code = (
        "import asyncio\n"
        "from xprotect_events.testing import Simulator\n"
        "asyncio.run(Simulator(https=True).start())\n"
    )
    env = without_trustme(tmp_path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    last = err.decode().strip().splitlines()[-1]
    hint = "pip install 'xprotect-events[https]'"
    assert last.startswith("xprotect_events.errors.ConfigurationError: "), last
    assert hint in last
    served = await run_cli("serve", "--port", "0", "--https", env=env)
    assert served.rc == EXIT_USAGE
    assert hint in served.err
    assert "No module named" not in served.err


async def test_serve_caps_its_events_and_logs_requests_without_the_token() -> None:
    async with cli_process(
        "serve",
        "--port",
        "0",
        "--max-events",
        "5",
        "--seed-events",
        "20",
        "--access-log",
        env=clean_env(),
    ) as proc:
        first = (await read_until(proc.stdout, LISTENING))[0]
        url = first.removeprefix(LISTENING).strip()
        async with XProtectClient(url, username="admin", password="admin") as client:
            events = [e async for e in client.list_events()]
            token = await client.tokens.token()
        assert len(events) == 5
        logged = await read_until(proc.stderr, "GET /api/rest/v1/events")
        line = next(line for line in logged if " GET /api/rest/v1/events" in line)
        assert re.search(r" GET /api/rest/v1/events\S* 200 [0-9.]+ms$", line.rstrip()), line
        proc.send_signal(signal.SIGTERM)
        assert await finish(proc) == EXIT_OK
        rest = (await proc.stderr.read()).decode() if proc.stderr else ""
        assert token not in "".join(logged) + rest
        assert "admin" not in "".join(line for line in logged if "connect/token" in line)


async def test_serve_without_a_terminal_logs_no_requests_unless_asked() -> None:
    async with cli_process("serve", "--port", "0", env=clean_env()) as proc:
        first = (await read_until(proc.stdout, LISTENING))[0]
        url = first.removeprefix(LISTENING).strip()
        async with XProtectClient(url, username="admin", password="admin") as client:
            assert [e async for e in client.list_events()] == []
        proc.send_signal(signal.SIGTERM)
        assert await finish(proc) == EXIT_OK
        err = (await proc.stderr.read()).decode() if proc.stderr else ""
        assert "/api/rest/v1/events" not in err


async def url_of(proc: asyncio.subprocess.Process) -> str:
    first = (await read_until(proc.stdout, LISTENING))[0]
    return first.removeprefix(LISTENING).strip()


async def test_serve_cors_answers_as_the_samples_gateway_config() -> None:
    page = {"Origin": "http://127.0.0.1:8000", "Access-Control-Request-Method": "POST"}
    serve = ("serve", "--port", "0", "--cors")
    async with (
        cli_process(*serve, env=clean_env()) as any_origin,
        cli_process(*serve, page["Origin"], env=clean_env()) as one_origin,
    ):
        answers = []
        async with aiohttp.ClientSession() as http:
            for url in await asyncio.gather(url_of(any_origin), url_of(one_origin)):
                async with http.options(url + "/api/IDP/connect/token", headers=page) as r:
                    answers.append((r.status, r.headers.get("Access-Control-Allow-Origin")))
        assert answers == [(204, "*"), (204, page["Origin"])]
        for proc in (any_origin, one_origin):
            proc.send_signal(signal.SIGTERM)
            assert await finish(proc) == EXIT_OK


async def test_serve_with_an_empty_host_is_a_usage_error() -> None:
    """``--host ''`` listened on every interface and printed the URL ``http://:PORT``."""
    served = await run_cli("serve", "--host", "", "--port", "0", env=clean_env(), timeout=20)
    assert served.rc == EXIT_USAGE
    assert served.err.strip().splitlines() == [served.err.strip()]
    assert "host" in served.err
    assert LISTENING not in served.out
