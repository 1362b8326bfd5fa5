"""``trigger-batch --journal`` and ``watch --checkpoint`` (issue 16); the kill -9 proofs are
in tests/proof/test_restarts.py. See ``tests/cli/running.py`` for how the script is run."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import orjson

from tests.cli.running import (
    CAMERA_1,
    PERSON,
    admin_env,
    cli_process,
    finish,
    read_until,
    run_cli,
)
from xprotect_events.cli import EXIT_OK
from xprotect_events.client import XProtectClient
from xprotect_events.models import EventTrigger
from xprotect_events.testing import Fault
from xprotect_events.testing.simulator import Simulator


def _jobs(path: Path, count: int) -> list[str]:
    tags = [f"{uuid.uuid4().hex[:8]}-{n}" for n in range(count)]
    lines = [orjson.dumps({"type": PERSON, "source": CAMERA_1, "tag": t}) for t in tags]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return tags


async def test_a_rerun_with_the_journal_skips_what_was_settled(
    sim: Simulator, tmp_path: Path
) -> None:
    source, journal = tmp_path / "jobs.jsonl", tmp_path / "jobs.journal"
    _jobs(source, 25)
    args = ("trigger-batch", str(source), "--journal", str(journal), "--chunk-size", "10")
    first = await run_cli(*args, env=admin_env(sim))
    assert first.rc == EXIT_OK, first.err
    assert "0 skipped, 0 reconciled (0 found, 0 resent, 0 still unknown), 25 sent" in first.err
    again = await run_cli(*args, env=admin_env(sim))
    assert again.rc == EXIT_OK, again.err
    assert "25 skipped, 0 reconciled (0 found, 0 resent, 0 still unknown), 0 sent" in again.err
    assert sim.events_stored == 25


async def test_a_journal_refuses_stdin_and_a_changed_input(sim: Simulator, tmp_path: Path) -> None:
    source, journal = tmp_path / "jobs.jsonl", tmp_path / "jobs.journal"
    _jobs(source, 3)
    piped = await run_cli(
        "trigger-batch", "-", "--journal", str(journal), env=admin_env(sim), stdin=b""
    )
    assert piped.rc != EXIT_OK
    assert "a journal needs a FILE" in piped.err
    args = ("trigger-batch", str(source), "--journal", str(journal))
    assert (await run_cli(*args, env=admin_env(sim))).rc == EXIT_OK
    _jobs(source, 3)  # other tags: another input
    changed = await run_cli(*args, env=admin_env(sim))
    assert changed.rc != EXIT_OK
    assert "the input changed since the journal was written" in changed.err
    assert sim.events_stored == 3


async def test_watch_with_a_checkpoint_goes_on_where_it_stopped(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path
) -> None:
    checkpoint = tmp_path / "watch.pos"
    args = ("watch", "--json", "--poll-interval", "0.05", "--checkpoint", str(checkpoint))
    for tag in ("c1", "c2"):
        await service_client.trigger_event(EventTrigger(type=PERSON, source=CAMERA_1, tag=tag))
    tags: list[str] = []
    for last in ('"c2"', '"c3"'):
        async with cli_process(
            *args, "--since", "2000-01-01T00:00:00Z", env=admin_env(sim)
        ) as proc:
            await read_until(proc.stderr, "watching events")
            if last == '"c3"':
                event = EventTrigger(type=PERSON, source=CAMERA_1, tag="c3")
                await service_client.trigger_event(event)
            seen = await read_until(proc.stdout, last)
            tags += [orjson.loads(line)["event"]["tag"] for line in seen]
            proc.send_signal(signal.SIGINT)
            assert await finish(proc) == EXIT_OK
    assert tags == ["c1", "c2", "c3"]


async def test_a_rerun_never_settles_a_line_with_the_event_another_line_holds(
    sim: Simulator, tmp_path: Path
) -> None:
    # broke: line 2 never landed and has line 1's tag; the rerun's lookup found line 1's
    # event and called line 2 accepted with it: line 2 was never sent
    source, journal = tmp_path / "jobs.jsonl", tmp_path / "jobs.journal"
    line = orjson.dumps({"type": PERSON, "source": CAMERA_1, "tag": f"same-{uuid.uuid4().hex}"})
    source.write_bytes(line + b"\n" + line + b"\n")
    sim.faults.script("POST /api/rest/v1/events/batch", [None, Fault.reset_before()])
    args = ("trigger-batch", str(source), "--journal", str(journal), "--chunk-size", "1")
    first = await run_cli(*args, "--concurrency", "1", env=admin_env(sim))
    assert sim.events_stored == 1, first.err
    assert "1 unknown" in first.err, first.err
    again = await run_cli(*args, "--settle", "0", env=admin_env(sim))
    assert again.rc == EXIT_OK, again.err
    assert "0 found, 1 resent" in again.err, again.err
    assert sim.events_stored == 2
