"""Event-session benchmarks: latency, drain rate and CPU per event, flat memory.

Run: ``.venv/bin/python benchmarks/bench_sessions.py`` (``--quick`` for a smaller run).

The simulator runs in a child process (this file with ``--serve``), so the client's
``time.process_time`` counts the client's work only. The child prints its URL, then obeys
``store <type-guid> <count>`` lines on stdin (bulk insert, no HTTP) and answers ``stored N``.

1. latency: ``trigger_event`` returns → the change is yielded, ``poll_interval=0.1``;
2. drain: a 100,000-event backlog read with ``max_size=1000``, against a raw aiohttp loop
   over the same endpoints (create, GET until empty, orjson parse): events/s, CPU/event;
   the raw loop also with a consumer's work on each event (counted one by one, its id
   kept in a set), to set against the library's consumer doing the same with each change;
   and the same backlog through ``list_events`` (pages of 1,000);
3. memory: 1,000,000 events through one stream, tracemalloc and ru_maxrss at checkpoints.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import resource
import statistics
import sys
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from child import ChildServer

from xprotect_events import wire
from xprotect_events.client import XProtectClient
from xprotect_events.models import EventTrigger
from xprotect_events.testing import SimClock, Simulator, seed

CLIENT_ID, CLIENT_SECRET = "service", "service-secret"
LATENCY_TYPE = seed.USER_DEFINED_EVENT
DRAIN_TYPE = seed.ANALYTICS_EVENT
MEMORY_TYPE = seed.LICENSE_PLATE_EVENT
SOURCE = f"cameras/{seed.CAMERA_IDS[0]}"

# ---------------------------------------------------------------------- the server child


async def serve() -> None:
    async with Simulator(clock=SimClock(), session_idle_timeout=3600.0) as sim:
        print(sim.url, flush=True)
        loop = asyncio.get_running_loop()
        next_time = datetime.now(UTC) - timedelta(days=2)
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            _, type_id, count = line.split()
            start, step = next_time, timedelta(milliseconds=1)
            items = (
                {"type": type_id, "source": SOURCE, "time": start + i * step}
                for i in range(int(count))
            )
            stored = sim.store_events(items)
            next_time = start + int(count) * step
            print(f"stored {stored}", flush=True)


class Server(ChildServer):
    """The simulator child process."""

    @classmethod
    async def start(cls) -> Server:
        process = await cls.launch(__file__)
        return cls(process, await cls.first_line(process))

    async def store(self, type_id: uuid.UUID, count: int) -> None:
        answer = (await self.ask(f"store {type_id} {count}")).split()
        assert answer == ["stored", str(count)], answer


def connect(url: str) -> XProtectClient:
    return XProtectClient(url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)


# ---------------------------------------------------------------------- 1. latency


async def latency(server: Server, count: int) -> dict[str, float]:
    yielded: dict[uuid.UUID, float] = {}
    returned: dict[uuid.UUID, float] = {}
    async with (
        connect(server.url) as reader,
        connect(server.url) as writer,
        reader.event_session(types=[LATENCY_TYPE], poll_interval=0.1) as session,
    ):

        async def consume() -> None:
            async for change in session:
                yielded[change.event.id] = time.perf_counter()
                if len(yielded) == count:
                    return

        consumer = asyncio.create_task(consume())
        await asyncio.sleep(0.2)  # the session is read once (empty) before triggers
        for _ in range(count):
            event = await writer.trigger_event(EventTrigger(type=LATENCY_TYPE, source=SOURCE))
            returned[event.id] = time.perf_counter()
            await asyncio.sleep(random.uniform(0, 0.02))
        await asyncio.wait_for(consumer, 30)
    ms = sorted(1e3 * (yielded[i] - returned[i]) for i in returned)
    return {"p50_ms": _pct(ms, 50), "p99_ms": _pct(ms, 99), "max_ms": ms[-1]}


def _pct(values: list[float], pct: float) -> float:
    return values[min(len(values) - 1, round(pct / 100 * (len(values) - 1)))]


# ---------------------------------------------------------------------- 2. drain


class Raw:
    """A plain aiohttp session with a service token: the floor to compare against."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.api = url + "/api/rest/v1"
        self.http = aiohttp.ClientSession()
        self.headers: dict[str, str] = {}

    async def login(self) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }
        async with self.http.post(self.url + "/IDP/connect/token", data=form) as resp:
            token = orjson.loads(await resp.read())["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    async def loop(self, count: int, max_size: int, typed: bool = False, read: str = "") -> int:
        """Create a session, GET until empty, parse with orjson, delete.

        ``typed`` also builds the library's :class:`Event` objects from each page (the same
        decoder the library uses), to show what the session machinery itself costs.
        ``read`` does a consumer's work on each parsed event, as ``library_loop`` does on
        each change: "each" counts them one by one, "id" keeps each ``"id"`` in a set
        (checked unique); "" only takes each page's length.
        """
        ids: set[str] = set()
        body = {
            "filterBy": [{"property": "type", "operator": "equals", "value": str(DRAIN_TYPE)}],
            "orderBy": [{"property": "time", "direction": "asc"}],
        }
        http, api, headers = self.http, self.api, self.headers
        async with http.post(api + "/eventSessions", json=body, headers=headers) as resp:
            session_id = orjson.loads(await resp.read())["id"]
        seen = 0
        params = {"maxSize": str(max_size)}
        while True:
            url = f"{api}/eventSessions/{session_id}"
            async with http.get(url, params=params, headers=headers) as resp:
                page = orjson.loads(await resp.read())
            events = page["data"]["newEvents"]
            if typed:
                events = wire.session_read_from_wire(page).new_events
            if read == "each":
                for _event in events:
                    seen += 1
            elif read == "id":
                for event in events:
                    ids.add(event["id"])
                    seen += 1
            else:
                seen += len(events)
            if not events:
                break
        async with http.delete(f"{api}/eventSessions/{session_id}", headers=headers):
            pass
        assert seen == count, seen
        assert read != "id" or len(ids) == seen
        return seen


async def library_loop(
    client: XProtectClient, count: int, max_size: int, read: str = "count"
) -> int:
    """Drain with the library. ``read``: "count" only counts the changes, "id" reads
    ``change.event.id`` of each and keeps it in a set (checked unique), "id-only" reads it
    and keeps nothing, "pages" counts them a page at a time (``pages()``)."""
    seen = 0
    ids: set[uuid.UUID] = set()
    session = client.event_session(types=[DRAIN_TYPE], max_size=max_size, poll_interval=60)
    async with session:
        if read == "pages":
            async for page in session.pages():
                seen += len(page)
                if seen >= count:
                    break
            return seen
        async for change in session:
            seen += 1
            if read == "id":
                ids.add(change.event.id)
            elif read == "id-only":
                change.event.id  # noqa: B018 (the read is what is measured)
            if seen == count:
                break
    assert read != "id" or len(ids) == seen
    return seen


async def list_loop(client: XProtectClient, count: int) -> int:
    """``list_events`` of the same backlog (pages of 1,000), reading each event's id."""
    seen = 0
    async for event in client.list_events(page_size=1000, limit=count):
        event.id  # noqa: B018 (the read is what is measured)
        seen += 1
    assert seen == count, seen
    return seen


async def measure(run: Callable[[], Awaitable[int]]) -> tuple[float, float]:
    """(events per second, CPU microseconds per event) of one run."""
    wall, cpu = time.perf_counter(), time.process_time()
    seen = await run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return seen / wall, 1e6 * cpu / seen


async def drain(server: Server, count: int, rounds: int) -> dict[str, list[tuple[float, float]]]:
    """Each loop ``rounds`` times, interleaved: (events/s, CPU us/event) per run."""
    await server.store(DRAIN_TYPE, count)
    raw = Raw(server.url)
    async with raw.http, connect(server.url) as client:
        await raw.login()
        await client.login()
        loops: dict[str, Callable[[], Awaitable[int]]] = {
            "raw": lambda: raw.loop(count, 1000),
            "raw+decode": lambda: raw.loop(count, 1000, typed=True),
            "raw-each": lambda: raw.loop(count, 1000, read="each"),
            "raw-id": lambda: raw.loop(count, 1000, read="id"),
            "library": lambda: library_loop(client, count, 1000),
            "library-id": lambda: library_loop(client, count, 1000, "id"),
            "library-id-only": lambda: library_loop(client, count, 1000, "id-only"),
            "library-pages": lambda: library_loop(client, count, 1000, "pages"),
            "list_events": lambda: list_loop(client, count),
        }
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in loops}
        for _ in range(rounds):
            for name, loop in loops.items():
                runs[name].append(await measure(loop))
    return runs


