"""A live watcher: current states first, then every event the server pushes, resumable.

Built on ``client.subscribe(...)`` (the Events and State WebSocket API, XProtect 2023 R3+).
Run it against the simulator (``xprotect-events serve`` in another terminal)::

    python examples/live_watcher.py --type "Motion Started" --type "Motion Stopped"
    python examples/live_watcher.py --source "Camera 1 - Main Entrance" --checkpoint live.json
    python examples/live_watcher.py --type "Door Forced Open" --stored-type all --max-events 10

The library resumes a dropped connection. With ``--checkpoint`` a restart resumes too: within
the server's resume window (30 s) the server sends what was missed; later the stream fetches
it from the REST store and reports as a gap what the store may lack (the types not named by
``--stored-type``). Nothing comes twice. SIGTERM and Ctrl-C stop it cleanly: the
socket closed, the checkpoint saved. ``XPROTECT_URL`` (http://127.0.0.1:8080),
``XPROTECT_USERNAME`` and ``XPROTECT_PASSWORD`` (admin) as for ``xprotect-events serve``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import uuid
from collections.abc import Coroutine
from typing import Any, Literal

from xprotect_events import Event, Gap, LiveStream, XProtectClient, XProtectError

log = logging.getLogger("live_watcher")


class Watcher:
    """Shows what the stream yields, with names instead of GUIDs; counts it."""

    def __init__(self, types: dict[uuid.UUID, str], cameras: dict[uuid.UUID, str]) -> None:
        self.types, self.cameras = types, cameras
        self.events = self.gaps = 0

    def describe(self, event: Event) -> str:
        kind = self.types.get(event.type, str(event.type))
        where = self.cameras.get(event.source_id, event.source) if event.source_id else "-"
        return f"{kind} on {where} at {event.time.isoformat()} (id {event.id}, tag {event.tag})"

    def report_gap(self, gap: Gap) -> None:
        # A Gap comes in order, after the events the store could fill. ``types`` None: any
        # type the store does not keep. (subscribe(on_gap=...) is called with it too, for
        # code that does not read the stream: an alert, a metric.)
        self.gaps += 1
        names = [self.types.get(t, str(t)) for t in gap.types or ()]
        missing = ", ".join(names) if gap.types is not None else "any type"
        log.warning(
            "gap: events of %s between %s and %s may be missing (the server could not resume "
            "the session; %d filled from the REST store, not known to keep these types)",
            missing, gap.start.isoformat(), gap.end.isoformat(), gap.filled,
        )  # fmt: skip

    async def watch(self, live: LiveStream, max_events: int) -> None:
        async with live:  # connected and subscribed here; closed on every exit
            for state in await live.state():  # one per stateful source and state group
                log.info("state: %s", self.describe(state))
            log.info("ready: watching live events (session %s)", live.session_id)
            async for item in live:  # asking for the next marks this one processed
                if isinstance(item, Gap):
                    self.report_gap(item)
                    continue
                self.events += 1
                log.info("event: %s", self.describe(item))
                if self.events == max_events:
                    break  # a normal exit: this event is saved as processed too


async def filters(client: XProtectClient, args: argparse.Namespace) -> dict[str, Any]:
    """``subscribe``'s filters from names (or ids): the WebSocket API takes GUIDs only."""
    types = [(await client.event_type(name)).id for name in args.type]  # "MotionStarted" too
    sources = [(await client.camera(name)).id for name in args.source]  # by name or id
    # The API does not publish retention: stored_types names the types a failed resume can
    # fetch from the REST store; a Gap reports the others (all of them, if not given).
    stored: list[uuid.UUID] | Literal["all"] | None = None
    if args.stored_type == ["all"]:
        stored = "all"
    elif args.stored_type:
        stored = [(await client.event_type(name)).id for name in args.stored_type]
    return {"types": types or None, "sources": sources or None, "stored_types": stored}


async def run(args: argparse.Namespace) -> Watcher:
    async with XProtectClient(
        os.environ.get("XPROTECT_URL", "http://127.0.0.1:8080"),
        username=os.environ.get("XPROTECT_USERNAME", "admin"),
        password=os.environ.get("XPROTECT_PASSWORD", "admin"),
    ) as client:
        types = {t.id: t.display_name or t.name for t in await client.list_event_types()}
        cameras = {c.id: c.display_name or c.name for c in await client.list_cameras()}
        watcher = Watcher(types, cameras)
        # buffer= (10,000) bounds what waits for us: while it is full the socket is not read
        # and the server is held back; SlowConsumerError ends the stream only if it cannot be.
        live = client.subscribe(**await filters(client, args), checkpoint=args.checkpoint)
        await until_stopped(watcher.watch(live, args.max_events), args.duration)
        log.info("sessions resumed: %d, reconnects: %d", live.resumes, live.reconnects)
    return watcher


async def until_stopped(work: Coroutine[Any, Any, None], duration: float | None) -> None:
    """Run ``work`` until it ends, SIGTERM or Ctrl-C, or ``duration`` seconds."""
    task = asyncio.create_task(work)
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, task.cancel)
    await asyncio.wait([task], timeout=duration)
    task.cancel()  # leaves its `async with`: the socket closed, the checkpoint saved
    await asyncio.wait([task])
    if not task.cancelled():
        task.result()  # re-raises what ended the stream, if anything did


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--type", action="append", default=[], help="event type name or id")
    parser.add_argument("--source", action="append", default=[], help="camera name or id")
    parser.add_argument("--stored-type", action="append", default=[], help="kept by the store")
    parser.add_argument("--checkpoint", help="resume from (and save to) this file")
    parser.add_argument("--max-events", type=int, default=0, help="stop after N events")
    parser.add_argument("--duration", type=float, default=None, help="stop after S seconds")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    try:
        watcher = asyncio.run(run(args))
    except XProtectError as exc:
        log.error("stopped: %s", exc)
        return 1
    saved = f"; position saved to {args.checkpoint}" if args.checkpoint else ""
    log.info("stopped cleanly after %d event(s), %d gap(s)%s", watcher.events, watcher.gaps, saved)
    return 0


if __name__ == "__main__":
    sys.exit(main())
