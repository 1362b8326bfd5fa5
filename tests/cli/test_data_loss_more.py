"""Proof (issue 12), CLI cases beyond the first proofs: a line that is not UTF-8 comes back
byte for byte, the rejects file appears only whole (no temporary file is left), a reject
record fixed in place is sent as fixed, and the injector reads stdin in blocks."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import orjson

from tests.cli.test_data_loss import CAMERA, EXAMPLES, PERSON, run, stored_tags
from xprotect_events import XProtectClient
from xprotect_events.testing import Simulator


async def test_a_line_that_is_not_utf8_comes_back_byte_for_byte(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path
) -> None:
    latin1 = '{"type": "caf\xe9"}'.encode("latin-1")
    source = tmp_path / "in.jsonl"
    source.write_bytes(latin1 + b"\n")
    rejects = tmp_path / "rejects.jsonl"
    for current in (source, rejects, rejects):  # and resent twice
        again = tmp_path / "again.jsonl"
        result = await run(
            sim, "trigger-batch", str(current), "--rejects", str(again), cwd=tmp_path
        )
        assert result.rc == 1, result.err
        again.replace(rejects)
        (note,) = [orjson.loads(line)["_reject"] for line in rejects.read_bytes().splitlines()]
        assert base64.b64decode(note["raw_base64"]) == latin1
    assert await stored_tags(service_client) == set()


async def test_the_rejects_file_appears_whole_and_leaves_no_temporary_file(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path
) -> None:
    lines = [
        orjson.dumps({"type": PERSON, "source": CAMERA, "tag": f"ok-{i}"}).decode()
        if i % 2
        else f"bad {i}"
        for i in range(300)
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(f"{line}\n" for line in lines))
    result = await run(sim, "trigger-batch", str(source), cwd=tmp_path)
    assert result.rc == 1
    rejects = Path(f"{source}.rejects.jsonl")
    raws = [orjson.loads(r)["_reject"]["raw"] for r in rejects.read_text().splitlines()]
    assert raws == [line for line in lines if line.startswith("bad")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "in.jsonl.rejects.jsonl"]
    assert len(await stored_tags(service_client)) == 150


async def test_a_reject_fixed_in_place_is_sent_as_fixed_and_keeps_its_first_raw(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path
) -> None:
    first = '{"type": "not-a-guid", "source": "' + CAMERA + '", "tag": "fixed"}'
    source = tmp_path / "in.jsonl"
    source.write_text(first + "\n")
    await run(sim, "trigger-batch", str(source), cwd=tmp_path)
    rejects = Path(f"{source}.rejects.jsonl")
    record = orjson.loads(rejects.read_text())
    assert record["_reject"]["raw"] == first
    record["type"] = PERSON  # the user's fix
    fixed = tmp_path / "fixed.jsonl"
    fixed.write_bytes(orjson.dumps(record) + b"\n")
    result = await run(sim, "trigger-batch", str(fixed), cwd=tmp_path)
    assert result.rc == 0, result.err
    assert await stored_tags(service_client) == {"fixed"}


async def test_the_injector_reads_a_long_stdin_and_accounts_for_every_line(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path
) -> None:
    good = [orjson.dumps({"type": PERSON, "source": CAMERA, "tag": f"s{i}"}) for i in range(3000)]
    naive = orjson.dumps({"type": PERSON, "time": "2024-05-01T12:00:00", "tag": "naive"})
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join([*good, naive, b"{}", b"\xff"]) + b"\n")
    with source.open("rb") as stdin:
        result = await run(
            sim, sys.executable, str(EXAMPLES / "injector.py"), "-", cwd=tmp_path, stdin=stdin
        )
    assert "Traceback" not in result.err, result.err[-500:]
    assert "summary: 3000 sent, 3000 accepted, 0 rejected, 0 unknown, 3 bad lines" in result.out
    assert "naive" in result.err
    assert result.rc == 1
    assert len(await stored_tags(service_client)) == 3000
