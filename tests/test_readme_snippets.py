"""The README's short snippets (live events, resuming after a restart, an event session's
checkpoint, the configuration), run as written against the simulator.

Each snippet is read out of README.md and run as the body of a coroutine, with the names
its text says come from elsewhere (``client``, ``CAMERA`` "as in the Quickstart",
``handle`` "your code") and ``print`` collecting its lines. A stream that never ends is
stopped by cancelling its task, as a service's shutdown would.
"""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import wait_until
from tests.test_promises_readme import python_block
from xprotect_events import EventTrigger, SessionChange, XProtectClient
from xprotect_events.testing import (
    CAMERA_IDS,
    MOTION_STARTED,
    MOTION_STOPPED,
    USER_DEFINED_EVENT,
    Simulator,
)

CAMERA = f"cameras/{CAMERA_IDS[0]}"


def snippet(code: str, **names: Any) -> Callable[[], Awaitable[None]]:
    """``code`` as the body of a coroutine function whose globals are ``names``."""
    scope = dict(names)
    exec("async def snippet():\n" + textwrap.indent(code, "    "), scope)  # noqa: S102 (the README)
    run: Callable[[], Awaitable[None]] = scope["snippet"]
    return run


def printer(lines: list[str]) -> Callable[..., None]:
    return lambda *args: lines.append(" ".join(map(str, args)))


async def stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def live_ready(sim: Simulator) -> bool:
    """Whether a WebSocket session is attached and subscribed (the stream is live)."""
    sessions = sim.live.sessions.values()
    return any(s.socket is not None and s.subscriptions for s in sessions)


async def test_the_live_example_prints_the_states_then_each_pushed_event(
    xprotect_simulator: Simulator,
    xprotect_client: XProtectClient,
    xprotect_service_client: XProtectClient,
) -> None:
    code = python_block("await live.state()")
    assert f'MOTION_STARTED = "{MOTION_STARTED}"' in code
    assert f'MOTION_STOPPED = "{MOTION_STOPPED}"' in code
    lines: list[str] = []
    run = snippet(code, client=xprotect_client, CAMERA=CAMERA, print=printer(lines))
    task = asyncio.create_task(run())
    await wait_until(lambda: bool(lines), "the current state is printed", watch=task)
    assert lines == [f"now {MOTION_STOPPED} {CAMERA}"]  # the camera's state: no motion
    trigger = EventTrigger(type=MOTION_STARTED, source=CAMERA)
    started = await xprotect_service_client.trigger_event(trigger)
    await wait_until(lambda: len(lines) == 2, "the pushed event is printed", watch=task)
    assert lines[1] == f"pushed {MOTION_STARTED} {CAMERA} {started.time}"
    await stopped(task)
    sim_live = xprotect_simulator.live
    await wait_until(lambda: sim_live.connections == 0, "the socket is closed")


async def door(client: XProtectClient, *tags: str) -> None:
    for tag in tags:
        await client.trigger_event(EventTrigger(type=USER_DEFINED_EVENT, tag=tag))


async def test_the_live_checkpoint_example_resumes_after_a_restart(
    xprotect_simulator: Simulator,
    xprotect_client: XProtectClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run, handle two events, stop; two more happen while it is down; run again: those
    come, and nothing comes twice."""
    monkeypatch.chdir(tmp_path)  # checkpoint="door.json"
    code = python_block('checkpoint="door.json"')
    assert f'DOOR_FORCED = "{USER_DEFINED_EVENT}"' in code
    handled: list[str | None] = []
    run = snippet(code, client=xprotect_client, handle=lambda event: handled.append(event.tag))
    task = asyncio.create_task(run())
    await wait_until(lambda: live_ready(xprotect_simulator), "the stream is live", watch=task)
    await door(xprotect_client, "a0", "a1")
    await wait_until(lambda: len(handled) == 2, "both are handled", watch=task)
    await stopped(task)
    await door(xprotect_client, "b0", "b1")  # while nothing runs
    task = asyncio.create_task(run())
    await wait_until(lambda: len(handled) == 4, "the missed ones are handled", watch=task)
    await stopped(task)
    assert handled == ["a0", "a1", "b0", "b1"]
    assert (tmp_path / "door.json").exists()


async def test_the_session_checkpoint_example_resumes_after_a_restart(
    xprotect_simulator: Simulator,
    xprotect_client: XProtectClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # checkpoint="doors.pos"
    handled: list[str | None] = []

    async def handle(change: SessionChange) -> None:
        handled.append(change.event.tag)

    code = python_block('checkpoint="doors.pos"')
    run = snippet(code, client=xprotect_client, handle=handle, DOOR_FORCED=USER_DEFINED_EVENT)
    task = asyncio.create_task(run())
    await wait_until(lambda: xprotect_simulator.sessions_alive == 1, "a session", watch=task)
    await door(xprotect_client, "a0", "a1")
    await wait_until(lambda: len(handled) == 2, "both are handled", watch=task)
    await stopped(task)
    assert xprotect_simulator.sessions_alive == 0  # deleted on the way out
    await door(xprotect_client, "b0", "b1")  # while nothing runs
    task = asyncio.create_task(run())
    await wait_until(lambda: len(handled) == 4, "the missed ones are handled", watch=task)
    await stopped(task)
    assert handled == ["a0", "a1", "b0", "b1"]


async def test_the_configuration_example_makes_a_working_client() -> None:
    """The Configuration block at module level, its server and CA the simulator's, the
    ``password`` it leaves to you the operator's."""
    pytest.importorskip("trustme")
    code = python_block("retry=RetryPolicy(")
    async with Simulator(https=True) as sim:
        code = code.replace('"https://vms.example.com"', repr(sim.url))
        code = code.replace('"/etc/ssl/vms-ca.pem"', repr(str(sim.ca_path)))
        scope: dict[str, Any] = {"password": "operator"}
        exec(code, scope)  # noqa: S102 (the README)
        client: XProtectClient = scope["client"]
        async with client:
            cameras = await client.list_cameras()
    assert [c.id for c in cameras] == list(CAMERA_IDS[:2])  # the operator's two
    assert client.profile.max_page_size == 1000
    assert client.transport.retry.attempts == 4
