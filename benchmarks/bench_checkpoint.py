"""Drain rate with a checkpoint against without (issue 16; target: at least 90 %).

Run: ``.venv/bin/python benchmarks/bench_checkpoint.py`` (``--events N``, ``--rounds R``).

The simulator runs in a child process (``bench_sessions.py --serve``), holding a backlog of
``N`` stored events. Each round drains it twice through ``event_session(max_size=1000)``,
once plain and once with ``checkpoint=<fresh file>`` (``FileCheckpoint``: temp file, fsync,
rename, directory fsync; ``checkpoint_interval=1.0``, and a save on exit), in alternating
order; the best round of each is reported, with their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sessions import DRAIN_TYPE, Server, connect


async def drain(server: Server, count: int, checkpoint: Path | None) -> tuple[float, float, int]:
    """Wall seconds and this process's CPU seconds to take ``count`` events, and how many
    saves that made."""
    async with connect(server.url) as client:
        await client.login()
        session = client.event_session(
            types=[DRAIN_TYPE], max_size=1000, poll_interval=0.01, checkpoint=checkpoint
        )
        seen = 0
        started, cpu = time.perf_counter(), time.process_time()
        async with session:
            async for _ in session:
                seen += 1
                if seen == count:
                    break
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    saves = 0 if session._committer is None else session._committer.saves
    return elapsed, cpu, saves


async def main(events: int, rounds: int) -> None:
    server = await Server.start()
    try:
        await server.store(DRAIN_TYPE, events)
        plain: list[float] = []
        kept: list[float] = []
        cpu: dict[bool, list[float]] = {False: [], True: []}
        saves = 0
        with tempfile.TemporaryDirectory() as tmp:
            for n in range(rounds):
                path = Path(tmp) / f"round{n}.pos"
                order = [None, path] if n % 2 == 0 else [path, None]
                for checkpoint in order:
                    seconds, used, made = await drain(server, events, checkpoint)
                    (plain if checkpoint is None else kept).append(seconds)
                    cpu[checkpoint is not None].append(used)
                    saves = max(saves, made)
        best_plain, best_kept = min(plain), min(kept)
        print(f"machine: {platform.machine()} {platform.processor()} {platform.python_version()}")
        print(f"events: {events}, rounds: {rounds}")
        print(f"without checkpoint: {events / best_plain:,.0f} events/s (best of {rounds})")
        print(f"with checkpoint:    {events / best_kept:,.0f} events/s ({saves} saves in a drain)")
        print(f"ratio: {best_plain / best_kept:.1%} (target >= 90 %)")
        us = {k: 1e6 * min(v) / events for k, v in cpu.items()}
        print(f"client CPU per event: {us[False]:.2f} us without, {us[True]:.2f} us with")
    finally:
        await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.rounds))
