"""trigger-batch accounts for every input line, whatever the line (h-cli3): one longer
than the most a line may be is rejected as a line of its own (never held whole, never
dropped, and a rerun with its journal or its rejects file still works).

See ``tests/cli/running.py`` for how the console script is run (against a simulator in
this process, over loopback; nothing sleeps to win a race)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from tests.cli.running import CAMERA_1, PERSON, admin_env, cli_path, run_cli
from tests.helpers import wait_until
from xprotect_events.cli import EXIT_NOT_ACCEPTED, EXIT_USAGE
from xprotect_events.jsonlines import MAX_LINE_BYTES
from xprotect_events.testing.simulator import Simulator


def _good(tag: str) -> bytes:
    return orjson.dumps({"type": PERSON, "source": CAMERA_1, "tag": tag})


def _long() -> bytes:
    """A trigger line one byte longer than the most a line may be."""
    start = b'{"type": "' + PERSON.encode() + b'", "tag": "'
    return start + b"x" * (MAX_LINE_BYTES + 1 - len(start) - 2) + b'"}'


def _records(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


async def test_a_line_longer_than_the_maximum_is_rejected_as_one_line(
    sim: Simulator, tmp_path: Path
) -> None:
    source, rejects = tmp_path / "in.jsonl", tmp_path / "rejects.jsonl"
    long = _long()
    assert len(long) == MAX_LINE_BYTES + 1
    source.write_bytes(b"\n".join([_good("a"), long, _good("b")]) + b"\n")
    done = await run_cli(
        "trigger-batch", str(source), "--rejects", str(rejects), env=admin_env(sim)
    )
    assert done.rc == EXIT_NOT_ACCEPTED, done.err
    assert "3 line(s): 2 accepted, 1 rejected, 0 unknown" in done.err
    assert sim.events_stored == 2
    (record,) = _records(rejects)
    assert record == {
        "_reject": {"line": 2, "status": "rejected", "reason": record["_reject"]["reason"]}  # type: ignore[index]
    }
    assert "longer than 8 MiB" in record["_reject"]["reason"]  # type: ignore[index]
    again = await run_cli(
        "trigger-batch", str(rejects), "--rejects", str(tmp_path / "again.jsonl"),
        env=admin_env(sim),
    )  # fmt: skip
    assert again.rc == EXIT_NOT_ACCEPTED, again.err
    (resent,) = _records(tmp_path / "again.jsonl")
    assert "keeps no line" in resent["_reject"]["reason"]  # type: ignore[index]
    assert sim.events_stored == 2


async def test_a_journal_rerun_over_a_long_line_skips_it(sim: Simulator, tmp_path: Path) -> None:
    source, journal = tmp_path / "in.jsonl", tmp_path / "journal"
    source.write_bytes(b"\n".join([_good("a"), _long()]))  # the long line is the last
    for _ in range(2):
        done = await run_cli(
            "trigger-batch", str(source), "--journal", str(journal), env=admin_env(sim)
        )
        assert done.rc == EXIT_NOT_ACCEPTED, done.err
        assert "2 line(s): 1 accepted, 1 rejected, 0 unknown" in done.err
    assert "2 skipped" in done.err
    assert sim.events_stored == 1


async def test_a_second_run_writing_the_same_rejects_file_is_refused_before_sending(
    sim: Simulator, tmp_path: Path
) -> None:
    rejects, other = tmp_path / "rejects.jsonl", tmp_path / "other.jsonl"
    other.write_bytes(_good("second") + b"\nbad second\n")
    args = ("trigger-batch", "--chunk-size", "1", "--rejects", str(rejects))
    first = await asyncio.create_subprocess_exec(
        cli_path(), *args, "-", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=admin_env(sim),
    )  # fmt: skip
    try:
        assert first.stdin is not None
        first.stdin.write(_good("first") + b"\n")
        await first.stdin.drain()
        await wait_until(lambda: sim.events_stored == 1, "the first run sent its line")
        second = await run_cli(*args, str(other), env=admin_env(sim))
        assert second.rc == EXIT_USAGE, second.err
        assert "in use by another trigger-batch run" in second.err
        assert sim.events_stored == 1  # the second run sent nothing
        first.stdin.write(b"bad first\n")
        first.stdin.close()
        _, err = await asyncio.wait_for(first.communicate(), 30)
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
    assert first.returncode == EXIT_NOT_ACCEPTED, err
    assert [r["_reject"]["raw"] for r in _records(rejects)] == ["bad first"]  # type: ignore[index]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.jsonl", "rejects.jsonl"]
