"""How long a hostile ``Retry-After`` can stall an event stream (issue 12), default options.

Against ``tests.hostile.Hostile`` on loopback, the first session read is answered with the
status and ``Retry-After`` of each case, later reads well. Printed: the longest wait the
client announced in its log ("resuming in X s", "waiting X s") and the wall time until the
first change or an error reached the consumer. Default ``RetryPolicy`` (``max_retry_after``
120 s); a case whose announced wait exceeds 130 s is stopped there and reported as such.

    PYTHONPATH=$PWD python benchmarks/bench_stall.py
"""

from __future__ import annotations

import asyncio
import logging
import re
import time

from tests.hostile import PASSWORD, USERNAME, Hostile, error_json, event
from xprotect_events import XProtectClient

CASES = {
    "429, Retry-After: 100000": (429, "100000"),
    "503, Retry-After: 2100-01-01": (503, "Fri, 01 Jan 2100 00:00:00 GMT"),
    "404, Retry-After: 100000": (404, "100000"),
    "429, Retry-After: 3": (429, "3"),
}
WAIT = re.compile(r"(?:waiting|resuming in|retrying in)\s+(\d+(?:\.\d+)?)\s*s\b")


class Waits(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seconds += [float(s) for s in WAIT.findall(record.getMessage())]


async def one(name: str, status: int, retry_after: str, waits: Waits) -> str:
    async with Hostile() as hostile:
        body = error_json(status, b"come back later")
        hostile.on("read", hostile.then(hostile.answer(status, body, {"Retry-After": retry_after})))
        hostile.reads = [[event(1)]]
        waits.seconds.clear()
        started = time.perf_counter()
        client = XProtectClient(hostile.url, username=USERNAME, password=PASSWORD)
        async with client, client.event_session(poll_interval=0.01) as session:
            task = asyncio.ensure_future(anext(session))
            while not task.done() and max(waits.seconds, default=0) <= 130:  # noqa: ASYNC110 (polls the log)
                await asyncio.sleep(0.01)
            if not task.done():
                task.cancel()
                outcome = "still waiting (stopped here)"
            elif task.exception() is not None:
                outcome = f"{type(task.exception()).__name__} raised"
            else:
                outcome = "change delivered"
            await asyncio.wait([task])
    elapsed = time.perf_counter() - started
    longest = max(waits.seconds, default=0.0)
    return f"{name:<30} longest announced wait {longest:10.2f} s  {elapsed:6.2f} s wall  {outcome}"


async def main() -> None:
    waits = Waits()
    logger = logging.getLogger("xprotect_events")
    logger.addHandler(waits)
    logger.setLevel(logging.INFO)
    for name, (status, retry_after) in CASES.items():
        print(await one(name, status, retry_after, waits), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
