"""The ``demo`` command: an embedded simulator, a live event session and a batch, watched."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import click
from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .. import (
    Event,
    EventSession,
    EventTrigger,
    LiveStream,
    SessionChange,
    TriggerResult,
    XProtectClient,
    contains,
)
from ..testing.demo import DemoPlan
from ..testing.seed import ADMIN_USER
from ..testing.simulator import Simulator
from .names import Names
from .output import Output, progress_bar
from .params import Seconds, batch_options
from .runner import EXIT_NOT_ACCEPTED, EXIT_OK, run
from .tables import EventTable, fmt_time, shown


async def load_plan(client: XProtectClient) -> DemoPlan:
    """The demo's plan on the types this login may trigger, on every camera."""
    names = await Names.load(client)
    allowed = [t for t in names.types.values() if await client.can_trigger(t)]
    return DemoPlan.of(allowed, names.cameras.values())


class DemoView:
    """The demo's live view: progress, counts per type, the latest events."""

    LATEST = 5
    PLAIN_EVERY = 1000

    def __init__(self, console: Console, names: Names, total: int) -> None:
        self.console = console
        self.names = names
        self.total = total
        self.plain = not console.is_terminal
        self.results: Counter[str] = Counter()
        self.per_type: Counter[str] = Counter()
        self.latest: deque[Event] = deque(maxlen=self.LATEST)
        self.received = 0
        #: Events pushed over the WebSocket (``client.subscribe``), beside the session.
        self.pushed = 0
        self.last_pushed: float | None = None
        self.first_sent: float | None = None
        self.last_received: float | None = None
        self.progress = progress_bar(console)
        self.sent_task = self.progress.add_task("triggered", total=total)
        self.recv_task = self.progress.add_task("received ", total=total)
        self.push_task = self.progress.add_task("pushed   ", total=total)

    def on_result(self, result: TriggerResult) -> None:
        self.results[result.status] += 1
        self.progress.advance(self.sent_task)
        done = sum(self.results.values())
        if self.plain and (done % self.PLAIN_EVERY == 0 or done == self.total):
            self.console.print(f"triggered {done}/{self.total}")

    def on_change(self, change: SessionChange) -> None:
        if change.kind != "new":
            return
        self.received += 1
        self.last_received = time.perf_counter()
        self.per_type[self.names.type_name(change.event.type)] += 1
        self.latest.append(change.event)
        self.progress.advance(self.recv_task)
        step = self.received % self.PLAIN_EVERY == 0 or self.received == self.total
        if self.plain and step:
            self.console.print(f"received {self.received}")

    def on_push(self, item: object) -> None:
        if not isinstance(item, Event):
            return
        self.pushed += 1
        self.last_pushed = time.perf_counter()
        self.progress.advance(self.push_task)

    def __rich__(self) -> RenderableType:
        counts = Table(title="received per type", box=box.SIMPLE_HEAD, title_justify="left")
        counts.add_column("Type")
        counts.add_column("Events", justify="right")
        for name, n in sorted(self.per_type.items()):
            counts.add_row(_cell(name), str(n))
        recent = Table(title="latest", box=box.SIMPLE_HEAD, title_justify="left")
        for column in ("Time", "Type", "Source", "Tag"):
            recent.add_column(column, no_wrap=True)
        for event in reversed(self.latest):
            recent.add_row(
                fmt_time(event.time),
                _cell(self.names.type_name(event.type)),
                _cell(self.names.source_name(event.source)),
                _cell(event.tag or ""),
            )
        return Group(self.progress.get_renderable(), counts, recent)


def _cell(text: str) -> Text:
    """A table cell of names or tags: controls escaped, never read as markup."""
    return Text(shown(text))


async def run_watched(coro: Awaitable[None], view: DemoView, console: Console) -> None:
    """Await ``coro`` under a live view, refreshed from the event loop (no render thread)."""
    if view.plain:
        await coro
        return
    with Live(view, console=console, auto_refresh=False) as live:
        refresher = asyncio.create_task(_refresh(live))
        try:
            await coro
        finally:
            refresher.cancel()
            live.refresh()


async def _refresh(live: Live) -> None:
    while True:
        live.refresh()
        await asyncio.sleep(0.125)


@attrs.frozen(kw_only=True)
class DemoOptions:
    """The options of ``demo``."""

    events: int
    chunk_size: int
    concurrency: int
    rate: float


@click.command(short_help="See it work with no server: simulator, stream, batch.")
@click.option(
    "--events", type=click.IntRange(1, 100_000), default=3000, show_default=True, help="How many."
)
@batch_options
@click.option(
    "--rate",
    type=Seconds(min=0),
    help="Events per second (0: full speed). Default: 1000 on a terminal, else full speed.",
)
def demo(**options: Any) -> int:
    """See it work, no server needed: an embedded simulator, a live stream, a batch.

    Starts the simulator in this process, logs in as admin, opens an event session,
    triggers the events in concurrent batches while they arrive through the session, lists
    a filtered slice and prints a summary. Leaves nothing running.
    """
    out = Output()
    if options["rate"] is None:
        options["rate"] = 1000.0 if out.out.is_terminal else 0.0
    return run(_demo(DemoOptions(**options), out))


