"""A service that consumes an event stream and reacts: logs each event, counts per type.

Run it against the simulator (``xprotect-events serve`` in another terminal)::

    python examples/stream_service.py                    # until Ctrl-C or SIGTERM
    python examples/stream_service.py --max-events 100   # or after 100 events
    python examples/stream_service.py --duration 30 --type "Person Detected"

Connection from the environment; the defaults match ``xprotect-events serve``:
``XPROTECT_URL`` (http://127.0.0.1:8080), ``XPROTECT_USERNAME`` (admin),
``XPROTECT_PASSWORD`` (admin). With ``XPROTECT_CLIENT_ID``/``XPROTECT_CLIENT_SECRET`` it
logs in as a service client instead.

Shutdown is clean on SIGTERM (what ``docker stop`` and systemd send) and Ctrl-C: the
consumer is cancelled, the ``async with`` blocks delete the server-side event session and
close the connections, and the counts are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime

from xprotect_events import SessionChange, XProtectClient, XProtectError

log = logging.getLogger("stream_service")


def connect() -> XProtectClient:
    url = os.environ.get("XPROTECT_URL", "http://127.0.0.1:8080")
    client_id = os.environ.get("XPROTECT_CLIENT_ID")
    if client_id:
        return XProtectClient(
            url, client_id=client_id, client_secret=os.environ["XPROTECT_CLIENT_SECRET"]
        )
    return XProtectClient(
        url,
        username=os.environ.get("XPROTECT_USERNAME", "admin"),
        password=os.environ.get("XPROTECT_PASSWORD", "admin"),
    )


class Reactor:
    """What the service does with each change; replace ``react`` with your own logic."""

    def __init__(self, type_names: dict[uuid.UUID, str]) -> None:
        self.type_names = type_names
        self.counts: Counter[str] = Counter()
        self.handled = 0

    async def react(self, change: SessionChange) -> None:
        event = change.event
        name = self.type_names.get(event.type, str(event.type))
        if change.kind == "deleted":
            log.info("deleted %s (%s): retention ran out", event.id, name)
            return
        self.counts[name] += 1
        self.handled += 1
        log.info("event %s %s source=%s tag=%s", name, event.id, event.source, event.tag)


async def consume(
    client: XProtectClient,
    reactor: Reactor,
    types: list[uuid.UUID] | None,
    args: argparse.Namespace,
) -> None:
    """Stream from now on; stop after ``--max-events`` if given."""
    session = client.event_session(
        types=types, since=datetime.now(UTC), poll_interval=args.poll_interval
    )
    async with session:
        log.info("ready: streaming events (session %s)", session.id)
        async for change in session:
            await reactor.react(change)
            if args.max_events and reactor.handled >= args.max_events:
                return


async def run(args: argparse.Namespace) -> Reactor:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with connect() as client:
        type_names = {t.id: t.display_name or t.name for t in await client.list_event_types()}
        reactor = Reactor(type_names)
        # by id, name or display name, in any case ("PersonDetected" finds "Person Detected")
        types = [(await client.event_type(t)).id for t in args.type] or None
        consumer = asyncio.create_task(consume(client, reactor, types, args))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait(
            {consumer, stopper}, timeout=args.duration, return_when="FIRST_COMPLETED"
        )
        for task in (consumer, stopper):
            task.cancel()
        await asyncio.gather(consumer, stopper, return_exceptions=True)
        if not consumer.cancelled():
            consumer.result()  # re-raises what ended the stream, if anything did
    return reactor


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-events", type=int, default=0, help="stop after N events")
    parser.add_argument("--duration", type=float, default=None, help="stop after S seconds")
    parser.add_argument("--type", action="append", default=[], help="event type name or id")
    parser.add_argument("--poll-interval", type=float, default=0.5)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    try:
        reactor = asyncio.run(run(args))
    except XProtectError as exc:
        log.error("stopped: %s", exc)
        return 1
    summary = ", ".join(f"{name}: {n}" for name, n in sorted(reactor.counts.items()))
    log.info("stopped cleanly after %d event(s) (%s)", reactor.handled, summary or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
