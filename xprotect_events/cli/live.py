"""``watch --live``: events pushed over the Events and State WebSocket API, until stopped.

The same filters as ``watch`` where the WebSocket API can express them (``--type``,
``--source``), the same table or JSON Lines; ``--state`` prints the current state of the
matching stateful sources first (kind ``"state"``); ``--checkpoint FILE`` resumes where the
previous run stopped. Options the WebSocket API cannot honour are refused up front.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import attrs
import click
from click.core import ParameterSource

from .. import Event, Gap, XProtectClient
from .names import Names
from .output import Output

#: Shows one event of a kind ("new", "state") in the table or as a JSON line.
Show = Callable[[Output, Names, str, Event], None]

LIVE_HELP = "Push over the Events and State WebSocket API (XProtect 2023 R3+), not polling."
STATE_HELP = "With --live: print the current state of the matching stateful sources first."
STORED_HELP = (
    "With --live: an event type (GUID or name) the server's REST store keeps, or 'all'. "
    "When a session cannot be resumed, the missed events of these types are fetched from "
    "the store; a gap line names the others. Repeatable."
)

#: ``watch`` options that have no meaning on the WebSocket, and why.
NOT_LIVE = {
    "source_names": ("--source-name", "the WebSocket API filters by event type and source only"),
    "since": ("--since", "the WebSocket API pushes new events only (--checkpoint resumes)"),
    "poll_interval": ("--poll-interval", "nothing is polled: the server pushes"),
    "max_size": ("--max-size", "nothing is polled: the server pushes"),
}


def check_live_flags(ctx: click.Context, options: Mapping[str, Any]) -> None:
    """A one-line usage error naming the flag that cannot go with (or without) ``--live``."""
    if not options.get("live"):
        if options.get("state"):
            raise click.UsageError("--state needs --live (getState is a WebSocket command)")
        if options.get("stored_types"):
            raise click.UsageError("--stored-type needs --live (an event session misses nothing)")
        return
    for name, (flag, why) in NOT_LIVE.items():
        if ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT):
            raise click.UsageError(f"{flag} cannot be used with --live: {why}")


@attrs.frozen(kw_only=True)
class LiveWatch:
    """What ``watch --live`` streams and how it shows it."""

    types: Sequence[uuid.UUID]
    sources: Sequence[str]
    include_data: bool
    state: bool
    checkpoint: str | None
    stored_types: Sequence[uuid.UUID] | Literal["all"] | None = None


async def watch_live(
    client: XProtectClient, names: Names, args: LiveWatch, out: Output, show: Show
) -> Counter[str]:
    """Stream until cancelled (Ctrl-C, SIGTERM); the counts shown, by kind."""
    seen: Counter[str] = Counter()
    live = client.subscribe(
        types=list(args.types) or None,
        sources=list(args.sources) or None,  # GUIDs or cameras/<guid>: subscribe takes both
        checkpoint=args.checkpoint,
        stored_types=args.stored_types,
    )
    watching = False
    try:
        async with live:
            watching = True
            if args.state:
                for event in await live.state():
                    show(out, names, "state", _shown(event, args.include_data))
                    seen["state"] += 1
            out.note("watching live events over the WebSocket (Ctrl-C to stop)")
            async for item in live:
                if isinstance(item, Gap):
                    out.note(gap_note(item, names))
                    continue
                show(out, names, "new", _shown(item, args.include_data))
                seen["new"] += 1  # shown: not one its reader never got (| head)
    finally:
        if watching:  # not when the stream could not even be opened
            out.note(f"stopped: {seen['new']} new, {seen['state']} state")
    return seen


def gap_note(gap: Gap, names: Names) -> str:
    """What a gap line says: which types may be missing, when, and what was filled."""
    types = "any type the store does not keep"
    if gap.types is not None:
        types = ", ".join(names.type_name(t) for t in gap.types)
    return (
        f"gap: events of {types} from {gap.start} to {gap.end} may be missing (the session "
        f"could not be resumed; {gap.filled} filled from the store; --stored-type names the "
        "types it keeps)"
    )


def _shown(event: Event, include_data: bool) -> Event:
    """Pushed events carry their data; shown only with --include-data, as in ``watch``."""
    return event if include_data or event.data is None else attrs.evolve(event, data=None)