def drain_report(runs: dict[str, list[tuple[float, float]]]) -> list[str]:
    best = {name: min(c for _, c in r) for name, r in runs.items()}
    lines = []
    for name, r in runs.items():
        rate = statistics.median(x for x, _ in r)
        each = ", ".join(f"{c:.2f}" for _, c in r)
        lines.append(
            f"drain {name}: median {rate:,.0f} ev/s; CPU us/event best {best[name]:.2f} "
            f"(runs: {each})"
        )
    for name in ("library", "library-id", "library-id-only", "library-pages"):
        lines.append(_ratio_line(runs, best, name, "raw"))
    # each library consumer against the raw loop doing the same consumer work per event
    lines.append(_ratio_line(runs, best, "library", "raw-each"))
    lines.append(_ratio_line(runs, best, "library-id", "raw-id"))
    lines.append(f"load average {os.getloadavg()}")
    return lines


def _ratio_line(
    runs: dict[str, list[tuple[float, float]]], best: dict[str, float], name: str, raw: str
) -> str:
    rounds = zip(runs[name], runs[raw], strict=True)
    per_round = ", ".join(f"{lib / floor:.2f}" for (_, lib), (_, floor) in rounds)
    return (
        f"drain ratio {name}/{raw} best {best[name] / best[raw]:.2f} "
        f"(per round: {per_round}), {name}/raw+decode {best[name] / best['raw+decode']:.2f}"
    )


