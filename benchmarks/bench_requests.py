"""Instructions per batch request and per triggered event: the library against the raw loop.

Run: ``PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_requests.py`` (needs ``valgrind``;
about 17 minutes on 2 cores).

``bench_batch.py`` times ``trigger_events`` against a hand-written aiohttp loop; this script
says where the difference is, for the raw loop over prebuilt dicts and for the same loop
given the library's own input (``EventTrigger`` objects, converted as each chunk is sent).
The client runs under ``valgrind --tool=callgrind`` (the
simulator natively, in its own process), at two request counts; the difference over the
extra requests is the count per request, with the inputs' construction (counted alone)
taken off. At one trigger per request that is what a request costs around its event; at
100 per request the rest is what each event costs. Instructions are not time (the kernel's
part of a request, equal for both, is not counted; a cache miss costs many), so the timed
benchmark stays the measure of the target; the count tells the parts apart. The library's
count repeats within about 1 % between runs; the raw loop's at 100 triggers a request
moves by up to 6 % (how the answers arrive in socket reads varies).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_batch as bb  # this directory's, for the shared pieces
import bench_instructions as bi

MODES = ("inputs", "raw", "same-input", "library")
LOOPS = MODES[1:]


async def child(mode: str, requests: int, chunk: int, url: str) -> None:
    """Build ``requests * chunk`` triggers and their bodies; then send them as ``mode`` says
    ("inputs": not at all)."""
    n = requests * chunk
    triggers = [bb.trigger(i) for i in range(n)]
    bodies = [bb.body(i) for i in range(n)]
    if mode == "raw":
        await bb.run_raw(url, bodies, chunk)
    elif mode == "same-input":  # the raw loop given the library's EventTrigger objects
        await bb.run_raw(url, triggers, chunk)
    elif mode == "library":
        async with bb.client(url) as c:
            await c.login()
            report = await c.trigger_events(triggers, chunk_size=chunk, concurrency=bb.CONCURRENCY)
            assert report.accepted == n


def count(mode: str, requests: int, chunk: int, url: str) -> int:
    return bi.instructions(
        [sys.executable, __file__, "--child", mode, str(requests), str(chunk), url]
    )


def main(few: int, many: int) -> None:
    bi.need_valgrind()
    print(f"Python {sys.version.split()[0]}; requests {few} and {many} (a fifth of that at 100)")
    per: dict[tuple[str, int], float] = {}
    with bb.simulator() as url, ThreadPoolExecutor(2) as pool:
        for chunk in (1, 100):
            lo, hi = (few, many) if chunk == 1 else (max(1, few // 5), max(2, many // 5))
            jobs = {(m, n): pool.submit(count, m, n, chunk, url) for m in MODES for n in (lo, hi)}
            for m in MODES:
                per[m, chunk] = (jobs[m, hi].result() - jobs[m, lo].result()) / (hi - lo)
    for chunk in (1, 100):
        print(
            f"chunk {chunk:3}, per request:",
            figures(per[m, chunk] - per["inputs", chunk] for m in LOOPS),
        )
    one = (per[m, 100] - per[m, 1] - per["inputs", 100] + per["inputs", 1] for m in LOOPS)
    print("each event past a request's first:", figures(n / 99 for n in one))


def figures(counts: Iterable[float]) -> str:
    """``raw 1, same-input 2 (2.00x), library 3 (3.00x)``: each loop's count, over raw's."""
    raw, same, lib = counts
    return (
        f"raw {raw:,.0f}, same-input {same:,.0f} ({same / raw:.2f}x), "
        f"library {lib:,.0f} ({lib / raw:.2f}x)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--few", type=int, default=100)
    parser.add_argument("--many", type=int, default=400)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, requests, chunk, url = args.child
        asyncio.run(child(mode, int(requests), int(chunk), url))
    else:
        main(args.few, args.many)
