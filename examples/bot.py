"""An asyncio bot skeleton: one event stream in, reactions out, with backpressure.

The pattern: one reader task iterates one event session and puts each new event on a
bounded queue; a few workers take events from the queue and react: post a message to a
chat (a stub sink here: replace :class:`StubSink` with your chat client) and, if asked,
trigger an "acknowledged" event back to the VMS, tagged with the id of the event it
answers. When the workers fall behind, the queue fills, the reader stops reading, and the
events wait on the server in the session: nothing is lost and memory stays bounded.

Run it against the simulator (``xprotect-events serve`` in another terminal)::

    python examples/bot.py
    python examples/bot.py --react-to "Person Detected" --ack-type "Door Forced Open"
    python examples/bot.py --max-events 10 --duration 60

On a real system, create a user-defined event "Acknowledged" in the Management Client and
pass ``--ack-type Acknowledged``. Connection from the environment, defaults matching
``xprotect-events serve``: ``XPROTECT_URL`` (http://127.0.0.1:8080), ``XPROTECT_USERNAME``
(admin), ``XPROTECT_PASSWORD`` (admin). Stops cleanly on SIGTERM and Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import uuid
from datetime import UTC, datetime

from xprotect_events import Event, EventTrigger, XProtectClient, XProtectError

log = logging.getLogger("bot")


def connect() -> XProtectClient:
    return XProtectClient(
        os.environ.get("XPROTECT_URL", "http://127.0.0.1:8080"),
        username=os.environ.get("XPROTECT_USERNAME", "admin"),
        password=os.environ.get("XPROTECT_PASSWORD", "admin"),
    )


class StubSink:
    """Where the bot posts messages: a stand-in for a chat client (Slack, Teams, Matrix …)."""

    async def post(self, text: str) -> None:
        await asyncio.sleep(0)  # a real sink awaits its HTTP call here
        log.info("[chat] %s", text)


class Bot:
    """Reacts to events: one reader, ``workers`` reactors, a queue of ``queue_size`` between."""

    def __init__(
        self,
        client: XProtectClient,
        sink: StubSink,
        names: dict[uuid.UUID, str],
        *,
        ack_type: uuid.UUID | None,
        queue_size: int,
        max_events: int,
    ) -> None:
        self.client = client
        self.sink = sink
        self.names = names
        self.ack_type = ack_type
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=queue_size)
        self.max_events = max_events
        self.handled = 0
        self.acknowledged = 0

    async def read(self, types: list[uuid.UUID]) -> None:
        """The one stream: blocks on a full queue (backpressure); ends after ``max_events``."""
        session = self.client.event_session(types=types, since=datetime.now(UTC))
        async with session:
            log.info("ready: watching %s", ", ".join(self.names[t] for t in types))
            read = 0
            async for change in session:
                if change.kind != "new":
                    continue
                await self.queue.put(change.event)
                read += 1
                if self.max_events and read >= self.max_events:
                    return

    async def work(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                await self.react(event)
            except XProtectError as exc:  # one failed reaction never stops the bot
                log.warning("could not react to %s: %s", event.id, exc)
            finally:
                self.queue.task_done()

    async def react(self, event: Event) -> None:
        name = self.names.get(event.type, str(event.type))
        await self.sink.post(f"{name} on {event.source} at {event.time:%H:%M:%S} ({event.id})")
        self.handled += 1
        if self.ack_type is None:
            return
        ack = EventTrigger(type=self.ack_type, source=event.source, tag=f"ack:{event.id}")
        answer = await self.client.trigger_event(ack)
        self.acknowledged += 1
        log.info("acknowledged %s with %s", event.id, answer.id)


async def run_bot(bot: Bot, types: list[uuid.UUID], workers: int, duration: float | None) -> None:
    """Read until done, a signal, or ``duration``; then let the workers finish the queue."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    reactors = [asyncio.create_task(bot.work()) for _ in range(workers)]
    reader = asyncio.create_task(bot.read(types))
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({reader, stopper}, timeout=duration, return_when="FIRST_COMPLETED")
    for task in (reader, stopper):
        task.cancel()
    await asyncio.gather(reader, stopper, return_exceptions=True)
    await asyncio.wait_for(bot.queue.join(), timeout=10)  # what was read is handled
    for task in reactors:
        task.cancel()
    await asyncio.gather(*reactors, return_exceptions=True)
    if not reader.cancelled():
        reader.result()  # re-raises what ended the stream, if anything did


async def main_async(args: argparse.Namespace) -> Bot:
    async with connect() as client:
        names = {t.id: t.display_name or t.name for t in await client.list_event_types()}
        wanted = args.react_to or ["Person Detected"]  # names (any case) or ids
        types = [(await client.event_type(t)).id for t in wanted]
        ack_type = (await client.event_type(args.ack_type)).id if args.ack_type else None
        if ack_type in types:
            raise SystemExit("--ack-type must differ from --react-to (the bot would loop)")
        bot = Bot(
            client,
            StubSink(),
            names,
            ack_type=ack_type,
            queue_size=args.queue_size,
            max_events=args.max_events,
        )
        await run_bot(bot, types, args.workers, args.duration)
    return bot


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--react-to", action="append", help="event type name or id (repeat)")
    parser.add_argument("--ack-type", help="trigger this event type back for each event")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--queue-size", type=int, default=100)
    parser.add_argument("--max-events", type=int, default=0, help="stop after N events")
    parser.add_argument("--duration", type=float, default=None, help="stop after S seconds")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    try:
        bot = asyncio.run(main_async(args))
    except XProtectError as exc:
        log.error("bot stopped: %s", exc)
        return 1
    log.info("bot stopped: %d handled, %d acknowledged", bot.handled, bot.acknowledged)
    return 0


if __name__ == "__main__":
    sys.exit(main())