# ---------------------------------------------------------------------- 3. memory


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def memory(server: Server, count: int) -> list[dict[str, float]]:
    await server.store(MEMORY_TYPE, count)
    marks: list[dict[str, float]] = []
    step = count // 10
    tracemalloc.start()
    seen = 0
    async with (
        connect(server.url) as client,
        client.event_session(types=[MEMORY_TYPE], max_size=1000, poll_interval=60) as s,
    ):
        async for _change in s:
            seen += 1
            if seen % step == 0:
                current, peak = tracemalloc.get_traced_memory()
                marks.append(
                    {
                        "events": seen,
                        "traced_mb": current / 2**20,
                        "traced_peak_mb": peak / 2**20,
                        "maxrss_mb": _rss_mb(),
                    }
                )
            if seen == count:
                break
    tracemalloc.stop()
    return marks


# ---------------------------------------------------------------------- main


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs, {model}, Python {platform.python_version()}"


async def main(quick: bool, rounds: int) -> None:
    scale = 10 if quick else 1
    server = await Server.start()
    try:
        print(f"machine: {machine()}")
        lat = await latency(server, 1000 // scale)
        print(f"latency (poll 0.1 s): {_fmt(lat)}")
        for line in drain_report(await drain(server, 100_000 // scale, rounds)):
            print(line)
        for mark in await memory(server, 1_000_000 // scale):
            print(f"memory: {_fmt(mark)}")
    finally:
        await server.stop()


def _fmt(values: dict[str, float]) -> str:
    return ", ".join(
        f"{k}={v:,.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", action="store_true", help="run the simulator child")
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--rounds", type=int, default=5, help="drain rounds (interleaved)")
    args = parser.parse_args()
    asyncio.run(serve() if args.serve else main(args.quick, args.rounds))
