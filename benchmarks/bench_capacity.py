"""Simulator capacity: RSS per stored event and query times at 1,000,000 stored events.

Run: ``.venv/bin/python benchmarks/bench_capacity.py`` (``--events N`` to change the size).

The simulator runs in a child process (this file with ``--serve``); the parent reads the
child's RSS from ``/proc/<pid>/status`` and times requests over loopback HTTP:

1. RSS after start, after 100,000 events triggered over HTTP (batch POSTs of 100: the path
   ``serve`` users take), and after a bulk load up to ``--events`` (``store_events``);
2. at that size: ``GET /events`` first page (100), a filtered list (one camera, a one-hour
   time window, 100), the first and a later read of an event session filtered on one type
   (``maxSize=100``): the median of 21 runs each, and the same requests against an empty
   simulator in the same run (the ratio is the figure that travels across machines).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from xprotect_events.testing import SimClock, Simulator, seed

SOURCES = [f"cameras/{c}" for c in seed.CAMERA_IDS]
TYPES = [seed.ANALYTICS_EVENT, seed.LICENSE_PLATE_EVENT, seed.USER_DEFINED_EVENT]
TAGS = [f"gate-{i}" for i in range(100)]
START = datetime.now(UTC) - timedelta(days=1)


async def serve() -> None:
    async with Simulator(clock=SimClock(), session_idle_timeout=3600.0) as sim:
        print(sim.url, flush=True)
        loop = asyncio.get_running_loop()
        offset = 0
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            count = int(line.split()[1])
            items = (
                {
                    "type": TYPES[i % 3],
                    "source": None if i % 3 == 2 else SOURCES[i % 4],
                    "time": START + timedelta(milliseconds=(offset + i) * 50),
                    "tag": TAGS[i % 100],
                    "datatype": None if i % 3 == 2 else "analytics",
                }
                for i in range(count)
            )
            offset += count
            stored = sim.store_events(items)
            print(f"stored {stored} {len(sim.store)}", flush=True)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Child:
    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--serve",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        self.url = (await self.proc.stdout.readline()).decode().strip()

    async def store(self, count: int) -> str:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(f"store {count}\n".encode())
        await self.proc.stdin.drain()
        return (await self.proc.stdout.readline()).decode().strip()

    async def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        await self.proc.wait()


async def token(http: aiohttp.ClientSession, url: str) -> dict[str, str]:
    form = {"grant_type": "client_credentials", "client_id": "service"}
    form["client_secret"] = "service-secret"
    async with http.post(url + "/IDP/connect/token", data=form) as r:
        return {"Authorization": f"Bearer {(await r.json())['access_token']}"}


async def trigger_http(http: aiohttp.ClientSession, url: str, count: int) -> None:
    headers = await token(http, url)
    body = [
        {
            "type": str(seed.ANALYTICS_EVENT),
            "source": SOURCES[i % 4],
            "datatype": "analytics",
            "tag": TAGS[i % 100],
        }
        for i in range(100)
    ]
    for _ in range(count // 100):
        async with http.post(url + "/api/rest/v1/events/batch", json=body, headers=headers) as r:
            assert r.status == 200


async def timed(call: object, runs: int = 21) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def queries(http: aiohttp.ClientSession, url: str) -> dict[str, float]:
    headers = await token(http, url)
    api = url + "/api/rest/v1"
    window_from = (START + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    window_to = (START + timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M:%SZ")

    async def get(path: str) -> None:
        async with http.get(api + path, headers=headers) as r:
            assert r.status == 200, await r.text()
            await r.read()

    async def session_first() -> None:
        body = {
            "filterBy": [{"property": "type", "operator": "equals", "value": str(TYPES[1])}],
            "orderBy": [],
        }
        async with http.post(api + "/eventSessions", json=body, headers=headers) as r:
            sid = (await r.json())["id"]
        await get(f"/eventSessions/{sid}?maxSize=100")
        session_ids.append(sid)

    session_ids: list[str] = []
    source = f"cameras/{seed.CAMERA_IDS[2]}"
    out = {
        "list first page": await timed(lambda: get("/events?size=100")),
        "filtered list": await timed(
            lambda: get(
                f"/events?size=100&source.id={source}&time=gt:'{window_from}',lt:'{window_to}'"
            )
        ),
        "session create + first read": await timed(session_first),
    }
    out["session later read"] = await timed(
        lambda: get(f"/eventSessions/{session_ids[0]}?maxSize=100")
    )
    return out


async def main(events: int) -> None:
    empty, full = Child(), Child()
    await empty.start()
    await full.start()
    assert full.proc.pid is not None
    async with aiohttp.ClientSession() as http:
        base = rss_mb(full.proc.pid)
        await trigger_http(http, full.url, 100_000)
        after_http = rss_mb(full.proc.pid)
        started = time.perf_counter()
        line = await full.store(events - 100_000)
        load_s = time.perf_counter() - started
        after_bulk = rss_mb(full.proc.pid)
        at_empty = await queries(http, empty.url)
        at_full = await queries(http, full.url)
    await empty.stop()
    await full.stop()
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(
        f"RSS at start {base:.1f} MB; +100,000 over HTTP {after_http:.1f} MB "
        f"({(after_http - base) * 1048576 / 100_000:.0f} B/event)"
    )
    print(
        f"bulk load of {events - 100_000:,} in {load_s:.1f} s ({line}); RSS {after_bulk:.1f} MB "
        f"({(after_bulk - base) * 1048576 / events:.0f} B/event over the start)"
    )
    for name, ms in at_full.items():
        print(
            f"{name}: {ms:.2f} ms at {events:,} events, {at_empty[name]:.2f} ms empty "
            f"({ms / at_empty[name]:.2f}x)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    asyncio.run(serve() if args.serve else main(args.events))
