"""Proof (issue 16): kill -9 a consumer or an injector, start it again, and nothing is lost
or doubled beyond what the guarantee allows.

- A consumer (tests/restart_consumer.py, a subprocess with ``event_session(checkpoint=…)``)
  is SIGKILLed while events are being triggered and started again with the same checkpoint,
  a few times: the union of the ids it received is every triggered id, no run receives an
  id twice, and each id received again after a restart was handed out after the last save
  of the run before.
- ``trigger-batch --journal`` is SIGKILLed mid-way (with cut connections on the way) and
  rerun until it completes: every line (a stored type, a unique tag) is stored once.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import signal
import sys
import uuid
from collections import Counter
from pathlib import Path

import orjson

from tests.cli.running import CAMERA_1, PERSON, admin_env, cli_path, run_cli
from tests.helpers import wait_until
from xprotect_events import EventTrigger, XProtectClient
from xprotect_events.testing import ANALYTICS_EVENT, Fault, Simulator

ROOT = Path(__file__).resolve().parents[2]
BATCH = "POST /api/rest/v1/events/batch"


def _runs(log: Path) -> list[list[str]]:
    """The log split per run (``started`` begins one): ids and ``saved`` markers."""
    runs: list[list[str]] = []
    for line in log.read_text().splitlines():
        if line == "started":
            runs.append([])
        elif runs and line:
            runs[-1].append(line)
    return runs


def _settled(journal: Path) -> int:
    """How many outcomes (not write-ahead ``sent`` entries) the journal holds."""
    if not journal.exists():
        return 0
    return sum(b'"outcome":"sent"' not in line for line in journal.read_bytes().splitlines())


def _ids(log: Path) -> list[str]:
    runs = _runs(log) if log.exists() else []
    return [x for run in runs for x in run if not x.startswith("saved")]


async def _consumer(sim: Simulator, checkpoint: Path, log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.restart_consumer",
        sim.url,
        str(checkpoint),
        str(log),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
    )


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGKILL)
    await proc.wait()


async def _produce(client: XProtectClient, total: int, triggered: list[str]) -> None:
    for start in range(0, total, 20):
        batch = [
            EventTrigger(type=ANALYTICS_EVENT, source=CAMERA_1, tag=f"p{i}")
            for i in range(start, min(start + 20, total))
        ]
        report = await client.trigger_events(batch)
        report.raise_for_failures()
        triggered += [str(r.event.id) for r in report.results if r.event is not None]
        await asyncio.sleep(0)  # let the consumers' reads in between batches


async def test_a_killed_consumer_resumes_from_its_checkpoint(
    sim: Simulator, client: XProtectClient, tmp_path: Path, soak: bool
) -> None:
    total, kills = (3000, 8) if soak else (600, 3)
    checkpoint, log = tmp_path / "consumer.pos", tmp_path / "received.log"
    triggered: list[str] = []
    producer = asyncio.create_task(_produce(client, total, triggered))
    try:
        for k in range(kills):
            proc = await _consumer(sim, checkpoint, log)
            try:
                seen = len(_ids(log))
                # Kill after it has taken some new events (and while the producer runs).
                await wait_until(lambda s=seen: len(_ids(log)) >= s + 40, f"run {k} consumes")
            finally:
                await _kill(proc)
        await producer
        proc = await _consumer(sim, checkpoint, log)
        try:
            await wait_until(lambda: set(_ids(log)) >= set(triggered), "the last run catches up")
        finally:
            await _kill(proc)
    finally:
        producer.cancel()
        await asyncio.wait([producer])
    assert set(_ids(log)) == set(triggered)
    runs = _runs(log)
    for before, after in itertools.pairwise(runs):
        got = [x for x in after if not x.startswith("saved")]
        assert len(got) == len(set(got)), "a run received an event twice"
        repeats = set(got) & set(before)
        assert repeats <= _unsaved(before), "a repeat was handed out before the last save"


def _unsaved(run: list[str]) -> set[str]:
    """The ids a run received after the point its last save covered."""
    saves = [line.split()[1:] for line in run if line.startswith("saved")]
    ids = [line for line in run if not line.startswith("saved")]
    if not saves:
        return set(ids)
    covered = set(saves[-1])  # the ids the last saved position holds, the newest of them
    last = max(i for i, x in enumerate(ids) if x in covered)  # was its last processed one
    return set(ids[last + 1 :])


async def test_a_killed_trigger_batch_run_is_completed_by_reruns(
    sim: Simulator, client: XProtectClient, tmp_path: Path, soak: bool
) -> None:
    lines = 5000 if soak else 600
    run = uuid.uuid4().hex[:8]
    tags = [f"{run}-{n}" for n in range(lines)]
    source = tmp_path / "jobs.jsonl"
    source.write_bytes(
        b"".join(orjson.dumps({"type": PERSON, "source": CAMERA_1, "tag": t}) + b"\n" for t in tags)
    )
    journal = tmp_path / "jobs.journal"
    args = ("trigger-batch", str(source), "--journal", str(journal), "--settle", "0.5")
    args += ("--chunk-size", "10", "--concurrency", "2")
    env = admin_env(sim)
    # Slow chunks (so a kill lands mid-way), and cut connections before and after storing.
    slow = [Fault.delay(0.02)] * 6 + [Fault.reset_after(), Fault.reset_before()]
    sim.faults.random(BATCH, 1.0, slow, seed=16)
    for k in range(2):
        proc = await asyncio.create_subprocess_exec(
            cli_path(),
            *args,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            stdin=asyncio.subprocess.DEVNULL,
        )
        try:
            before = _settled(journal)
            await wait_until(lambda b=before: _settled(journal) >= b + 150, f"run {k} journals")
        finally:
            await _kill(proc)
    sim.faults.clear()
    for _ in range(4):
        done = await run_cli(*args, env=env, timeout=60)
        if done.rc == 0:
            break
    assert done.rc == 0, done.err
    assert "0 still unknown" in done.err, done.err
    skipped = re.search(r"(\d+) skipped", done.err)
    assert skipped is not None
    assert int(skipped[1]) >= 150, done.err  # the killed runs' accepted lines were not resent
    wanted = set(tags)
    stored = Counter([e.tag async for e in client.list_events() if e.tag in wanted])
    assert set(stored) == set(tags)
    assert max(stored.values()) == 1, [t for t, n in stored.items() if n > 1][:5]
