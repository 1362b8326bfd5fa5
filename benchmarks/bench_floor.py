"""The floor under the simulator's CPU: a bare aiohttp server against the simulator.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_floor.py [--events 50000] [--rounds 3]

Issue 14 asks that the simulator's CPU per batch-triggered event stay under half the
client's. This script measures, in one run, the CPU per event of three processes:

- ``bare``: a bare aiohttp application (no middleware, one route) answering every batch
  POST with one constant answer of 100 events, driven by the raw loop of ``bench_batch``
  (chunks of 100, 8 in flight): what aiohttp's server costs whatever the handler does;
- ``simulator``: ``xprotect-events serve`` driven by the same raw loop;
- ``library``: the client's own CPU in ``trigger_events`` against the simulator.

Each server runs in its own child process; its CPU is read from ``/proc`` (Linux).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Iterator

import bench_batch as bench
import orjson
from aiohttp import web


def bare_app() -> web.Application:
    """One constant answer of ``CHUNK`` events for every batch POST, and a token."""
    item = {
        "id": "467aee5b-0166-4361-93bc-d1ee6ed6bcb4",
        "time": "2026-12-05T16:29:47.2756200Z",
        "type": str(bench.EVENT_TYPE),
        "source": f"cameras/{bench.seed.CAMERA_IDS[0]}",
        "tag": "bench-0",
        "datatype": None,
    }
    answer = orjson.dumps({"array": [item] * bench.CHUNK})

    async def batch(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=answer, content_type="application/json")

    async def token(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"access_token": "x", "token_type": "Bearer", "expires_in": 3600})

    app = web.Application()
    app.router.add_post(bench.BATCH_PATH.split("?")[0], batch)
    app.router.add_post(bench.TOKEN_PATH, token)
    return app


def serve_bare() -> None:
    """The child: serve :func:`bare_app` on a free port, print its URL, run until killed."""

    async def run() -> None:
        runner = web.AppRunner(bare_app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        print(f"listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


@contextlib.contextmanager
def bare_server() -> Iterator[tuple[str, int]]:
    """This script's ``--serve-bare`` child: its URL and pid."""
    proc = subprocess.Popen(  # noqa: S603 (our own interpreter and script)
        [sys.executable, __file__, "--serve-bare"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "listening on" in first, first
        yield first.split()[-1], proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def raw_cpu(url: str, pid: int, n: int) -> float:
    """The server's CPU seconds while the raw loop sends ``n`` triggers to it."""
    before = bench.cpu_seconds(pid)
    await bench.run_raw(url, [bench.body(i) for i in range(n)])
    return bench.cpu_seconds(pid) - before


async def compare(bare: tuple[str, int], sim: str, n: int, rounds: int) -> dict[str, object]:
    triggers = [bench.trigger(i) for i in range(n)]
    await raw_cpu(bare[0], bare[1], 1000)  # warm both
    await raw_cpu(sim, bench.SIM_PID[0], 1000)
    runs: dict[str, list[float]] = {"bare": [], "simulator": [], "library": []}
    for _ in range(rounds):  # interleaved, so that drift hits all alike
        runs["bare"].append(await raw_cpu(bare[0], bare[1], n))
        runs["simulator"].append(await raw_cpu(sim, bench.SIM_PID[0], n))
        runs["library"].append((await bench.run_library(sim, triggers))[0])
    us = {name: 1e6 * statistics.median(cpu) / n for name, cpu in runs.items()}
    return {
        "events": n,
        **{f"{name}_cpu_us_per_event": round(value, 3) for name, value in us.items()},
        "bare_over_library": round(us["bare"] / us["library"], 2),
        "simulator_over_library": round(us["simulator"] / us["library"], 2),
        "simulator_over_bare": round(us["simulator"] / us["bare"], 2),
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare()
        return
    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
    with bare_server() as bare, bench.simulator() as sim:
        figures = asyncio.run(compare(bare, sim, args.events, args.rounds))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
