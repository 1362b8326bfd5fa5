"""A high-volume injector: JSON Lines in, ``stream_trigger`` out, a summary at the end.

Each input line is a trigger in wire form::

    {"type": "<event type guid>", "source": "cameras/<guid>", "time": "2024-05-01T12:00:00Z",
     "tag": "…", "datatype": "analytics", "data": {…}}

Run it against the simulator (``xprotect-events serve`` in another terminal)::

    python examples/injector.py detections.jsonl
    my-analytics-engine | python examples/injector.py -          # from stdin
    python examples/injector.py --generate 10000                # made-up detections

Connection from the environment; the defaults match ``xprotect-events serve``:
``XPROTECT_URL`` (http://127.0.0.1:8080), ``XPROTECT_USERNAME`` (admin),
``XPROTECT_PASSWORD`` (admin).

Memory stays flat however long the input: lines are read as the batches need them and
results are reported as chunks finish. Every line ends accepted, rejected (the server or
the client said why) or unknown (sent, no answer); nothing is sent twice. Exit code 1 when
any line was not accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import IO, Any

from xprotect_events import EventTrigger, InvalidInputError, XProtectClient, XProtectError
from xprotect_events.jsonlines import parse_trigger, read_lines


def connect() -> XProtectClient:
    return XProtectClient(
        os.environ.get("XPROTECT_URL", "http://127.0.0.1:8080"),
        username=os.environ.get("XPROTECT_USERNAME", "admin"),
        password=os.environ.get("XPROTECT_PASSWORD", "admin"),
    )


async def read_triggers(stream: IO[bytes], bad: list[str]) -> AsyncIterator[EventTrigger]:
    """Triggers from JSON Lines, read off the event loop a block at a time; a line that is
    not a valid trigger (not JSON, not an object, a naive time …) is noted and skipped."""
    async for number, line in read_lines(stream):
        try:
            yield parse_trigger(line)
        except InvalidInputError as exc:
            bad.append(f"line {number}: {exc}")


async def generated(client: XProtectClient, count: int) -> AsyncIterator[EventTrigger]:
    """Made-up detections on every camera, of the analytics types these credentials may use."""
    types = [t for t in await client.list_event_types() if t.generator_type == "MIPDevice"]
    types = [t for t in types if await client.can_trigger(t)]
    cameras = await client.list_cameras()
    for i, (event_type, camera) in enumerate(_pairs(types, cameras, count)):
        yield EventTrigger(
            type=event_type.id,
            source=camera.source,
            tag=f"injector-{i}",
            datatype="analytics",
            data={"description": f"{event_type.name} #{i}", "vendor": {"name": "injector"}},
        )


def _pairs(types: list[Any], cameras: list[Any], count: int) -> Iterator[tuple[Any, Any]]:
    for i in range(count):
        yield types[i % len(types)], cameras[(i // len(types)) % len(cameras)]


async def inject(
    args: argparse.Namespace, stream: IO[bytes]
) -> tuple[Counter[str], list[str], float]:
    statuses: Counter[str] = Counter()
    bad: list[str] = []
    started = time.perf_counter()
    async with connect() as client:
        made_up = args.generate > 0
        triggers = generated(client, args.generate) if made_up else read_triggers(stream, bad)
        results = client.stream_trigger(
            triggers, chunk_size=args.chunk_size, concurrency=args.concurrency
        )
        async with contextlib.aclosing(results):  # leaving early cancels the chunks in flight
            async for result in results:
                statuses[result.status] += 1
                if result.status != "accepted":
                    print(f"#{result.index} {result.status}: {result.reason}", file=sys.stderr)
                if sum(statuses.values()) % 1000 == 0:
                    print(f"{sum(statuses.values())} done", flush=True)
    return statuses, bad, time.perf_counter() - started


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default="-", help="JSON Lines file, or - for stdin")
    parser.add_argument("--generate", type=int, default=0, help="send N made-up detections")
    parser.add_argument("--chunk-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    try:
        with sys.stdin.buffer if args.file == "-" else open(args.file, "rb") as stream:
            statuses, bad, elapsed = asyncio.run(inject(args, stream))
    except (XProtectError, OSError) as exc:
        print(f"injector failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Chunks in flight may have been stored (their tags find them); later lines were not sent.
        print("injector interrupted: lines in flight may have been stored", file=sys.stderr)
        return 130
    for line in bad:
        print(f"skipped {line}", file=sys.stderr)
    total = sum(statuses.values())
    print(
        f"summary: {total} sent, {statuses['accepted']} accepted, {statuses['rejected']} "
        f"rejected, {statuses['unknown']} unknown, {len(bad)} bad lines; "
        f"{elapsed:.2f} s, {total / elapsed if elapsed else 0:.0f} events/s"
    )
    return 0 if statuses["accepted"] == total and not bad else 1


if __name__ == "__main__":
    sys.exit(main())
