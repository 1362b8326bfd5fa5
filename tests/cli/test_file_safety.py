"""A command never destroys a user's data, and accounts for every input line: a UTF-8
byte order mark at the start of a trigger-batch input, watch's stdout redirected onto its
checkpoint (or the checkpoint's lock or temp file), a journal path naming a user's file.

Every path here lives in ``tmp_path``: a failing run can harm nothing outside it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import certifi
import orjson
import pytest

from tests.cli.running import CAMERA_1, PERSON, admin_env, cli_path, run_cli
from xprotect_events.cli import EXIT_NOT_ACCEPTED, EXIT_OK, EXIT_USAGE
from xprotect_events.cli.batchfile import count_lines
from xprotect_events.jsonlines import LineSplitter
from xprotect_events.testing.simulator import Simulator

BOM = b"\xef\xbb\xbf"


def _lines(count: int) -> bytes:
    lines = (
        orjson.dumps({"type": PERSON, "source": CAMERA_1, "tag": f"t{i}"}) for i in range(count)
    )
    return b"".join(line + b"\n" for line in lines)


async def test_a_bom_at_the_start_of_the_input_is_skipped_and_nowhere_else(
    sim: Simulator, tmp_path: Path
) -> None:
    source, journal = tmp_path / "in.jsonl", tmp_path / "in.journal"
    source.write_bytes(BOM + _lines(2) + BOM + _lines(1))  # the second BOM: a bad line 3
    args = ("trigger-batch", str(source), "--journal", str(journal), "--json")
    first = await run_cli(*args, env=admin_env(sim))
    assert first.rc == EXIT_NOT_ACCEPTED, first.err
    statuses = {r["line"]: r["status"] for r in first.json_lines()}
    assert statuses == {1: "accepted", 2: "accepted", 3: "rejected"}
    assert "3 line(s): 2 accepted, 1 rejected, 0 unknown" in first.err
    rejects = Path(f"{source}.rejects.jsonl").read_bytes().splitlines()
    assert [orjson.loads(r)["_reject"]["line"] for r in rejects] == [3]
    assert orjson.loads(rejects[0])["_reject"]["raw"].startswith("\ufeff")
    again = await run_cli(*args, env=admin_env(sim))  # the journal agrees with the input
    assert "3 skipped, 0 reconciled (0 found, 0 resent, 0 still unknown), 0 sent" in again.err
    assert sim.events_stored == 2


@pytest.mark.parametrize("blank", [False, True])
async def test_a_bom_at_the_start_of_stdin_is_skipped(
    sim: Simulator, tmp_path: Path, blank: bool
) -> None:
    data = BOM + (b"\n" if blank else b"") + _lines(1)
    done = await run_cli(
        "trigger-batch", "-", "--rejects", str(tmp_path / "r.jsonl"), "--json",
        env=admin_env(sim), stdin=data,
    )  # fmt: skip
    assert done.rc == EXIT_OK, done.err
    assert [r["line"] for r in done.json_lines()] == [2 if blank else 1]
    assert ("1 blank (skipped)" in done.err) is blank
    assert sim.events_stored == 1


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (BOM + b"{}\n", [(1, b"{}")]),
        (BOM + BOM + b"{}", [(1, BOM + b"{}")]),  # one BOM only, at the start
        (BOM, []),
        (BOM[:2], [(1, BOM[:2])]),  # not a BOM: a line, kept as it is
        (b"{}\n" + BOM + b"{}", [(1, b"{}"), (2, BOM + b"{}")]),
    ],
)
def test_a_bom_split_across_reads_is_skipped_as_one(
    tmp_path: Path, data: bytes, lines: list[tuple[int, bytes]]
) -> None:
    splitter = LineSplitter()
    got = [line for byte in range(len(data)) for line in splitter.feed(data[byte : byte + 1])]
    assert got + splitter.end() == lines
    source = tmp_path / "in.jsonl"
    source.write_bytes(data)
    assert count_lines(source) == len(lines)


async def _watch_into(sim: Simulator, stdout: Path, *args: str, append: bool = True) -> bytes:
    """Run ``watch ARGS >> stdout`` (``>`` without ``append``); its stderr."""
    with stdout.open("ab" if append else "wb") as out:
        proc = await asyncio.create_subprocess_exec(
            cli_path(), "watch", "--json", *args,
            stdout=out, stderr=asyncio.subprocess.PIPE, env=admin_env(sim),
        )  # fmt: skip
        try:
            _, err = await asyncio.wait_for(proc.communicate(), 20)
        finally:
            if proc.returncode is None:  # the old code watched on, into the checkpoint
                proc.kill()
                await proc.wait()
    assert proc.returncode == EXIT_USAGE, err
    return err


@pytest.mark.parametrize("suffix", ["", ".lock", ".tmp"])
async def test_watch_refuses_stdout_redirected_onto_its_checkpoint_files(
    sim: Simulator, tmp_path: Path, suffix: str
) -> None:
    checkpoint = tmp_path / "pos.json"
    target = tmp_path / f"pos.json{suffix}"
    target.write_bytes(b"kept\n")
    err = await _watch_into(sim, target, "--checkpoint", str(checkpoint))
    assert b"stdout and the checkpoint" in err, err
    assert target.read_bytes() == b"kept\n"
    assert not Path(f"{checkpoint}.lock").exists() or suffix == ".lock"


async def test_watch_refuses_a_checkpoint_that_is_stdout_by_another_name(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"kept\n")
    (tmp_path / "hard").hardlink_to(out)
    monkeypatch.chdir(tmp_path)
    for name in ("/dev/stdout", "hard", "../" + tmp_path.name + "/out.jsonl"):
        err = await _watch_into(sim, out, "--checkpoint", name)
        assert b"stdout and the checkpoint are the same file" in err, err
        assert out.read_bytes() == b"kept\n"


async def test_a_journal_path_naming_a_file_of_one_line_leaves_it_as_it_is(
    sim: Simulator, tmp_path: Path
) -> None:
    source, notes = tmp_path / "in.jsonl", tmp_path / "notes.txt"
    source.write_bytes(_lines(1))
    notes.write_bytes(b'{"my": "settings, no newline at the end"}')
    done = await run_cli("trigger-batch", str(source), "--journal", str(notes), env=admin_env(sim))
    assert done.rc == EXIT_USAGE, done.err
    assert "not a trigger-batch journal" in done.err
    assert notes.read_bytes() == b'{"my": "settings, no newline at the end"}'
    assert sim.events_stored == 0


async def test_a_journal_whose_header_was_torn_is_started_again(
    sim: Simulator, tmp_path: Path
) -> None:
    source, journal = tmp_path / "in.jsonl", tmp_path / "in.journal"
    source.write_bytes(_lines(1))
    journal.write_bytes(b'{"journal":"xprotect-ev')  # a crash while the header was written
    done = await run_cli(
        "trigger-batch", str(source), "--journal", str(journal), env=admin_env(sim)
    )
    assert done.rc == EXIT_OK, done.err
    assert sim.events_stored == 1


async def test_a_journal_or_checkpoint_that_is_no_regular_file_is_refused_unlocked(
    sim: Simulator, tmp_path: Path
) -> None:
    source, fifo = tmp_path / "in.jsonl", tmp_path / "fifo"
    source.write_bytes(_lines(1))
    os.mkfifo(fifo)
    batch = await run_cli("trigger-batch", str(source), "--journal", str(fifo), env=admin_env(sim))
    watch = await run_cli("watch", "--checkpoint", str(fifo), env=admin_env(sim), timeout=20)
    for done in (batch, watch):
        assert done.rc == EXIT_USAGE, done.err
        assert f"{fifo} is not a regular file" in done.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "in.jsonl"]  # no lock made
    assert sim.events_stored == 0


async def test_no_output_may_be_the_ca_bundle(sim: Simulator, tmp_path: Path) -> None:
    source, ca = tmp_path / "in.jsonl", tmp_path / "ca.pem"
    source.write_bytes(_lines(1))
    ca.write_bytes(Path(certifi.where()).read_bytes())
    before = ca.read_bytes()
    runs = [
        ("trigger-batch", str(source), "--rejects", str(ca)),  # all accepted: it was removed
        ("trigger-batch", str(source), "--journal", str(ca)),
        ("watch", "--checkpoint", str(ca)),
    ]
    for args in runs:
        done = await run_cli(*args, "--ca-bundle", str(ca), env=admin_env(sim), timeout=20)
        assert done.rc == EXIT_USAGE, done.err
        assert "and the CA bundle (--ca-bundle) are the same file" in done.err, done.err
        assert ca.read_bytes() == before
    assert sim.events_stored == 0


async def test_a_ca_bundle_that_does_not_load_is_a_usage_error_before_anything(
    sim: Simulator, tmp_path: Path
) -> None:
    """It was found when the run logged in: every line was written to a new rejects file as
    "not sent" first. (The input may be the bundle: both are only read.)"""
    source, empty = tmp_path / "in.jsonl", tmp_path / "empty.pem"
    source.write_bytes(_lines(2))
    empty.write_bytes(b"")
    for ca in (source, empty):
        done = await run_cli(
            "trigger-batch", str(source), "--ca-bundle", str(ca), env=admin_env(sim)
        )
        assert done.rc == EXIT_USAGE, done.err
        assert "cannot load the CA bundle" in done.err
        assert done.err.count("\n") == 1, done.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.pem", "in.jsonl"]  # no rejects
    assert sim.stats.token_requests == 0
    assert not sim.stats.requests


async def test_a_rejects_path_naming_a_file_no_run_wrote_is_refused(
    sim: Simulator, tmp_path: Path
) -> None:
    source, notes = tmp_path / "in.jsonl", tmp_path / "notes.txt"
    source.write_bytes(_lines(1))
    notes.write_bytes(b"my notes\n" + b"x" * 100_000)
    done = await run_cli("trigger-batch", str(source), "--rejects", str(notes), env=admin_env(sim))
    assert done.rc == EXIT_USAGE, done.err
    assert "is not a rejects file" in done.err
    assert notes.read_bytes().startswith(b"my notes\n")
    assert sim.events_stored == 0
    old = tmp_path / "old.jsonl"  # a rejects file of an earlier run: replaced as before
    old.write_bytes(b'{"type":"x","_reject":{"line":1,"status":"rejected","reason":"r"}}\n')
    again = await run_cli("trigger-batch", str(source), "--rejects", str(old), env=admin_env(sim))
    assert again.rc == EXIT_OK, again.err
    assert not old.exists()


@pytest.mark.parametrize("name", ["/dev/stdout", "/proc/self/fd/1"])
async def test_rejects_to_stdout_by_another_name_refuse_json(
    sim: Simulator, tmp_path: Path, name: str
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(_lines(1) + b"bad\n")
    done = await run_cli(
        "trigger-batch", str(source), "--rejects", name, "--json", env=admin_env(sim)
    )
    assert done.rc == EXIT_USAGE, done.out
    assert "and --json would both write stdout" in done.err
    assert sim.events_stored == 0


async def test_rejects_to_dev_stdout_reach_a_pipe(sim: Simulator, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(_lines(1) + b"bad\n")
    done = await run_cli(
        "trigger-batch", str(source), "--rejects", "/dev/stdout", env=admin_env(sim)
    )
    assert done.rc == EXIT_NOT_ACCEPTED, done.err
    assert [r["_reject"]["raw"] for r in done.json_lines()] == ["bad"]
    assert "written with reasons to /dev/stdout" in done.err
