"""Request metrics through aiohttp's tracing hooks: ``XProtectClient(trace_configs=[...])``.

Every HTTP request the client makes (the login, each page of a list, each batch POST, the
reads of an event session) passes the ``TraceConfig``'s callbacks. This one counts requests
by method, path and status and measures their latency; OpenTelemetry's aiohttp
instrumentation (``opentelemetry-instrumentation-aiohttp-client``: ``create_trace_config()``)
plugs in the same way.

    python examples/metrics.py --events 50 --type "Door Forced Open"

Connection from the environment; the defaults match ``xprotect-events serve``:
``XPROTECT_URL`` (http://127.0.0.1:8080), ``XPROTECT_USERNAME``/``XPROTECT_PASSWORD``
(admin/admin).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import Counter, defaultdict
from types import SimpleNamespace

import aiohttp

from xprotect_events import EventTrigger, XProtectClient


class RequestMetrics:
    """Counts and latencies of every request, by ``METHOD path -> status``."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.latencies: defaultdict[str, list[float]] = defaultdict(list)
        self.trace_config = aiohttp.TraceConfig()
        self.trace_config.on_request_start.append(self._start)
        self.trace_config.on_request_end.append(self._end)
        self.trace_config.on_request_exception.append(self._failed)

    async def _start(
        self, session: aiohttp.ClientSession, ctx: SimpleNamespace, params: object
    ) -> None:
        ctx.started = time.perf_counter()

    async def _end(
        self,
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        self._record(ctx, f"{params.method} {params.url.path} -> {params.response.status}")

    async def _failed(
        self,
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestExceptionParams,
    ) -> None:
        self._record(ctx, f"{params.method} {params.url.path} -> {type(params.exception).__name__}")

    def _record(self, ctx: SimpleNamespace, key: str) -> None:
        self.counts[key] += 1
        self.latencies[key].append(1e3 * (time.perf_counter() - ctx.started))

    def report(self) -> str:
        lines = []
        for key, count in sorted(self.counts.items()):
            worst = max(self.latencies[key])
            lines.append(f"{count:5d}  {key}  (slowest {worst:.1f} ms)")
        lines.append(f"total: {sum(self.counts.values())} request(s)")
        return "\n".join(lines)


async def main(events: int, type_name: str) -> None:
    metrics = RequestMetrics()
    async with XProtectClient(
        os.environ.get("XPROTECT_URL", "http://127.0.0.1:8080"),
        username=os.environ.get("XPROTECT_USERNAME", "admin"),
        password=os.environ.get("XPROTECT_PASSWORD", "admin"),
        trace_configs=[metrics.trace_config],
    ) as client:
        event_type = await client.event_type(type_name)  # one GET /eventTypes
        triggers = [EventTrigger(type=event_type.id, tag=f"m{i}") for i in range(events)]
        report = await client.trigger_events(triggers, chunk_size=10)
        listed = [e async for e in client.list_events(page_size=20)]
    print(f"triggered {report.accepted}, listed {len(listed)}")
    print(metrics.report())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50, help="How many events to trigger.")
    parser.add_argument("--type", default="Door Forced Open", help="Their event type (name or id).")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.type))
