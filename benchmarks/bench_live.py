"""Live-events benchmarks: WebSocket push latency and CPU per pushed event.

Run: ``.venv/bin/python benchmarks/bench_live.py`` (``--quick`` for a smaller run).

The simulator runs in a child process (this file with ``--serve``), so the client's
``time.process_time`` counts the client's work only. The child prints its URL, then obeys
``push <count>`` lines on stdin: it triggers that many events through its own batch endpoint
(from the child, so the client only receives) and answers ``pushed N``.

1. latency: ``trigger_event`` returned → the event yielded by ``client.subscribe``, against
   ``client.event_session(poll_interval=0.1)``; p50/p99 over the same triggers;
2. CPU per pushed event: ``client.subscribe`` against a raw aiohttp WebSocket loop (connect,
   ``startSession``, ``addSubscription``, ``orjson.loads`` each frame, count events), and the
   raw loop decoding each frame with the library's frame decoder instead: msgspec's decode
   into structs alone, then all of it (``ws_wire.parse_frame``: the events, built).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from child import ChildServer

from xprotect_events import ws_typed, ws_wire
from xprotect_events.client import XProtectClient
from xprotect_events.models import EventTrigger
from xprotect_events.testing import SimClock, Simulator, seed

CLIENT_ID, CLIENT_SECRET = "service", "service-secret"
LATENCY_TYPE = seed.USER_DEFINED_EVENT
PUSH_TYPE = seed.UNSTORED_EVENT  # accepted and pushed, never stored: the server stays small
DOOR = EventTrigger(type=LATENCY_TYPE, source=f"userDefinedEvents/{LATENCY_TYPE}")


async def serve() -> None:
    async with Simulator(clock=SimClock()) as sim, aiohttp.ClientSession() as http:
        print(sim.url, flush=True)
        headers = {"Authorization": f"Bearer {sim.issue_token(CLIENT_ID)}"}
        body = orjson.dumps([{"type": str(PUSH_TYPE), "source": None, "datatype": None}] * 100)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            count = int(line.split()[1])
            for _ in range(count // 100):
                async with http.post(
                    sim.api_url + "/events/batch",
                    data=body,
                    headers={**headers, "Content-Type": "application/json"},
                ) as r:
                    assert r.status == 200, r.status
            print(f"pushed {count}", flush=True)


class Server(ChildServer):
    """The simulator child process."""

    @classmethod
    async def start(cls) -> Server:
        process = await cls.launch(__file__)
        return cls(process, await cls.first_line(process))

    async def push(self, count: int) -> None:
        await self.ask(f"push {count}")


def client(url: str) -> XProtectClient:
    return XProtectClient(url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)


def percentiles(samples: list[float]) -> str:
    ms = sorted(1e3 * s for s in samples)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"p50 {statistics.median(ms):.2f} ms, p99 {p99:.2f} ms, max {ms[-1]:.2f} ms"


async def measure(c: XProtectClient, stream: AsyncIterator[Any], rounds: int) -> list[float]:
    """``trigger_event`` returns → the event is yielded; triggers 0 to 20 ms apart (random)."""
    yielded: dict[uuid.UUID, float] = {}
    returned: dict[uuid.UUID, float] = {}
    done = asyncio.Event()

    def check() -> None:
        if len(returned) == rounds and returned.keys() <= yielded.keys():
            done.set()

    async def consume() -> None:
        async for item in stream:
            event = item.event if hasattr(item, "event") else item
            yielded[event.id] = time.perf_counter()
            check()

    consumer = asyncio.create_task(consume())
    for _ in range(rounds):
        event = await c.trigger_event(DOOR)
        returned[event.id] = time.perf_counter()
        await asyncio.sleep(random.uniform(0, 0.02))
    check()
    await done.wait()
    consumer.cancel()
    return [max(0.0, yielded[i] - t) for i, t in returned.items()]


async def latency_live(url: str, rounds: int) -> list[float]:
    async with client(url) as c, c.subscribe(types=[LATENCY_TYPE]) as live:
        return await measure(c, live, rounds)


async def latency_sessions(url: str, rounds: int) -> list[float]:
    async with client(url) as c, c.event_session(types=[LATENCY_TYPE], poll_interval=0.1) as s:
        return await measure(c, s, rounds)


async def cpu_live(server: Server, count: int) -> float:
    async with client(server.url) as c, c.subscribe(types=[PUSH_TYPE], buffer=count) as live:
        cpu = time.process_time()
        pusher = asyncio.create_task(server.push(count))
        for _ in range(count):
            await anext(live)
        cpu = time.process_time() - cpu
        await pusher
    return cpu / count


def orjson_events(frame: str) -> list[Any]:
    """What the raw loop does with a frame."""
    events: list[Any] = orjson.loads(frame)["events"]
    return events


def struct_events(frame: str) -> list[Any]:
    """msgspec's decode of a frame into structs, no ``Event`` built (the library's decoder
    without its last step)."""
    return list(ws_typed._BATCH.decode(frame).events)


async def cpu_raw(server: Server, count: int, decode: Callable[[str], Any]) -> float:
    async with client(server.url) as c:
        token = await c.tokens.token()
    ws_url = server.url.replace("http", "ws", 1) + "/api/ws/events/v1"
    filters = [
        {
            "modifier": "include",
            "resourceTypes": ["*"],
            "sourceIds": ["*"],
            "eventTypes": [str(PUSH_TYPE)],
        }
    ]
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            ws_url, headers={"Authorization": f"Bearer {token}"}, max_msg_size=1 << 28
        ) as ws,
    ):
        for i, cmd in enumerate(
            (
                {"command": "startSession", "sessionId": "", "eventId": ""},
                {"command": "addSubscription", "filters": filters},
            ),
            1,
        ):
            await ws.send_str(orjson.dumps({**cmd, "commandId": i}).decode())
            await ws.receive()
        cpu = time.process_time()
        pusher = asyncio.create_task(server.push(count))
        seen = 0
        while seen < count:
            data = (await ws.receive()).data
            events = decode(data)
            assert isinstance(events, list)
            seen += len(events)
        cpu = time.process_time() - cpu
        await pusher
    return cpu / count


async def best(rounds: int, run: Callable[[], Awaitable[float]]) -> float:
    return min([await run() for _ in range(rounds)])


async def main(quick: bool) -> None:
    rounds, count, repeats = (100, 20_000, 2) if quick else (1000, 100_000, 5)
    server = await Server.start()
    try:
        print(
            f"machine: {platform.machine()} {platform.processor() or ''}, "
            f"Python {platform.python_version()}, aiohttp {aiohttp.__version__}"
        )
        print(f"latency, subscribe:      {percentiles(await latency_live(server.url, rounds))}")
        sessions = await latency_sessions(server.url, rounds)
        print(f"latency, event_session:  {percentiles(sessions)} (poll_interval=0.1)")
        lib = await best(repeats, lambda: cpu_live(server, count))
        raw = await best(repeats, lambda: cpu_raw(server, count, orjson_events))
        raw_structs = await best(repeats, lambda: cpu_raw(server, count, struct_events))
        raw_decode = await best(repeats, lambda: cpu_raw(server, count, ws_wire.parse_frame))
        print(f"CPU per pushed event, subscribe:        {1e6 * lib:.2f} µs ({count} events)")
        print(f"CPU per pushed event, raw aiohttp loop: {1e6 * raw:.2f} µs")
        print(f"CPU per pushed event, raw + msgspec structs (no Event): {1e6 * raw_structs:.2f} µs")
        print(f"CPU per pushed event, raw + parse_frame: {1e6 * raw_decode:.2f} µs")
        print(f"ratio subscribe / raw loop: {lib / raw:.2f}x (target <= 1.5x)")
        print(f"ratio subscribe / raw + parse_frame: {lib / raw_decode:.2f}x")
    finally:
        await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    asyncio.run(serve() if args.serve else main(args.quick))
