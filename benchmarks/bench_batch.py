"""Batch triggering: the library against a hand-written aiohttp loop, one-POST-per-event, memory.

    .venv/bin/python benchmarks/bench_batch.py [--events 100000] [--sequential 10000]
                                               [--memory-events 1000000] [--rounds 3]

The simulator runs in a separate process (``xprotect-events serve``), so the CPU
figures are the client's alone (``time.process_time`` of this process). Every trigger uses
a service token and the seeded retention-0 event type: accepted, never stored, so the
simulator's memory stays flat however many are sent. Memory is measured in a fresh child
process (its peak RSS, ``VmHWM``, is reset just before the stream starts; Linux only), for a tenth
of the events and for all of them: flat memory means the same growth for both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from xprotect_events import EventTrigger
from xprotect_events.client import XProtectClient
from xprotect_events.testing import seed

CHUNK = 100
CONCURRENCY = 8
BATCH_PATH = "/api/rest/v1/events/batch?triggerRules=true"
TOKEN_PATH = "/API/IDP/connect/token"
EVENT_TYPE = seed.UNSTORED_EVENT


def trigger(i: int) -> EventTrigger:
    return EventTrigger(
        type=EVENT_TYPE, source=f"cameras/{seed.CAMERA_IDS[i % 4]}", tag=f"bench-{i}"
    )


def body(i: int) -> dict[str, Any]:
    """What a hand-written script sends: the same JSON object as ``trigger(i)``."""
    return {
        "type": str(EVENT_TYPE),
        "source": f"cameras/{seed.CAMERA_IDS[i % 4]}",
        "datatype": None,
        "tag": f"bench-{i}",
    }


def client(url: str) -> XProtectClient:
    return XProtectClient(
        url, client_id=seed.SERVICE_CLIENT_ID, client_secret=seed.SERVICE_CLIENT_SECRET
    )


# --------------------------------------------------------------------------- the runs


async def run_library(url: str, triggers: list[EventTrigger]) -> tuple[float, float, float]:
    """``trigger_events``: (client CPU seconds, wall seconds, simulator CPU seconds)."""
    async with client(url) as c:
        await c.login()
        sim = cpu_seconds(SIM_PID[0])
        cpu, wall = time.process_time(), time.perf_counter()
        report = await c.trigger_events(triggers, chunk_size=CHUNK, concurrency=CONCURRENCY)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        sim = cpu_seconds(SIM_PID[0]) - sim
    assert report.accepted == len(triggers), (report.accepted, report.failures[:3])
    return cpu, wall, sim


async def raw_token(session: aiohttp.ClientSession, url: str) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": seed.SERVICE_CLIENT_ID,
        "client_secret": seed.SERVICE_CLIENT_SECRET,
    }
    async with session.post(url + TOKEN_PATH, data=form) as resp:
        resp.raise_for_status()
        token: str = (await resp.json())["access_token"]
        return token


_TYPE_TEXTS: dict[uuid.UUID, str] = {}


def hand_body(t: EventTrigger) -> dict[str, Any]:
    """What a careful hand-written script over ``EventTrigger`` objects would send for each:
    the least conversion that gives the same JSON as ``body``, each type's text made once
    (``str(uuid)`` costs more than the rest of the dict)."""
    text = _TYPE_TEXTS.get(t.type)
    if text is None:
        text = _TYPE_TEXTS[t.type] = str(t.type)
    return {"type": text, "source": t.source, "datatype": t.datatype, "tag": t.tag}


async def run_raw(
    url: str, bodies: list[dict[str, Any]] | list[EventTrigger], size: int = CHUNK
) -> tuple[float, float]:
    """The hand-written loop: same chunking (``size`` a request) and concurrency, token
    fetched once. Given ``EventTrigger`` objects (the library's input), it converts each
    chunk with :func:`hand_body` as it sends it."""
    async with aiohttp.ClientSession() as session:
        headers = {
            "Authorization": f"Bearer {await raw_token(session, url)}",
            "Content-Type": "application/json",
        }
        limit = asyncio.Semaphore(CONCURRENCY)
        accepted = 0

        async def post(chunk: list[Any]) -> None:
            nonlocal accepted
            if isinstance(chunk[0], EventTrigger):
                chunk = [hand_body(t) for t in chunk]
            async with (
                limit,
                session.post(url + BATCH_PATH, data=orjson.dumps(chunk), headers=headers) as resp,
            ):
                resp.raise_for_status()
                items = orjson.loads(await resp.read())["array"]
                accepted += sum("id" in item for item in items)

        cpu, wall = time.process_time(), time.perf_counter()
        chunks = [bodies[i : i + size] for i in range(0, len(bodies), size)]
        await asyncio.gather(*(post(chunk) for chunk in chunks))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert accepted == len(bodies), accepted
    return cpu, wall


async def run_sequential(url: str, bodies: list[dict[str, Any]]) -> float:
    """The quickstart's way: one ``POST /events`` per event, one after the other. Events/s."""
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {await raw_token(session, url)}"}
        started = time.perf_counter()
        for item in bodies:
            async with session.post(
                url + "/api/rest/v1/events?triggerRules=true", json=item, headers=headers
            ) as resp:
                resp.raise_for_status()
                await resp.read()
        return len(bodies) / (time.perf_counter() - started)


def counted(n: int, pulled: list[int]) -> Iterator[EventTrigger]:
    for i in range(n):
        pulled[0] += 1
        yield trigger(i)


def rss_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def reset_peak_rss() -> None:
    """Make ``VmHWM`` start again from the current RSS (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


async def run_memory(url: str, n: int, how: str) -> dict[str, float | str]:
    """Peak RSS growth of ``stream_trigger`` over a generator of ``n`` triggers (``how`` =
    "stream"), or of ``trigger_events`` over a list built before the measurement starts
    ("report-list") or over a generator ("report-generator"), the report kept to the end."""
    async with client(url) as c:
        await c.login()
        listed = [trigger(i) for i in range(n)] if how == "report-list" else None
        gc.collect()
        reset_peak_rss()
        base = rss_mb("VmRSS")
        accepted = 0
        pulled = [0]
        started = time.perf_counter()
        options: dict[str, Any] = {"chunk_size": CHUNK, "concurrency": CONCURRENCY}
        if how == "stream":
            stream = c.stream_trigger(counted(n, pulled), **options)
            async with contextlib.aclosing(stream):
                async for result in stream:
                    accepted += result.status == "accepted"
        else:
            source = listed if listed is not None else counted(n, pulled)
            report = await c.trigger_events(source, **options)
            accepted = report.accepted
            pulled[0] = n if listed is not None else pulled[0]
        wall = time.perf_counter() - started
        peak = rss_mb("VmHWM")
    assert accepted == n == pulled[0], (accepted, n, pulled)
    return {
        "how": how,
        "events": n,
        "rss_before_mb": base,
        "rss_peak_mb": peak,
        "rss_growth_mb": peak - base,
        "events_per_s": n / wall,
    }


# --------------------------------------------------------------------------- orchestration


def cpu_seconds(pid: int) -> float:
    """CPU of a process's main thread so far, in ns steps (``/proc/PID/schedstat``; Linux;
    ``/proc/PID/stat`` counts whole clock ticks, 10 ms, too coarse for a 50,000-event
    run), or user + system CPU of the whole process from ``stat`` if schedstat is absent."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SIM_PID = [0]


