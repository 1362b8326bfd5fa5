"""trigger-batch's outputs are never an input by another route, and never replace what is
not a regular file: stdout or stderr appended to the input (stdout and stderr may share
one log file), ``--rejects -``, a FIFO, a link to a
device (as root, the old code replaced /dev/null or /dev/stdout with a regular file).

Every path here lives in ``tmp_path``: a failing run can harm nothing outside it."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import orjson
import pytest

from tests.cli.running import CAMERA_1, PERSON, admin_env, cli_path, run_cli
from xprotect_events.cli import EXIT_NOT_ACCEPTED, EXIT_USAGE
from xprotect_events.testing.simulator import Simulator


def _input(path: Path, lines: int) -> bytes:
    good = (
        orjson.dumps({"type": PERSON, "source": CAMERA_1, "tag": f"t{i}"}) for i in range(lines)
    )
    data = b"".join(line + b"\n" for line in good) + b"bad\n"
    path.write_bytes(data)
    return data


async def test_stdout_appended_to_the_input_is_refused_before_anything_is_sent(
    sim: Simulator, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    before = _input(source, 3000)  # more than a block: the old run read its own output
    with source.open("ab") as stdout:
        proc = await asyncio.create_subprocess_exec(
            cli_path(), "trigger-batch", str(source), "--json",
            stdout=stdout, stderr=asyncio.subprocess.PIPE, env=admin_env(sim),
        )  # fmt: skip
        try:
            _, err = await asyncio.wait_for(proc.communicate(), 20)
        finally:
            if proc.returncode is None:  # the old code never ended (a full disk)
                proc.kill()
                await proc.wait()
    assert proc.returncode == EXIT_USAGE, err
    assert b"stdout and the input are the same file" in err
    assert source.read_bytes() == before
    assert sim.events_stored == 0


async def test_stderr_appended_to_the_input_is_refused_before_anything_is_sent(
    sim: Simulator, tmp_path: Path
) -> None:
    """``2>> in.jsonl``: the run's notes and progress would become lines of its input."""
    source = tmp_path / "in.jsonl"
    before = _input(source, 3)
    with source.open("ab") as stderr:
        done = await asyncio.create_subprocess_exec(
            cli_path(), "trigger-batch", str(source),
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr, env=admin_env(sim),
        )  # fmt: skip
        assert await asyncio.wait_for(done.wait(), 20) == EXIT_USAGE
    assert source.read_bytes().startswith(before)
    assert b"stderr and the input are the same file" in source.read_bytes()[len(before) :]
    assert sim.events_stored == 0


async def test_stdout_and_stderr_into_one_log_file_is_no_clash(
    sim: Simulator, tmp_path: Path
) -> None:
    """``> run.log 2>&1``: one file on purpose, the run goes on and accounts for every line."""
    source, log = tmp_path / "in.jsonl", tmp_path / "run.log"
    _input(source, 3)
    with log.open("wb") as out:
        done = await asyncio.create_subprocess_exec(
            cli_path(), "trigger-batch", str(source), "--json",
            stdout=out, stderr=out, env=admin_env(sim),
        )  # fmt: skip
        assert await asyncio.wait_for(done.wait(), 20) == EXIT_NOT_ACCEPTED
    assert sim.events_stored == 3
    assert b"3 accepted, 1 rejected" in log.read_bytes()


@pytest.mark.parametrize("rejects", ["-", "/dev/stdout"])
async def test_rejects_to_stdout_redirected_to_a_file_are_written_there(
    sim: Simulator, tmp_path: Path, rejects: str
) -> None:
    """``--rejects - > rejects.txt``: stdout is the rejects file, by design (it was refused
    as "stdout and the rejects file are the same file")."""
    source, out = tmp_path / "in.jsonl", tmp_path / "rejects.txt"
    _input(source, 2)
    with out.open("wb") as stdout:
        done = await asyncio.create_subprocess_exec(
            cli_path(), "trigger-batch", str(source), "--rejects", rejects,
            stdout=stdout, stderr=asyncio.subprocess.DEVNULL, env=admin_env(sim),
        )  # fmt: skip
        assert await asyncio.wait_for(done.wait(), 20) == EXIT_NOT_ACCEPTED
    (record,) = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert record["_reject"]["line"] == 3
    assert sim.events_stored == 2


async def test_rejects_to_stdout_with_a_dash_leave_no_file_and_refuse_json(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "in.jsonl"
    _input(source, 1)
    monkeypatch.chdir(tmp_path)
    done = await run_cli("trigger-batch", "in.jsonl", "--rejects", "-", env=admin_env(sim))
    assert done.rc == EXIT_NOT_ACCEPTED, done.err
    assert [r["_reject"]["raw"] for r in done.json_lines()] == ["bad"]
    assert "written with reasons to stdout" in done.err
    assert not (tmp_path / "-").exists()
    both = await run_cli(
        "trigger-batch", "in.jsonl", "--rejects", "-", "--json", env=admin_env(sim)
    )
    assert both.rc == EXIT_USAGE, both.err
    assert "would both write stdout" in both.err


async def test_rejects_into_a_fifo_or_a_link_to_a_device_keep_them_as_they_are(
    sim: Simulator, tmp_path: Path
) -> None:
    source, fifo, null = tmp_path / "in.jsonl", tmp_path / "fifo", tmp_path / "null"
    _input(source, 1)
    os.mkfifo(fifo)
    null.symlink_to(os.devnull)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a writer may open it now
    try:
        done = await run_cli(
            "trigger-batch", str(source), "--rejects", str(fifo), env=admin_env(sim)
        )
        assert done.rc == EXIT_NOT_ACCEPTED, done.err
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a file"
        assert orjson.loads(os.read(reader, 65536))["_reject"]["raw"] == "bad"
    finally:
        os.close(reader)
    for lines in (["bad"], []):  # with rejects, and a clean run (which removes old ones)
        source.write_bytes(b"".join(line.encode() + b"\n" for line in lines))
        done = await run_cli(
            "trigger-batch", str(source), "--rejects", str(null), env=admin_env(sim)
        )
        assert "Traceback" not in done.err
        assert null.is_symlink(), done.err
        assert os.readlink(null) == os.devnull
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


async def test_rejects_through_a_link_write_the_file_it_names(
    sim: Simulator, tmp_path: Path
) -> None:
    source, real, link = tmp_path / "in.jsonl", tmp_path / "kept" / "r.jsonl", tmp_path / "r"
    _input(source, 1)
    real.parent.mkdir()
    link.symlink_to(real)
    done = await run_cli("trigger-batch", str(source), "--rejects", str(link), env=admin_env(sim))
    assert done.rc == EXIT_NOT_ACCEPTED, done.err
    assert link.is_symlink()
    assert orjson.loads(real.read_bytes())["_reject"]["raw"] == "bad"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
