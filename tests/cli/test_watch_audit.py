"""``watch`` as a demanding user runs it: bad options refused before anything is sent,
and a reader that goes away (``| head``) counted and checkpointed for what it got.

See ``tests/cli/running.py`` for how the console script is run."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from tests.cli.running import (
    CAMERA_1,
    PERSON,
    admin_env,
    clean_env,
    cli_path,
    cli_process,
    finish,
    read_until,
    run_cli,
    store,
)
from tests.hostile_ws import HostileWS, Socket
from xprotect_events.cli import EXIT_API, EXIT_OK, EXIT_USAGE
from xprotect_events.cli.names import Names
from xprotect_events.cli.tables import change_line, event_row
from xprotect_events.client import XProtectClient
from xprotect_events.models import EventTrigger
from xprotect_events.testing.simulator import Simulator
from xprotect_events.wire import event_from_wire

NOT_UTF8 = b"\xff".decode("utf-8", "surrogateescape")  # as the shell passes the byte


async def test_watch_refuses_a_bad_source_name_before_anything_is_sent(sim: Simulator) -> None:
    result = await run_cli("watch", "--source-name", NOT_UTF8, env=admin_env(sim))
    assert result.rc == EXIT_USAGE
    assert result.err.count("\n") == 1, result.err
    assert "--source-name" in result.err
    assert sim.stats.token_requests == 0
    assert sum(sim.stats.requests.values()) == 0


async def watch_until_the_reader_leaves(
    sim: Simulator, client: XProtectClient, *args: str
) -> tuple[dict[str, Any], str]:
    """Run ``watch --json ARGS`` into a pipe; trigger one event, read its line, close the
    pipe, trigger another (its write fails): the line read and stderr."""
    reader, writer = os.pipe()
    proc = await asyncio.create_subprocess_exec(
        cli_path(), "watch", "--json", *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=writer, stderr=asyncio.subprocess.PIPE,
        env=admin_env(sim),
    )  # fmt: skip
    os.close(writer)
    try:
        await read_until(proc.stderr, "watching")
        await client.trigger_event(EventTrigger(type=PERSON, source=CAMERA_1, tag="read"))
        with os.fdopen(reader, "rb") as stream:
            line = await asyncio.wait_for(asyncio.to_thread(stream.readline), 15)
        await client.trigger_event(EventTrigger(type=PERSON, source=CAMERA_1, tag="unread"))
        assert await finish(proc) == EXIT_OK
        assert proc.stderr is not None
        return orjson.loads(line), (await proc.stderr.read()).decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize("live", [False, True], ids=["session", "live"])
async def test_watch_counts_and_saves_only_what_its_reader_got(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path, live: bool
) -> None:
    path = str(tmp_path / "watch.json")
    mode = ("--live",) if live else ("--poll-interval", "0.05")
    args = (*mode, "--type", PERSON, "--checkpoint", path)
    read, err = await watch_until_the_reader_leaves(sim, service_client, *args)
    assert read["event"]["tag"] == "read"
    assert "Traceback" not in err
    assert "stopped: 1 new" in err  # the event that could not be written is not counted
    async with cli_process("watch", "--json", *args, env=admin_env(sim)) as proc:
        again = orjson.loads((await read_until(proc.stdout, "unread"))[0])
        assert again["event"]["tag"] == "unread"  # not lost, and "read" not shown twice
        proc.send_signal(signal.SIGINT)
        assert await finish(proc) == EXIT_OK


async def test_watch_live_on_a_server_without_the_websocket_api_says_so() -> None:
    async def not_found(_: web.Request) -> web.StreamResponse:
        return web.Response(status=404)

    async with HostileWS(refuse_all, not_found) as server:
        env = clean_env(
            XPROTECT_URL=server.url, XPROTECT_CLIENT_ID="svc", XPROTECT_CLIENT_SECRET="s"
        )
        result = await run_cli("watch", "--live", env=env)
    assert result.rc == EXIT_API
    assert result.err.count("\n") == 1, result.err
    assert "retention" not in result.err  # not a stored event that is gone
    assert "2023 R3" in result.err
    assert "without --live" in result.err


async def refuse_all(socket: Socket) -> None:
    raise AssertionError("the upgrade is refused: no socket")


async def test_a_time_before_the_year_1000_is_shown_with_four_digits(sim: Simulator) -> None:
    first = datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC)  # .NET's DateTime.MinValue, a second on
    store(sim, EventTrigger(type=PERSON, source=CAMERA_1, tag="old", time=first))
    result = await run_cli("list", "--since", "0001-01-01T00:00:00Z", env=admin_env(sim))
    header, line = result.out.splitlines()
    assert header.split("\t")[0] == "time"
    assert line.split("\t")[0] == "0001-01-01 00:00:01.000Z"  # sorts with every other time
    wire = {"id": line.split("\t")[-1], "time": "0999-12-31T23:59:59Z", "type": PERSON}
    row = event_row(event_from_wire({**wire, "source": None, "datatype": None}), Names())
    assert "0999-12-31 23:59:59.000Z" in change_line("new", row, 120)  # watch's line