@contextlib.contextmanager
def simulator() -> Iterator[str]:
    """``xprotect-events serve --port 0`` in a child process; its URL (its pid: SIM_PID)."""
    # -P: the current directory does not come first on sys.path (it would shadow the
    # checkout BENCH_SIM_PYTHONPATH names when the benchmark runs from another one).
    command = [sys.executable, "-P", "-c", "from xprotect_events.cli import main; main()"]
    env = dict(os.environ)
    if os.environ.get("BENCH_SIM_PYTHONPATH"):  # the simulator of another checkout
        env["PYTHONPATH"] = os.environ["BENCH_SIM_PYTHONPATH"]
    proc = subprocess.Popen(  # noqa: S603 (our own interpreter and command)
        [*command, "serve", "--port", "0", "--no-access-log"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        SIM_PID[0] = proc.pid
        first = proc.stdout.readline()  # "xprotect-events simulator listening on URL"
        assert "listening on" in first, first
        yield first.split()[-1]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def memory_in_child(url: str, n: int, how: str) -> dict[str, float]:
    out = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, __file__, "--memory-child", str(n), "--url", url, "--how", how],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def compare(url: str, n: int, rounds: int) -> dict[str, float]:
    triggers = [trigger(i) for i in range(n)]
    bodies = [body(i) for i in range(n)]
    lib: list[tuple[float, float, float]] = []
    raw: list[tuple[float, float]] = []
    same_input: list[tuple[float, float]] = []
    frozen: list[tuple[float, float, float]] = []
    for _ in range(rounds):  # interleaved, so that drift hits both alike
        lib.append(await run_library(url, triggers))
        raw.append(await run_raw(url, bodies))
        same_input.append(await run_raw(url, triggers))
        gc.freeze()  # what the cyclic GC costs for walking the input triggers again and again
        frozen.append(await run_library(url, triggers))
        gc.unfreeze()
    lib_cpu = statistics.median(c for c, _, _ in lib)
    raw_cpu = statistics.median(c for c, _ in raw)
    sim_cpu = statistics.median(s for _, _, s in lib)
    return {
        "events": n,
        "library_cpu_us_per_event": 1e6 * lib_cpu / n,
        "raw_cpu_us_per_event": 1e6 * raw_cpu / n,
        "ratio": lib_cpu / raw_cpu,
        "ratios_per_round": [round(a[0] / b[0], 2) for a, b in zip(lib, raw, strict=True)],
        # the raw loop given the library's input (EventTrigger objects), converting them
        "raw_same_input_cpu_us_per_event": 1e6 * statistics.median(c for c, _ in same_input) / n,
        "ratio_same_input": lib_cpu / statistics.median(c for c, _ in same_input),
        "ratios_same_input_per_round": [
            round(a[0] / b[0], 2) for a, b in zip(lib, same_input, strict=True)
        ],
        "simulator_cpu_us_per_event": 1e6 * sim_cpu / n,
        "simulator_over_library": sim_cpu / lib_cpu,
        "library_inputs_frozen_cpu_us_per_event": 1e6
        * statistics.median(c for c, _, _ in frozen)
        / n,
        "library_events_per_s": n / statistics.median(w for _, w, _ in lib),
        "raw_events_per_s": n / statistics.median(w for _, w in raw),
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--sequential", type=int, default=10_000)
    parser.add_argument("--memory-events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--how", default="stream", help=argparse.SUPPRESS)
    parser.add_argument(
        "--memory-only", action="store_true", help="only the memory runs (1M: about 4 min)"
    )
    args = parser.parse_args()
    if args.memory_child:
        print(json.dumps(asyncio.run(run_memory(args.url, args.memory_child, args.how))))
        return
    print(f"python {platform.python_version()}, {platform.machine()}")
    with simulator() as url:
        if not args.memory_only:
            figures = asyncio.run(compare(url, args.events, args.rounds))
            print(json.dumps(figures, indent=2), flush=True)
            rate = asyncio.run(run_sequential(url, [body(i) for i in range(args.sequential)]))
            print(json.dumps({"sequential_events": args.sequential, "events_per_s": rate}))
        for how in ("stream", "report-list", "report-generator"):
            for n in sorted({args.memory_events // 10, args.memory_events}):
                print(json.dumps(memory_in_child(url, n, how)), flush=True)


if __name__ == "__main__":
    main()
