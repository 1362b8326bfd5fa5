"""Regression tests of the CLI review: no output file may clobber an input, every input line
is accounted for, and every error is one line with its documented exit code.

See ``tests/cli/running.py`` for how the console script is run (against a simulator in
this process, over loopback; nothing sleeps to win a race)."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
from pathlib import Path

import orjson
import pytest

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
)
from xprotect_events.cli import EXIT_NOT_ACCEPTED, EXIT_OK, EXIT_USAGE, LISTENING
from xprotect_events.client import XProtectClient
from xprotect_events.models import EventTrigger
from xprotect_events.testing.simulator import Simulator


def _good(tag: str) -> bytes:
    return orjson.dumps({"type": PERSON, "source": CAMERA_1, "tag": tag})


def _write(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def _one_error_line(err: str) -> None:
    assert "Traceback" not in err, err
    assert [line for line in err.splitlines() if line.startswith("error:")], err


async def _tags(client: XProtectClient) -> set[str]:
    return {e.tag async for e in client.list_events() if e.tag is not None}


def _rejects(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


# --------------------------------------------------------------------------- 1, 7: distinct files


@pytest.mark.parametrize("case", ["rejects is the journal", "journal is the default rejects"])
async def test_a_journal_that_is_the_rejects_file_is_refused_and_kept(
    sim: Simulator, tmp_path: Path, case: str
) -> None:
    source, journal = tmp_path / "k.jsonl", tmp_path / "k.journal"
    _write(source, [_good("k1"), b"bad"])
    if case == "journal is the default rejects":
        journal = tmp_path / "k.jsonl.rejects.jsonl"
    first = await run_cli("trigger-batch", str(source), "--journal", str(journal), "--rejects",
                          str(tmp_path / "first.jsonl"), env=admin_env(sim))  # fmt: skip
    assert first.rc == EXIT_NOT_ACCEPTED, first.err
    before = journal.read_bytes()
    args = ["trigger-batch", str(source), "--journal", str(journal)]
    if case == "rejects is the journal":
        args += ["--rejects", str(journal)]
    again = await run_cli(*args, env=admin_env(sim))
    assert again.rc == EXIT_USAGE, again.err
    _one_error_line(again.err)
    assert "same file" in again.err
    assert journal.read_bytes() == before, "the journal was destroyed"
    assert sim.events_stored == 1


async def test_a_journal_that_is_the_input_is_refused_before_taking_a_lock(
    sim: Simulator, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    _write(source, [_good("x1")])
    before = source.read_bytes()
    result = await run_cli("trigger-batch", str(source), "--journal", str(source),
                           env=admin_env(sim))  # fmt: skip
    assert result.rc == EXIT_USAGE, result.err
    _one_error_line(result.err)
    assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]  # no in.jsonl.lock
    assert sim.events_stored == 0


async def test_local_file_errors_exit_with_the_usage_code(sim: Simulator, tmp_path: Path) -> None:
    source, notajournal = tmp_path / "in.jsonl", tmp_path / "notes.txt"
    _write(source, [_good("x1")])
    notajournal.write_text("my notes\n")
    wrong = await run_cli("trigger-batch", str(source), "--journal", str(notajournal),
                          env=admin_env(sim))  # fmt: skip
    assert wrong.rc == EXIT_USAGE, wrong.err
    _one_error_line(wrong.err)
    assert notajournal.read_text() == "my notes\n"
    checkpoint = tmp_path / "watch.pos"
    checkpoint.write_text("{not json")
    bad = await run_cli("watch", "--checkpoint", str(checkpoint), env=admin_env(sim))
    assert bad.rc == EXIT_USAGE, bad.err
    _one_error_line(bad.err)


# --------------------------------------------------------------------------- 2: stale rejects


async def test_a_clean_run_removes_the_rejects_file_of_an_earlier_run(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    rejects = Path(f"{source}.rejects.jsonl")
    _write(source, [_good("a1"), b"bad"])
    assert (await run_cli("trigger-batch", str(source), env=admin_env(sim))).rc == 1
    assert rejects.exists()
    _write(source, [_good("a2")])  # fixed: now all good
    clean = await run_cli("trigger-batch", str(source), env=admin_env(sim))
    assert clean.rc == EXIT_OK, clean.err
    assert not rejects.exists(), "a stale rejects file survived a clean run"
    assert "removed the rejects file of an earlier run" in clean.err
    assert await _tags(service_client) == {"a1", "a2"}


# --------------------------------------------------------------------------- 3: unwritable rejects


@pytest.mark.parametrize("where", ["a missing directory", "a file as directory"])
async def test_a_rejects_file_that_cannot_be_written_is_refused_before_sending(
    sim: Simulator, tmp_path: Path, where: str
) -> None:
    source = tmp_path / "in.jsonl"
    _write(source, [_good("b1"), b"bad"])
    folder = tmp_path / "nodir"
    if where == "a file as directory":
        folder.write_text("")
    for option in ("--rejects", "--journal"):
        result = await run_cli("trigger-batch", str(source), option, str(folder / "r.jsonl"),
                               env=admin_env(sim))  # fmt: skip
        assert result.rc == EXIT_USAGE, result.err
        _one_error_line(result.err)
    assert sim.events_stored == 0


def _small_files() -> None:
    """In the child: files may not grow beyond 4 KiB (EFBIG, the signal ignored)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


def _without_coverage(env: dict[str, str]) -> dict[str, str]:
    """No coverage in a child whose files may not grow: its data file would fail to write."""
    return {k: v for k, v in env.items() if not k.startswith(("COV_CORE", "COVERAGE"))}


