"""Promises of the README and of the ``--help`` texts that no other test held the command
line to: relative times, the table widths, the exit codes of a stopped run, the rejects
file of stdin, and the hidden password prompt.

The console script runs as a subprocess against a simulator in this process, over
loopback (see ``tests/cli/running.py``), with this checkout first on its path. Nothing
sleeps to win a race: output is read up to a marker under a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
)
from xprotect_events.cli import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from xprotect_events.cli.params import parse_when
from xprotect_events.cli.tables import EVENT_COLUMNS, change_line, natural, plan
from xprotect_events.client import XProtectClient
from xprotect_events.models import EventTrigger
from xprotect_events.testing import CAMERA_IDS as CAMERAS
from xprotect_events.testing.simulator import Simulator

#: This checkout, first on the console script's path (the venv may hold another one).
ROOT = Path(__file__).resolve().parents[2]


def env_of(sim: Simulator, **extra: str) -> dict[str, str]:
    return admin_env(sim, PYTHONPATH=str(ROOT), **extra)


def _good(tag: str) -> bytes:
    return orjson.dumps({"type": PERSON, "source": CAMERA_1, "tag": tag})


# ----------------------------------------------------------------------------- times


def test_every_documented_relative_time_means_that_long_ago() -> None:
    """README: ``-1h``, ``15m``, ``30s``, ``2d``, ``1w`` mean "that long ago"."""
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_when("30s", now) == now - timedelta(seconds=30)
    assert parse_when("1w", now) == now - timedelta(weeks=1)
    assert parse_when("-1h", now) == parse_when("1h", now) == now - timedelta(hours=1)


# ----------------------------------------------------------------------------- tables


def _shown(width: int) -> list[str]:
    return [EVENT_COLUMNS[i].name for i, _ in plan(EVENT_COLUMNS, width)]


def test_list_drops_the_tag_source_and_type_below_96_85_and_74_columns() -> None:
    """README: the tag, then the source, then the type are left out below 96, 85 and 74
    columns; below 63 only the id is shown (names and tags of 8 characters or more)."""
    assert _shown(96) == ["Time", "Type", "Source", "Tag", "Id"]
    assert _shown(95) == _shown(85) == ["Time", "Type", "Source", "Id"]
    assert _shown(84) == _shown(74) == ["Time", "Type", "Id"]
    assert _shown(73) == _shown(63) == ["Time", "Id"]
    assert _shown(62) == _shown(40) == ["Id"]


def test_watch_lines_need_12_columns_more_and_keep_the_id_whole() -> None:
    row = ("2024-05-01 12:00:00.000Z", "Person Detected", "Camera 1 - Main Entrance",
           "a-long-tag", "5a1e0c51-2f0b-4a3e-8d6e-0f6c9b7a1e22")  # fmt: skip
    for width, kept in [(108, 5), (107, 4), (97, 4), (96, 3), (86, 3), (85, 2), (75, 2), (74, 1)]:
        line = change_line("new", row, width)
        assert len(line) <= width, (width, line)
        assert row[4] in line
        # text cells are cut with an ellipsis, never the time or the id
        shown = [row[0] in line, "Person" in line, "Camera" in line, "a-long" in line]
        assert shown == [kept >= 2, kept >= 3, kept >= 4, kept >= 5], (width, line)


# ----------------------------------------------------------------------------- stopped runs


async def test_trigger_batch_stopped_by_ctrl_c_exits_130_and_keeps_the_unread_lines(
    sim: Simulator, tmp_path: Path
) -> None:
    """Exit codes: 130 when interrupted by Ctrl-C; the lines not read yet are in the
    rejects file (``not sent``), so sending it again sends exactly what is missing."""
    source = tmp_path / "in.jsonl"
    count = 3000
    source.write_bytes(b"".join(_good(f"t{i}") + b"\n" for i in range(count)))
    args = ("trigger-batch", str(source), "--json", "--chunk-size", "1", "--concurrency", "1")
    async with cli_process(*args, env=env_of(sim)) as proc:
        await read_until(proc.stdout, '"accepted"')
        proc.send_signal(signal.SIGINT)
        _, raw = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == EXIT_INTERRUPTED, raw.decode()
    records = [
        orjson.loads(line) for line in Path(f"{source}.rejects.jsonl").read_bytes().splitlines()
    ]
    assert "not sent" in {r["_reject"]["status"] for r in records}
    assert sim.events_stored + len(records) >= count
    assert sim.sessions_alive == 0


async def test_watch_stopped_by_sigterm_exits_0_and_deletes_its_session(
    sim: Simulator, service_client: XProtectClient
) -> None:
    """Exit code 0 for ``watch`` stopped with SIGTERM (its normal end), and the event
    session is deleted on the way out (README, Guarantees)."""
    args = ("watch", "--json", "--poll-interval", "0.05", "--type", "Person Detected")
    async with cli_process(*args, env=env_of(sim)) as proc:
        await read_until(proc.stderr, "watching events")
        assert sim.sessions_alive == 1
        await service_client.trigger_event(EventTrigger(type=PERSON, source=CAMERA_1, tag="s1"))
        await read_until(proc.stdout, '"s1"')
        proc.send_signal(signal.SIGTERM)
        assert await finish(proc) == EXIT_OK
    assert sim.sessions_alive == 0


async def test_rejects_of_stdin_go_to_rejects_jsonl(sim: Simulator, tmp_path: Path) -> None:
    """README: the rejects file is ``FILE.rejects.jsonl``, or ``rejects.jsonl`` for stdin."""
    bad = orjson.dumps({"type": PERSON, "source": "cameras/not-a-guid", "tag": "b"})
    proc = await asyncio.create_subprocess_exec(
        cli_path(), "trigger-batch", "-",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env_of(sim), cwd=tmp_path,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(_good("g") + b"\n" + bad + b"\n"), 60)
    assert proc.returncode == 1, err.decode()
    (record,) = [
        orjson.loads(line) for line in (tmp_path / "rejects.jsonl").read_bytes().splitlines()
    ]
    assert record["tag"] == "b"
    assert record["_reject"]["line"] == 2


# ----------------------------------------------------------------------------- the prompt


async def test_a_missing_password_is_prompted_for_on_a_terminal_without_echo(
    sim: Simulator,
) -> None:
    """README: when the password is missing and stdin is a terminal, you are prompted
    (hidden). The child runs in its own session (no controlling terminal but the pty on
    its stdin), so the prompt can never wait on the terminal that runs the tests."""
    leader, follower = pty.openpty()
    env = env_of(sim, XPROTECT_USERNAME="operator")
    env.pop("XPROTECT_PASSWORD")
    proc = await asyncio.create_subprocess_exec(
        cli_path(), "token", "--json",
        stdin=follower, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env, start_new_session=True,
    )  # fmt: skip
    os.close(follower)
    loop = asyncio.get_running_loop()
    echoed = loop.run_in_executor(None, _read_to_eof, leader)
    try:
        assert proc.stderr is not None
        seen = b""
        async with asyncio.timeout(30):  # getpass writes the trailing blank once echo is off
            while b"Password for operator: " not in seen:
                chunk = await proc.stderr.read(1)
                assert chunk, seen
                seen += chunk
        os.write(leader, b"operator\n")
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        terminal = await asyncio.wait_for(echoed, 30)  # ends when the child closed the pty
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(echoed, 30)
        os.close(leader)
    assert proc.returncode == EXIT_OK, err.decode()
    (record,) = [orjson.loads(line) for line in out.splitlines()]
    assert record["kind"] == "user"
    assert "access_token" not in record
    assert b"operator" not in terminal  # typed, never echoed


def _read_to_eof(fd: int) -> bytes:
    seen = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed its side
            return seen
        if not chunk:
            return seen
        seen += chunk


def test_short_tags_keep_their_column_a_little_longer() -> None:
    """README: "or a little less when its names or tags are shorter than 8 characters"."""
    row = ("2024-05-01 12:00:00.000Z", "Person Detected", "Camera 1 - Main Entrance", "",
           "5a1e0c51-2f0b-4a3e-8d6e-0f6c9b7a1e22")  # fmt: skip
    columns = natural(EVENT_COLUMNS, [row])  # no tags: the column is as wide as "Tag"
    shown = {width: [columns[i].name for i, _ in plan(columns, width)] for width in (91, 90, 62)}
    assert shown[91] == ["Time", "Type", "Source", "Tag", "Id"]
    assert shown[90] == ["Time", "Type", "Source", "Id"]
    assert shown[62] == ["Id"]


# ----------------------------------------------------------------------------- errors


def _readme_block_after(text: str) -> str:
    readme = (ROOT / "README.md").read_text()
    after = readme[readme.index(text) :]
    return after[after.index("```\n") + 4 : after.index("\n```", after.index("```\n") + 4)]


async def test_the_readme_error_example_is_what_a_refused_password_prints(sim: Simulator) -> None:
    result = await run_cli("list", env=env_of(sim, XPROTECT_PASSWORD="wrong"))
    assert result.rc == 3
    assert result.err == _readme_block_after("An error is one line on stderr") + "\n"


async def test_debug_logs_every_request_with_method_path_status_and_time(sim: Simulator) -> None:
    """README: ``--debug`` adds DEBUG logging of every request (method, path, status, time;
    never a secret)."""
    result = await run_cli("--debug", "list", "--limit", "1", env=env_of(sim))
    assert result.rc == EXIT_OK, result.err
    logged = re.findall(
        r"DEBUG xprotect_events: (\w+) (\S+) -> (\d{3}) \((\d+\.\d) ms\)", result.err
    )
    routes = {(method, path, status) for method, path, status, _ in logged}
    assert ("POST", "/API/IDP/connect/token", "200") in routes
    assert ("GET", "/api/rest/v1/events", "200") in routes
    assert len(logged) == sum(sim.stats.requests.values())  # every request, each once
    assert "admin" not in result.err.replace("xprotect_events", "")  # no password (admin)


async def test_watch_live_refuses_max_size(sim: Simulator) -> None:
    """``watch --help``: --max-size does not apply with --live."""
    result = await run_cli("watch", "--live", "--max-size", "5", env=env_of(sim))
    assert result.rc == EXIT_USAGE
    assert "--max-size cannot be used with --live" in result.err
    assert result.err.count("\n") == 1
    assert sim.live.connections_total == 0


# ----------------------------------------------------------------------------- filters


async def test_list_source_ids_in_every_documented_form(sim: Simulator) -> None:
    """README: ``--source-id`` takes GUIDs or ``cameras/GUID``, several mean "one of", and
    ``notEquals:``; several plain ``--source-name`` values mean "one of" too."""
    sim.store_events(
        [
            EventTrigger(type=PERSON, source=f"cameras/{c}", tag=f"c{i}")
            for i, c in enumerate(CAMERAS)
        ]
    )
    first, second = CAMERAS[:2]

    async def tags(*args: str) -> list[str]:
        result = await run_cli("list", "--json", *args, env=env_of(sim))
        assert result.rc == EXIT_OK, result.err
        return sorted(line["tag"] for line in result.json_lines())

    forms = await asyncio.gather(
        tags("--source-id", str(first), "--source-id", f"cameras/{second}"),
        tags("--source-id", f"notEquals:cameras/{first}"),
        tags("--source-id", f"notEquals:{first}"),
        tags("--source-name", "Camera 1 - Main Entrance", "--source-name", "Camera 2 - Parking"),
    )
    everything_else = [f"c{i}" for i in range(1, len(CAMERAS))]
    assert forms == [["c0", "c1"], everything_else, everything_else, ["c0", "c1"]]


# ----------------------------------------------------------------------------- the journal

#: A child that holds the journal at argv[1] open (and locked) until its stdin closes.
HOLD_JOURNAL = """
import sys
from xprotect_events.journal import Journal
journal = Journal(sys.argv[1])
journal.open()
print("locked", flush=True)
sys.stdin.readline()
"""


async def test_a_journal_through_a_symlink_is_locked_as_by_its_real_path(
    sim: Simulator, tmp_path: Path
) -> None:
    """``journal``: "two runs never write one journal"; README exit code 2: a locked
    ``--journal``, whichever name it is given by."""
    source, real, link = tmp_path / "in.jsonl", tmp_path / "real.journal", tmp_path / "link.journal"
    source.write_bytes(_good("j1") + b"\n")
    link.symlink_to(real.name)
    holder = subprocess.Popen(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", HOLD_JOURNAL, str(real)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        by_real = await run_cli(
            "trigger-batch", str(source), "--journal", str(real), env=env_of(sim)
        )
        assert by_real.rc == EXIT_USAGE, by_real.err
        assert f"process {holder.pid}" in by_real.err
        by_link = await run_cli(
            "trigger-batch", str(source), "--journal", str(link), env=env_of(sim)
        )
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert sim.events_stored == 0  # nothing was sent by a run that could not have the journal
    assert by_link.rc == EXIT_USAGE, by_link.err
    assert f"process {holder.pid}" in by_link.err


# ----------------------------------------------------------------------------- a pipe


async def test_a_run_from_a_pipe_stopped_by_sigterm_exits_143_while_the_writer_is_still_open(
    sim: Simulator, tmp_path: Path
) -> None:
    """README: a pipe's "unread rest cannot be waited for, so the summary says loudly from
    which line on to send it again"; exit code 143 by SIGTERM. A writer that goes on (a
    ``tail -f``, a producer that a supervisor does not stop) must not hold the run."""
    args = ("trigger-batch", "-", "--json", "--chunk-size", "1", "--concurrency", "1")
    proc = await asyncio.create_subprocess_exec(
        cli_path(), *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env_of(sim), cwd=tmp_path,
    )  # fmt: skip
    assert proc.stdin is not None
    try:
        proc.stdin.write(b"".join(_good(f"p{i}") + b"\n" for i in range(1, 4)))
        await proc.stdin.drain()
        await read_until(proc.stdout, '"p3"')
        await _blocked_reading_a_pipe(proc.pid)  # waiting for line 4, as on a slow writer
        proc.send_signal(signal.SIGTERM)
        said = await read_until(proc.stderr, "interrupted")  # the summary is out: it is done
        assert any("from line 4 on" in line for line in said), said
        assert await asyncio.wait_for(proc.wait(), 5) == 128 + signal.SIGTERM  # stdin still open
    finally:
        proc.stdin.close()
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def _blocked_reading_a_pipe(pid: int) -> None:
    """Wait until a thread of ``pid`` sleeps in a pipe read (Linux: its ``wchan``)."""

    def reading() -> bool:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                if "pipe" in (task / "wchan").read_text():
                    return True
        return False

    if not Path(f"/proc/{pid}/task").is_dir():
        pytest.skip("needs /proc to see the reader wait")
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(15):
            while not reading():
                await asyncio.sleep(0.01)
            return
    pytest.skip("the reader was never seen waiting in a pipe read (no wchan here?)")
