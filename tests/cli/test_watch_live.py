"""``watch --live``: events pushed over the WebSocket, ``--state``, ``--checkpoint``; and
``serve --resume-window``.

See ``tests/cli/running.py`` for how the console script is run."""

from __future__ import annotations

import signal
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson

from tests.cli.running import (
    CAMERA_1,
    DOOR,
    MOTION,
    PERSON,
    admin_env,
    clean_env,
    cli_process,
    finish,
    read_until,
    run_cli,
)
from xprotect_events.checkpoints import MemoryCheckpoint
from xprotect_events.cli import EXIT_OK, EXIT_USAGE, LISTENING
from xprotect_events.client import XProtectClient
from xprotect_events.models import EventTrigger
from xprotect_events.positions import LivePosition
from xprotect_events.testing import CAMERA_IDS, UNSTORED_EVENT
from xprotect_events.testing.simulator import Simulator


async def watch_live(
    sim: Simulator, service_client: XProtectClient, *args: str, tags: tuple[str, ...]
) -> list[dict[str, object]]:
    """Run ``watch --live --json ARGS``, trigger a Person event per tag, stop it with SIGINT;
    the JSON lines it printed."""
    async with cli_process("watch", "--live", "--json", *args, env=admin_env(sim)) as proc:
        before = await read_until(proc.stderr, "watching live events")
        assert sim.live.connections == 1
        for tag in tags:
            await service_client.trigger_event(EventTrigger(type=PERSON, source=CAMERA_1, tag=tag))
        lines = await read_until(proc.stdout, f'"{tags[-1]}"')
        proc.send_signal(signal.SIGINT)
        assert await finish(proc) == EXIT_OK
        assert proc.stderr is not None
        assert "stopped:" in (await proc.stderr.read()).decode()
        assert not any("Traceback" in line for line in before)
        return [orjson.loads(line) for line in lines]


async def test_watch_live_streams_pushed_events_as_json_lines(
    sim: Simulator, service_client: XProtectClient
) -> None:
    async with cli_process(
        "watch", "--live", "--json", "--type", "Person Detected", "--source", CAMERA_1,
        env=admin_env(sim),
    ) as proc:  # fmt: skip
        await read_until(proc.stderr, "watching live events")
        await service_client.trigger_event(EventTrigger(type=DOOR, tag="not-watched"))
        for tag in ("w1", "w2"):
            await service_client.trigger_event(EventTrigger(type=PERSON, source=CAMERA_1, tag=tag))
        seen = [orjson.loads(line) for line in await read_until(proc.stdout, '"w2"')]
        assert [(c["kind"], c["event"]["tag"]) for c in seen] == [("new", "w1"), ("new", "w2")]
        assert sim.stats.requests.get("POST /API/rest/v1/eventSessions", 0) == 0  # no polling
        proc.send_signal(signal.SIGINT)
        assert await finish(proc) == EXIT_OK
        assert sim.live.connections == 0  # the socket was closed


async def test_watch_live_prints_the_table_and_only_matching_states(
    sim: Simulator, service_client: XProtectClient
) -> None:
    async with cli_process(
        "watch", "--live", "--state", "--type", MOTION, env=admin_env(sim)
    ) as proc:
        await read_until(proc.stderr, "watching live events")
        started = EventTrigger(type=MOTION, source=CAMERA_1, tag="moved")
        await service_client.trigger_event(started)
        lines = await read_until(proc.stdout, "moved")
        states = [line for line in lines if line.startswith("state\t")]
        assert states == []  # MOTION_STARTED has no state yet: every camera is "No Motion"
        assert lines[-1].startswith("new\t")  # piped: tab-separated lines
        assert "Camera 1" in lines[-1]
        proc.send_signal(signal.SIGINT)
        assert await finish(proc) == EXIT_OK


async def test_watch_live_state_prints_the_current_states_first(sim: Simulator) -> None:
    async with cli_process("watch", "--live", "--state", "--json", env=admin_env(sim)) as proc:
        lines = await read_until(proc.stderr, "watching live events")
        assert not any("Traceback" in line for line in lines)
        assert proc.stdout is not None
        groups = [g for g in sim.directory.state_groups.values() if g.initial is not None]
        count = len(CAMERA_IDS) * len(groups)  # motion and recording: a state of each
        states = [orjson.loads(await proc.stdout.readline()) for _ in range(count)]
        assert {s["kind"] for s in states} == {"state"}
        assert {s["event"]["source"].rpartition("/")[2] for s in states} == {
            str(c) for c in CAMERA_IDS
        }
        proc.send_signal(signal.SIGINT)
        assert await finish(proc) == EXIT_OK


