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

import xprotect_events
from xprotect_events.client import XProtectClient
from xprotect_events.models import Event, EventTrigger
from xprotect_events.positions import LivePosition
from xprotect_events.testing import seed
from xprotect_events.testing.simulator import Simulator

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CAMERA_1, CAMERA_2 = (f"cameras/{c}" for c in seed.CAMERA_IDS[:2])
#: Where the package these tests import lives: the examples must import the same one.
PACKAGE_ROOT = Path(xprotect_events.__file__).resolve().parents[1]


def env_for(sim: Simulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XPROTECT_")}
    env["XPROTECT_URL"] = sim.url  # user and password: the examples' defaults (admin/admin)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
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


async def test_stream_service_refuses_an_unknown_type_by_name(sim: Simulator) -> None:
    rc, out, err = await finish(await start(sim, "stream_service.py", "--type", "Persn Detected"))
    assert rc == 1, err
    assert "stopped: no event type named 'Persn Detected'; known:" in out
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
        "PersonDetected",  # names in any case and spacing, as `xprotect-events types` lists
        "--ack-type",
        "door forced open",
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
    assert "    2  GET /api/rest/v1/eventTypes -> 200" in out  # by name: a page, an empty one
    assert "total: 11 request(s)" in out


# ---------------------------------------------------------------------------- live_watcher.py

DOOR = "Door Forced Open"  # seed.USER_DEFINED_EVENT: stored
DOORBELL = "Doorbell Pressed"  # seed.UNSTORED_EVENT: retention 0, never stored
READY = "ready: watching live events"


def tags_shown(out: str) -> list[str]:
    """The tags of the ``event:`` lines, in order."""
    return [line.rpartition("tag ")[2].rstrip(")") for line in out.splitlines() if "event:" in line]


async def door(client: XProtectClient, tag: str) -> Event:
    return await client.trigger_event(EventTrigger(type=seed.USER_DEFINED_EVENT, tag=tag))


async def watch_until_stopped(
    sim: Simulator, client: XProtectClient, checkpoint: Path, *args: str
) -> Event:
    """Run the watcher with ``checkpoint``, trigger one door event, SIGTERM it; the event."""
    proc = await start(sim, "live_watcher.py", "--checkpoint", str(checkpoint), *args)
    await read_until(proc, READY)
    first = await door(client, "before")
    await read_until(proc, "tag before")
    proc.send_signal(signal.SIGTERM)
    rc, out, err = await finish(proc)
    assert rc == 0, err
    assert "stopped cleanly after 1 event(s), 0 gap(s); position saved to" in out
    assert sim.live.connections == 0  # the socket was closed
    assert LivePosition.from_json(checkpoint.read_text()).event_id == first.id
    return first


async def test_live_watcher_prints_states_then_pushed_events(
    sim: Simulator, service_client: XProtectClient
) -> None:
    proc = await start(
        sim, "live_watcher.py", "--type", "Motion Started", "--type", "MotionStopped",
        "--source", "Camera 1 - Main Entrance", "--max-events", "2",
    )  # fmt: skip
    before = await read_until(proc, READY)
    states = [line for line in before.splitlines() if "state:" in line]
    assert len(states) == 1, before  # camera 1 only: motion types only
    assert "state: Motion Stopped on Camera 1 - Main Entrance" in states[0]
    for source, tag in ((CAMERA_2, "elsewhere"), (CAMERA_1, "m1")):
        await service_client.trigger_event(
            EventTrigger(type=seed.MOTION_STARTED, source=source, tag=tag)
        )
    middle = await read_until(proc, "tag m1")
    sim.live.drop_connections()  # resumed by the library: nothing lost, nothing repeated
    await service_client.trigger_event(
        EventTrigger(type=seed.MOTION_STOPPED, source=CAMERA_1, tag="m2")
    )
    rc, out, err = await finish(proc)
    assert rc == 0, err
    assert "event: Motion Stopped on Camera 1 - Main Entrance" in out
    assert tags_shown(before + middle + out) == ["m1", "m2"]
    assert "sessions resumed: 1, reconnects: 1" in out
    assert "stopped cleanly after 2 event(s), 0 gap(s)" in out
    assert sim.live.connections == 0


async def restarted(
    sim: Simulator, service_client: XProtectClient, checkpoint: Path, events: int, *args: str
) -> str:
    """The watcher started again from ``checkpoint`` for ``events`` events, a Door event
    triggered ("after") once it is ready: its output (it ended cleanly)."""
    proc = await start(
        sim, "live_watcher.py", *args, "--checkpoint", str(checkpoint), "--max-events", str(events)
    )
    await read_until(proc, READY)
    await door(service_client, "after")
    rc, out, err = await finish(proc)
    assert rc == 0, err
    return out


async def test_live_watcher_restarted_within_the_resume_window_misses_nothing(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path
) -> None:
    checkpoint = tmp_path / "live.json"
    await watch_until_stopped(sim, service_client, checkpoint, "--type", DOOR)
    for tag in ("down-1", "down-2"):  # while nothing runs
        await door(service_client, tag)
    out = await restarted(sim, service_client, checkpoint, 3, "--type", DOOR)
    assert tags_shown(out) == ["down-1", "down-2", "after"]  # "before" not again
    assert "sessions resumed: 1" in out  # the server sent what it kept for the session


async def test_live_watcher_restarted_after_the_window_fills_from_the_store(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path
) -> None:
    checkpoint, stored = tmp_path / "live.json", ("--stored-type", DOOR)
    await watch_until_stopped(sim, service_client, checkpoint, "--type", DOOR, *stored)
    sim.clock.advance(sim.live.resume_window + 1)  # the server forgets the session
    for tag in ("down-1", "down-2"):
        await door(service_client, tag)
    out = await restarted(sim, service_client, checkpoint, 3, "--type", DOOR, *stored)
    assert tags_shown(out) == ["down-1", "down-2", "after"]
    assert "sessions resumed: 0" in out
    assert "gap:" not in out  # every type it watches is stored
    assert "stopped cleanly after 3 event(s), 0 gap(s)" in out


async def test_live_watcher_reports_a_gap_for_what_the_store_does_not_keep(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path
) -> None:
    checkpoint = tmp_path / "live.json"
    watched = ("--type", DOOR, "--type", DOORBELL, "--stored-type", DOOR)
    first = await watch_until_stopped(sim, service_client, checkpoint, *watched)
    sim.clock.advance(sim.live.resume_window + 1)
    await service_client.trigger_event(EventTrigger(type=seed.UNSTORED_EVENT, tag="rang"))
    await door(service_client, "down")
    out = await restarted(sim, service_client, checkpoint, 2, *watched)
    assert tags_shown(out) == ["down", "after"]  # the doorbell is lost: the gap says so
    lines = [line for line in out.splitlines() if "event:" in line or "gap:" in line]
    assert "gap:" in lines[1], out  # in order: after what the store filled, before the new
    assert f"gap: events of {DOORBELL} between {first.time.isoformat()} and" in lines[1]
    assert "1 filled from the REST store" in lines[1]
    assert "stopped cleanly after 2 event(s), 1 gap(s)" in out


async def test_live_watcher_stops_after_its_duration_and_refuses_unknown_names(
    sim: Simulator,
) -> None:
    rc, out, err = await finish(await start(sim, "live_watcher.py", "--duration", "0.1"))
    assert rc == 0, err
    assert READY in out
    assert "stopped cleanly after 0 event(s), 0 gap(s)" in out
    rc, out, err = await finish(await start(sim, "live_watcher.py", "--source", "Camera 9"))
    assert rc == 1
    assert "stopped: no camera named 'Camera 9'; known: Camera 1 - Main Entrance" in out
    rc, out, err = await finish(await start(sim, "live_watcher.py", "--type", "Door Forced"))
    assert rc == 1
    assert "stopped: no event type named 'Door Forced'" in out
    assert sim.live.connections_total == 1  # only the first run connected
