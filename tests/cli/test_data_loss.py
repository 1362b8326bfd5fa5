"""Proof (issue 12): the CLI and the injector never destroy or drop an input line.

``xprotect-events trigger-batch`` runs as a subprocess (its real console script) against
a simulator in this process. After every run, each input line is either accepted (its
tag is stored on the server) or present byte for byte in the rejects file: as a line of
its own, or as the ``raw`` text a reject record keeps (through any number of resends).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from pathlib import Path
from typing import IO, Any

import attrs
import orjson
import pytest

from xprotect_events import XProtectClient
from xprotect_events.testing import Simulator, seed

PERSON = str(seed.ANALYTICS_EVENT)
MOTION = str(seed.MOTION_STARTED)
CAMERA = f"cameras/{seed.CAMERA_IDS[0]}"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@attrs.frozen
class Run:
    rc: int
    out: str
    err: str


def console_script() -> str:
    beside = Path(sys.executable).parent / "xprotect-events"
    found = str(beside) if beside.exists() else shutil.which("xprotect-events")
    if found is None:
        pytest.fail("the xprotect-events console script is not installed: pip install -e .")
    return found


def env_for(sim: Simulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XPROTECT_")}
    env.pop("COLUMNS", None)
    env.update(XPROTECT_URL=sim.url, XPROTECT_USERNAME="admin", XPROTECT_PASSWORD="admin")
    return env


async def run(
    sim: Simulator, *args: str, cwd: Path, stdin: IO[bytes] | None = None, timeout: float = 60
) -> Run:
    """Run ``args`` (the console script unless the first is the interpreter), bounded."""
    program = args if args[0] == sys.executable else (console_script(), *args)
    proc = await asyncio.create_subprocess_exec(
        *program,
        stdin=stdin if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env_for(sim),
        cwd=cwd,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


async def stored_tags(client: XProtectClient) -> set[str]:
    return {e.tag async for e in client.list_events() if e.tag is not None}


def raws(line: str) -> list[str]:
    """A rejects line and the raw texts nested in it (``_reject.raw``, at any depth)."""
    found = [line]
    value: Any = line
    for _ in range(100):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            break
        note = value.get("_reject") if isinstance(value, dict) else None
        if not isinstance(note, dict) or not isinstance(note.get("raw"), str):
            break
        value = note["raw"]
        found.append(value)
    return found


def kept(rejects: Path) -> set[str]:
    if not rejects.exists():
        return set()
    lines = rejects.read_bytes().decode().splitlines()
    return {text for line in lines for text in raws(line)}


def lost(lines: list[str], accepted: set[str], rejects: Path) -> list[str]:
    """The input lines neither accepted nor kept byte for byte in ``rejects``."""
    saved = kept(rejects)
    return [line for line in lines if tag_of(line) not in accepted and line not in saved]


def tag_of(line: str) -> str | None:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    tag = obj.get("tag") if isinstance(obj, dict) else None
    return tag if isinstance(tag, str) else None


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_bytes("".join(f"{line}\n" for line in lines).encode())


def mixed_lines(count: int) -> list[str]:
    """Rejects-file lines as a user resends them: a third would now be accepted, the rest
    are refused (a bad type, not JSON), some with an old ``_reject`` note."""
    lines = []
    for i in range(count):
        note = {"line": i + 1, "status": "rejected", "reason": "an earlier run"}
        if i % 3 == 0:
            good = {"type": PERSON, "source": CAMERA, "tag": f"ok-{i}", "datatype": None}
            lines.append(orjson.dumps({**good, "_reject": note}).decode())
        elif i % 3 == 1:
            lines.append(orjson.dumps({"type": "not-a-guid", "tag": f"bad-{i}"}).decode())
        else:
            lines.append(f"not json, line {i}")
    return lines


@pytest.fixture
def size(soak: bool) -> int:
    return 20_000 if soak else 1_000


async def test_stdin_redirected_from_the_default_rejects_file_loses_nothing(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path, size: int
) -> None:
    """``trigger-batch - < rejects.jsonl``: the default rejects file is the one the shell
    feeds in (it was truncated while being read: 19,691 of 20,000 lines gone)."""
    lines = mixed_lines(size)
    source = tmp_path / "rejects.jsonl"
    write_lines(source, lines)
    with source.open("rb") as stdin:
        result = await run(sim, "trigger-batch", "-", cwd=tmp_path, stdin=stdin)
    accepted = await stored_tags(service_client)
    saved = source.read_bytes().decode().splitlines() if source.exists() else []
    assert len(accepted) + len(saved) >= size, (
        f"{len(accepted)} accepted and {len(saved)} in the rejects file, of {size} lines "
        f"(exit {result.rc}): {result.err[-300:]}"
    )
    missing = lost(lines, accepted, source)
    assert missing == [], f"{len(missing)} of {size} lines lost, e.g. {missing[:2]}"


SAME_FILE = ["the same path", "another spelling", "a symbolic link", "a hard link", "stdin"]


@pytest.mark.parametrize("how", SAME_FILE)
async def test_a_rejects_file_that_is_the_input_is_refused_before_reading(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path, size: int, how: str
) -> None:
    lines = mixed_lines(size)
    source = tmp_path / "same.jsonl"
    write_lines(source, lines)
    before = source.read_bytes()
    rejects = {"the same path": str(source), "another spelling": "./sub/../same.jsonl"}
    (tmp_path / "sub").mkdir()
    if how == "a symbolic link":
        (tmp_path / "link.jsonl").symlink_to(source)
        rejects[how] = str(tmp_path / "link.jsonl")
    elif how == "a hard link":
        os.link(source, tmp_path / "hard.jsonl")
        rejects[how] = str(tmp_path / "hard.jsonl")
    if how == "stdin":
        with source.open("rb") as stdin:
            args = ("trigger-batch", "-", "--rejects", "same.jsonl")
            result = await run(sim, *args, cwd=tmp_path, stdin=stdin)
    else:
        args = ("trigger-batch", "same.jsonl", "--rejects", rejects[how])
        result = await run(sim, *args, cwd=tmp_path)
    assert source.read_bytes() == before, f"the input was rewritten (exit {result.rc})"
    assert result.rc != 0
    assert await stored_tags(service_client) == set(), "lines were sent before refusing"


async def test_a_reject_resent_again_and_again_keeps_its_raw_line(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path
) -> None:
    """A reject kept as ``{"_reject": {"raw": …}}`` lost its raw text when resent."""
    originals = [
        "not json at all",
        "[1, 2, 3]",
        '{"type": "not-a-guid",   "tag": "spaced out"}',
        orjson.dumps({"type": MOTION, "source": CAMERA, "tag": "not for admin"}).decode(),
        '{"type": "' + PERSON + '", "tag": "caf\\u00e9", "bogus": 1}',
    ]
    current = tmp_path / "in.jsonl"
    write_lines(current, originals)
    runs = []
    for attempt in range(1, 4):
        rejects = tmp_path / f"rejects-{attempt}.jsonl"
        args = ("trigger-batch", str(current), "--rejects", str(rejects))
        result = await run(sim, *args, cwd=tmp_path)
        assert result.rc == 1, result.err
        runs.append(kept(rejects))
        current = rejects
    raw_kept = ["not json at all" in saved for saved in runs]
    assert all(raw_kept), f"the raw text of a non-JSON line, kept after each resend: {raw_kept}"
    for attempt, saved in enumerate(runs, 1):
        missing = [line for line in originals if line not in saved]
        assert missing == [], f"resend {attempt}: not kept byte for byte: {missing}"
    assert await stored_tags(service_client) == set()


async def test_a_naive_time_in_a_batch_line_is_refused_with_its_line_number(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path
) -> None:
    def line(tag: str, time: str) -> str:
        return orjson.dumps({"type": PERSON, "source": CAMERA, "tag": tag, "time": time}).decode()

    lines = [
        line("aware", "2024-05-01T12:00:00Z"),
        line("naive", "2024-05-01T12:00:00"),
        line("offset", "2024-05-01T14:00:00+02:00"),
    ]
    source = tmp_path / "times.jsonl"
    write_lines(source, lines)
    result = await run(sim, "trigger-batch", str(source), cwd=tmp_path)
    accepted = await stored_tags(service_client)
    assert accepted == {"aware", "offset"}, "a naive time was sent (and read as UTC)"
    rejects = Path(f"{source}.rejects.jsonl")
    notes = [orjson.loads(r)["_reject"] for r in rejects.read_text().splitlines()]
    assert [n["line"] for n in notes] == [2]
    assert re.search(r"naive|time ?zone|offset", notes[0]["reason"], re.IGNORECASE)
    assert result.rc == 1
    assert lost(lines, accepted, rejects) == []


async def test_the_injector_accounts_for_a_line_that_is_json_but_not_an_object(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path
) -> None:
    good = [orjson.dumps({"type": PERSON, "source": CAMERA, "tag": f"g{i}"}) for i in range(2)]
    lines = [good[0].decode(), "[1, 2]", "42", '"text"', "null", "not json", good[1].decode()]
    source = tmp_path / "mixed.jsonl"
    write_lines(source, lines)
    result = await run(
        sim, sys.executable, str(EXAMPLES / "injector.py"), str(source), cwd=tmp_path
    )
    assert "Traceback" not in result.err, result.err[-500:]
    summary = re.search(r"summary: (\d+) sent, (\d+) accepted.* (\d+) bad lines", result.out)
    assert summary is not None, result.out + result.err
    sent, accepted, bad = (int(n) for n in summary.groups())
    assert (sent, accepted, bad) == (2, 2, 5)
    assert await stored_tags(service_client) == {"g0", "g1"}
    assert result.rc == 1