async def test_a_rejects_file_that_fails_while_written_is_one_line_and_counts_every_line(
    sim: Simulator, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    lines = [_good(f"c{i}") if i % 2 else f"bad line {i} ".encode() * 20 for i in range(400)]
    _write(source, lines)
    proc = await asyncio.create_subprocess_exec(
        cli_path(), "trigger-batch", str(source),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=_without_coverage(admin_env(sim)), preexec_fn=_small_files,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    text = err.decode()
    assert proc.returncode == EXIT_USAGE, text
    _one_error_line(text)
    assert "cannot write the rejects file" in text
    assert "400 line(s): 200 accepted, 200 rejected, 0 unknown" in text
    assert sim.events_stored == 200
    assert [p.name for p in tmp_path.iterdir()] == ["in.jsonl"]  # no temporary file left


# --------------------------------------------------------------------------- 4: stopped runs


async def test_after_sigterm_every_unread_line_is_in_the_rejects_file(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    count = 3000
    _write(source, [_good(f"t{i}") for i in range(count)])
    args = ("trigger-batch", str(source), "--json", "--chunk-size", "1", "--concurrency", "1")
    async with cli_process(*args, env=admin_env(sim)) as proc:
        await read_until(proc.stdout, '"accepted"')
        proc.send_signal(signal.SIGTERM)
        _, raw = await asyncio.wait_for(proc.communicate(), 60)  # both pipes read: no stall
        err = raw.decode()
        assert proc.returncode == 128 + signal.SIGTERM, err
    accepted = await _tags(service_client)
    records = _rejects(Path(f"{source}.rejects.jsonl"))
    kept = {str(r["tag"]) for r in records}
    statuses = {str(r["_reject"]["status"]) for r in records}  # type: ignore[index]
    assert "not sent" in statuses, err
    assert len(kept) == len(records)
    assert {f"t{i}" for i in range(count)} - accepted - kept == set(), err
    resent = await run_cli("trigger-batch", str(Path(f"{source}.rejects.jsonl")), "--rejects",
                           str(tmp_path / "again.jsonl"), env=admin_env(sim))  # fmt: skip
    assert resent.rc == EXIT_OK, resent.err
    assert sim.events_stored >= count  # the unknown ones may have landed twice, no more
    assert sim.events_stored <= count + sum(
        1 for r in records if r["_reject"]["status"] == "unknown"
    )  # type: ignore[index]


# --------------------------------------------------------------------------- 5: output errors


async def test_a_full_disk_under_stdout_is_one_line_not_a_traceback(
    sim: Simulator, tmp_path: Path
) -> None:
    sim.store_events([EventTrigger(type=PERSON, source=CAMERA_1, tag=f"f{i}") for i in range(50)])
    with open("/dev/full", "wb") as full:
        proc = await asyncio.create_subprocess_exec(
            cli_path(), "list", "--limit", "0",
            stdout=full, stderr=asyncio.subprocess.PIPE, env=admin_env(sim),
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    text = err.decode()
    assert proc.returncode == EXIT_USAGE, text
    _one_error_line(text)
    assert len(text.strip().splitlines()) == 1, text


# --------------------------------------------------------------------------- 6: watch filters


async def test_watch_takes_the_source_name_operators_of_list(
    sim: Simulator, service_client: XProtectClient
) -> None:
    args = ("watch", "--json", "--poll-interval", "0.05", "--source-name", "contains:Entrance")
    async with cli_process(*args, env=admin_env(sim)) as proc:
        await read_until(proc.stderr, "watching events")
        await service_client.trigger_event(EventTrigger(type=PERSON, source=CAMERA_1, tag="w"))
        (line,) = await read_until(proc.stdout, '"w"')
        assert orjson.loads(line)["event"]["tag"] == "w"
        proc.send_signal(signal.SIGINT)
        assert await finish(proc) == EXIT_OK


# --------------------------------------------------------------------------- 8, 9


async def test_a_fifo_is_read_as_the_input(sim: Simulator, tmp_path: Path) -> None:
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with fifo.open("wb") as f:
            f.write(_good("p1") + b"\n" + _good("p2") + b"\n")

    writer = asyncio.create_task(asyncio.to_thread(feed))
    result = await run_cli("trigger-batch", str(fifo), "--rejects", str(tmp_path / "r.jsonl"),
                           env=admin_env(sim))  # fmt: skip
    if not writer.done():  # the CLI never opened it: let the writer go
        os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    await writer
    assert result.rc == EXIT_OK, result.err
    assert sim.events_stored == 2


async def test_blank_lines_are_counted_as_skipped(sim: Simulator, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(_good("b1") + b"\n\n   \n" + _good("b2") + b"\n\n")
    result = await run_cli("trigger-batch", str(source), env=admin_env(sim))
    assert result.rc == EXIT_OK, result.err
    assert "5 line(s): 2 accepted, 0 rejected, 0 unknown, 3 blank (skipped)" in result.err


async def test_serve_prints_the_listening_line_first() -> None:
    proc = await asyncio.create_subprocess_exec(
        cli_path(), "serve", "--port", "0", "--seed-events", "5", "--no-access-log",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=clean_env(),
    )  # fmt: skip
    try:
        lines = await read_until(proc.stdout, "seeded 5 event(s)")
        assert lines[0].startswith(LISTENING), lines
    finally:
        proc.send_signal(signal.SIGINT)
        await finish(proc)