async def test_watch_live_checkpoint_resumes_where_it_stopped(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path
) -> None:
    path = str(tmp_path / "live.json")
    first = await watch_live(sim, service_client, "--checkpoint", path, tags=("c1", "c2"))
    assert [c["event"]["tag"] for c in first] == ["c1", "c2"]  # type: ignore[index]
    saved = LivePosition.from_json(Path(path).read_text())
    # c2 was printed and the next event asked for when SIGINT came: processed, saved on exit
    assert saved.event_id == uuid.UUID(first[1]["event"]["id"])  # type: ignore[index]
    await service_client.trigger_event(EventTrigger(type=PERSON, source=CAMERA_1, tag="c3"))
    second = await watch_live(sim, service_client, "--checkpoint", path, tags=("c4",))
    # nothing repeats; c3 came while nothing ran: not lost
    assert [c["event"]["tag"] for c in second] == ["c3", "c4"]  # type: ignore[index]


async def test_watch_live_refuses_what_the_websocket_cannot_filter(sim: Simulator) -> None:
    cases = {
        ("--source-name", "Camera 1"): "--source-name cannot be used with --live",
        ("--since", "-1h"): "--since cannot be used with --live",
        ("--poll-interval", "0.5"): "--poll-interval cannot be used with --live",
    }
    for extra, message in cases.items():
        result = await run_cli("watch", "--live", *extra, env=admin_env(sim))
        assert result.rc == EXIT_USAGE, result.err
        errors = [line for line in result.err.splitlines() if line.strip()]
        assert len(errors) == 1, result.err  # one line, whatever went wrong
        assert message in errors[0]
    result = await run_cli("watch", "--state", env=admin_env(sim))
    assert result.rc == EXIT_USAGE
    assert "--state needs --live" in result.err
    assert sim.live.connections_total == 0  # refused before connecting


async def test_serve_resume_window_reaches_the_simulator() -> None:
    async with cli_process("serve", "--port", "0", "--resume-window", "0", env=clean_env()) as proc:
        lines = await read_until(proc.stdout, "live events:")
        url = lines[0].removeprefix(LISTENING).strip()
        assert "/api/ws/events/v1" in lines[-1]
        async with XProtectClient(url, client_id="service", client_secret="service-secret") as c:
            async with c.subscribe() as live:
                gone = live.session_id
            assert gone is not None
            position = LivePosition(session_id=gone, event_id=uuid.uuid4(), time=datetime.now(UTC))
            async with c.subscribe(checkpoint=MemoryCheckpoint(position)) as live:
                assert live.resumes == 0  # a window of 0 s: the server forgot the session
                assert live.session_id != gone
        proc.send_signal(signal.SIGTERM)
        assert await finish(proc) == EXIT_OK


async def watch_after_expiry(
    sim: Simulator, service_client: XProtectClient, path: str, *stored: str
) -> tuple[list[str], list[str]]:
    """A first run saved its position; the server forgets the session, a Person event and a
    Doorbell event (never stored) come while nothing runs; the second run's (tags, notes)."""
    await watch_live(sim, service_client, "--checkpoint", path, tags=("first",))
    sim.clock.advance(sim.live.resume_window + 1)
    await service_client.trigger_event(EventTrigger(type=PERSON, source=CAMERA_1, tag="down"))
    await service_client.trigger_event(EventTrigger(type=str(UNSTORED_EVENT), tag="rang"))
    args = ("watch", "--live", "--json", "--checkpoint", path, *stored)
    async with cli_process(*args, env=admin_env(sim)) as proc:
        await read_until(proc.stderr, "watching live events")
        lines = await read_until(proc.stdout, '"down"')
        notes = [] if stored else await read_until(proc.stderr, "gap:")  # (none when stored)
        proc.send_signal(signal.SIGINT)
        assert await finish(proc) == EXIT_OK
        assert proc.stderr is not None
        notes += (await proc.stderr.read()).decode().splitlines()
    return [orjson.loads(line)["event"]["tag"] for line in lines], notes


async def test_watch_live_stored_type_fills_from_the_store_and_names_the_gap(
    sim: Simulator, service_client: XProtectClient, tmp_path: Path
) -> None:
    """``watch --live`` could not say which types the store keeps: every refused resume
    was a gap "from … to …", with neither the types nor what was filled."""
    tags, notes = await watch_after_expiry(sim, service_client, str(tmp_path / "a.json"))
    assert tags == ["down"]  # filled from the store even so
    gaps = [line for line in notes if "gap:" in line]
    assert len(gaps) == 1
    assert "gap: events of any type the store does not keep from" in gaps[0]
    assert "1 filled from the store" in gaps[0]
    stored = ("--stored-type", "all")
    tags, notes = await watch_after_expiry(sim, service_client, str(tmp_path / "b.json"), *stored)
    assert tags == ["down"]
    assert not any("gap:" in line for line in notes)  # all stored: no gap


async def test_watch_live_stored_type_is_checked(sim: Simulator) -> None:
    result = await run_cli("watch", "--stored-type", "all", env=admin_env(sim))
    assert result.rc == EXIT_USAGE
    assert "--stored-type needs --live" in result.err
    result = await run_cli("watch", "--live", "--stored-type", "Persn Detected", env=admin_env(sim))
    assert result.rc == EXIT_USAGE, result.err
    assert "--stored-type" in result.err
    assert "Person Detected" in result.err  # did you mean
    assert sim.live.connections_total == 0