@attrs.define
class DemoRun:
    client: XProtectClient
    view: DemoView
    plan: DemoPlan
    options: DemoOptions
    started: datetime = attrs.Factory(lambda: datetime.now(UTC))
    arrived: asyncio.Event = attrs.Factory(asyncio.Event)

    @property
    def events(self) -> int:
        return self.options.events

    def check_arrived(self) -> None:
        view, accepted = self.view, self.view.results["accepted"]
        if (
            sum(view.results.values()) == self.events
            and min(view.received, view.pushed) >= accepted
        ):
            self.arrived.set()


async def _demo(options: DemoOptions, out: Output) -> int:
    clock = time.perf_counter()
    async with (
        Simulator() as sim,
        XProtectClient(sim.url, username=ADMIN_USER, password="admin") as client,
    ):
        out.out.print(f"simulator running at {sim.url}; logging in as admin")
        await client.login()
        plan = await load_plan(client)
        names = Names(types={t.id: t for t in plan.types}, cameras={c.id: c for c in plan.cameras})
        view = DemoView(out.out, names, options.events)
        demo_run = DemoRun(client, view, plan, options)
        await run_watched(_stream_and_trigger(demo_run), view, out.out)
        await _show_slice(client, view.names, demo_run.started, out)
        _demo_summary(out, demo_run, time.perf_counter() - clock)
    received = min(view.received, view.pushed)
    ok = view.results["accepted"] == options.events and received == options.events
    return EXIT_OK if ok else EXIT_NOT_ACCEPTED


async def _stream_and_trigger(demo_run: DemoRun) -> None:
    session = demo_run.client.event_session(
        types=[t.id for t in demo_run.plan.types],
        since=demo_run.started - timedelta(seconds=1),
        max_size=1000,
        poll_interval=0.1,
    )
    live = demo_run.client.subscribe(types=[t.id for t in demo_run.plan.types])
    async with session, live:  # the polled path and the pushed one, side by side
        consumers = [
            asyncio.create_task(_consume(session, demo_run)),
            asyncio.create_task(_consume_live(live, demo_run)),
        ]
        try:
            await _inject(demo_run)
            await asyncio.wait_for(demo_run.arrived.wait(), timeout=30)
        except TimeoutError:
            click.echo("warning: not every event arrived within 30 s", err=True)
        finally:
            for consumer in consumers:
                consumer.cancel()
            await asyncio.gather(*consumers, return_exceptions=True)


async def _consume(session: EventSession, demo_run: DemoRun) -> None:
    async for change in session:
        demo_run.view.on_change(change)
        demo_run.check_arrived()


async def _consume_live(live: LiveStream, demo_run: DemoRun) -> None:
    async for item in live:
        demo_run.view.on_push(item)
        demo_run.check_arrived()


async def _inject(demo_run: DemoRun) -> None:
    options = demo_run.options
    demo_run.view.first_sent = time.perf_counter()
    triggers = paced(demo_run.plan.triggers(options.events, tag="demo"), options.rate)
    results = demo_run.client.stream_trigger(
        triggers, chunk_size=options.chunk_size, concurrency=options.concurrency
    )
    async for result in results:
        demo_run.view.on_result(result)
    demo_run.check_arrived()


async def paced(triggers: Iterable[EventTrigger], rate: float) -> AsyncIterator[EventTrigger]:
    """The triggers at about ``rate`` per second (0: as fast as they are taken)."""
    start = time.perf_counter()
    for i, trigger in enumerate(triggers):
        if rate and i % 50 == 0:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        yield trigger


async def _show_slice(client: XProtectClient, names: Names, since: datetime, out: Output) -> None:
    matching = client.list_events(
        source_name=contains("Entrance"), since=since, order="desc", page_size=1000
    )
    table = EventTable(out.out, names)
    count = 0
    async for event in matching:
        count += 1
        if count <= 5:
            table.add(event)
    out.out.print(f"\nevents from a source whose name contains 'Entrance': {count}; latest 5:")
    table.flush()


def _demo_summary(out: Output, run: DemoRun, elapsed: float) -> None:
    view = run.view
    accepted = view.results["accepted"]
    first, last = view.first_sent, view.last_received
    end_to_end = (last - first) if first and last else 0.0
    rate = view.received / end_to_end if end_to_end > 0 else 0.0
    table = Table(title="summary", box=box.SIMPLE_HEAD, title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("triggered", str(run.events))
    table.add_row("accepted / rejected / unknown", _counts(view.results))
    table.add_row("received through the session (polled)", str(view.received))
    table.add_row("pushed over the WebSocket (subscribe)", str(view.pushed))
    paced_at = f", paced at {run.options.rate:.0f}/s" if run.options.rate else ""
    table.add_row(
        "first trigger to last arrival", f"{end_to_end:.2f} s ({rate:.0f} events/s{paced_at})"
    )
    if first and view.last_pushed:
        table.add_row("first trigger to last push", f"{view.last_pushed - first:.2f} s")
    table.add_row("whole demo", f"{elapsed:.2f} s")
    out.out.print(table)
    click.echo(
        f"demo finished: {accepted} of {run.events} events accepted, "
        f"{view.received} received, {view.pushed} pushed over the WebSocket, in {elapsed:.1f} s"
    )


def _counts(results: Counter[str]) -> str:
    return " / ".join(str(results[s]) for s in ("accepted", "rejected", "unknown"))
