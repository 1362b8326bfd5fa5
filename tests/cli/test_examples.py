"""The examples, each run as a subprocess against a simulator started in this process.

Every run is bounded by the example's own flag (``--max-events``, a finite input) and by a
deadline here; output is read up to a marker line, never raced with sleeps.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import orjson

from xprotect_events.client import XProtectClient
from xprotect_events.models import EventTrigger
from xprotect_events.testing import seed
from xprotect_events.testing.simulator import Simulator

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CAMERA_1 = f"cameras/{seed.CAMERA_IDS[0]}"


def env_for(sim: Simulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XPROTECT_")}
    env["XPROTECT_URL"] = sim.url  # user and password: the examples' defaults (admin/admin)
    return env


async def start(sim: Simulator, script: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / script),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env_for(sim),
    )


async def read_until(proc: asyncio.subprocess.Process, marker: str, timeout: float = 15) -> str:
    """stdout up to the first line containing ``marker`` (under a deadline)."""
    assert proc.stdout is not None
    seen: list[str] = []

    async def read() -> str:
        while True:
            raw = await proc.stdout.readline()  # type: ignore[union-attr]
            if not raw:
                err = await proc.stderr.read() if proc.stderr else b""
                raise AssertionError(f"ended before {marker!r}: {seen} {err.decode()}")
            seen.append(raw.decode())
            if marker in seen[-1]:
                return "".join(seen)

    return await asyncio.wait_for(read(), timeout)


async def finish(
    proc: asyncio.subprocess.Process, stdin: bytes | None = None, timeout: float = 20
) -> tuple[int, str, str]:
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_stream_service_counts_per_type_and_stops_after_max_events(
    sim: Simulator, service_client: XProtectClient
) -> None:
    proc = await start(sim, "stream_service.py", "--max-events", "4", "--poll-interval", "0.1")
    await read_until(proc, "ready: streaming events")
    for i, event_type in enumerate([seed.ANALYTICS_EVENT] * 3 + [seed.USER_DEFINED_EVENT]):
        await service_client.trigger_event(
            EventTrigger(type=event_type, source=CAMERA_1, tag=f"s{i}")
        )
    rc, out, err = await finish(proc)
    assert rc == 0, err
    assert "stopped cleanly after 4 event(s) (Door Forced Open: 1, Person Detected: 3)" in out
    assert sim.sessions_alive == 0


async def test_stream_service_shuts_down_cleanly_on_sigterm(sim: Simulator) -> None:
    proc = await start(sim, "stream_service.py", "--poll-interval", "0.1")
    await read_until(proc, "ready: streaming events")
    assert sim.sessions_alive == 1
    proc.send_signal(signal.SIGTERM)
    rc, out, err = await finish(proc)
    assert rc == 0, err
    assert "stopped cleanly after 0 event(s)" in out
    assert sim.sessions_alive == 0


def detections(count: int) -> bytes:
    lines = [
        {
            "type": str(seed.ANALYTICS_EVENT),
            "source": CAMERA_1,
            "time": "2024-05-01T12:00:00.1234567Z",
            "tag": f"det-{i}",
            "datatype": "analytics",
            "data": {"description": "a person", "objectList": [{"name": "person"}]},
        }
        for i in range(count)
    ]
    return b"\n".join(orjson.dumps(line) for line in lines) + b"\n"


async def test_injector_pushes_a_json_lines_file(sim: Simulator, tmp_path: Path) -> None:
    source = tmp_path / "detections.jsonl"
    source.write_bytes(detections(1200))
    rc, out, err = await finish(await start(sim, "injector.py", str(source)))
    assert rc == 0, err
    assert "summary: 1200 sent, 1200 accepted, 0 rejected, 0 unknown, 0 bad lines" in out
    assert sim.events_stored == 1200


async def test_injector_reads_stdin_and_reports_bad_lines(sim: Simulator) -> None:
    stdin = detections(30) + b'{"type": "not-a-guid"}\n'
    rc, out, err = await finish(await start(sim, "injector.py", "-"), stdin=stdin)
    assert rc == 1
    assert "30 accepted" in out
    assert "1 bad lines" in out
    assert "line 31" in err
    assert sim.events_stored == 30


async def test_injector_generates_detections(sim: Simulator) -> None:
    proc = await start(sim, "injector.py", "--generate", "2000", "--concurrency", "4")
    rc, out, err = await finish(proc)
    assert rc == 0, err
    assert "2000 accepted" in out
    assert sim.events_stored == 2000


async def test_bot_reacts_and_acknowledges_each_event(
    sim: Simulator, service_client: XProtectClient
) -> None:
    proc = await start(
        sim,
        "bot.py",
        "--react-to",
        "Person Detected",
        "--ack-type",
        "Door Forced Open",
        "--max-events",
        "3",
    )
    await read_until(proc, "ready: watching Person Detected")
    originals = [
        await service_client.trigger_event(EventTrigger(type=seed.ANALYTICS_EVENT, source=CAMERA_1))
        for _ in range(3)
    ]
    rc, out, err = await finish(proc)
    assert rc == 0, err
    assert out.count("[chat] Person Detected") == 3
    assert "bot stopped: 3 handled, 3 acknowledged" in out
    acks = {e.tag async for e in service_client.list_events() if e.type == seed.USER_DEFINED_EVENT}
    assert acks == {f"ack:{e.id}" for e in originals}
    assert sim.sessions_alive == 0


async def test_metrics_counts_every_request_through_trace_configs(sim: Simulator) -> None:
    rc, out, err = await finish(await start(sim, "metrics.py", "--events", "50"))
    assert rc == 0, err
    assert "triggered 50, listed 50" in out
    assert "    1  POST /API/IDP/connect/token -> 200" in out
    assert "    5  POST /api/rest/v1/events/batch -> 200" in out  # 50 in chunks of 10
    assert "    3  GET /api/rest/v1/events -> 200" in out  # pages of 20: 20, 20, 10
    assert "total: 9 request(s)" in out
