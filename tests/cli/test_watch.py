"""The watch command: an event session streamed until a signal.

See ``tests/cli/running.py`` for how the console script is run."""

from __future__ import annotations

import signal

import orjson

from tests.cli.running import CAMERA_1, DOOR, PERSON, admin_env, finish, read_until, start_cli
from xprotect_events.cli import EXIT_OK
from xprotect_events.client import XProtectClient
from xprotect_events.models import EventTrigger
from xprotect_events.testing.simulator import Simulator


async def test_watch_streams_until_sigint_and_deletes_its_session(
    sim: Simulator, service_client: XProtectClient
) -> None:
    proc = await start_cli(
        "watch", "--json", "--poll-interval", "0.1", "--type", "Person Detected",
        env=admin_env(sim),
    )  # fmt: skip
    try:
        await read_until(proc.stderr, "watching events")
        assert sim.sessions_alive == 1
        for tag in ("w1", "w2"):
            await service_client.trigger_event(EventTrigger(type=PERSON, source=CAMERA_1, tag=tag))
        await service_client.trigger_event(EventTrigger(type=DOOR, tag="not-watched"))
        seen = await read_until(proc.stdout, '"w2"')
        changes = [orjson.loads(line) for line in seen]
        assert [c["event"]["tag"] for c in changes] == ["w1", "w2"]
        assert {c["kind"] for c in changes} == {"new"}
        proc.send_signal(signal.SIGINT)
        assert await finish(proc) == EXIT_OK
        assert sim.sessions_alive == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
