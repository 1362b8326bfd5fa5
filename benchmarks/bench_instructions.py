"""Instructions per event of the library's per-event stages, counted by valgrind.

Run: ``.venv/bin/python benchmarks/bench_instructions.py`` (needs ``valgrind``; a few
minutes). ``--tree /other/checkout`` counts that checkout's library instead (an A/B).

CPU time on a shared or virtual machine moves by 20-40 % between runs of the same code;
the count of instructions does not (to a few in ten thousand), so it tells two versions of
a stage apart where the timed benchmarks cannot. Each stage runs in a child under
``valgrind --tool=callgrind`` at two iteration counts; the difference over the extra
events is the stage's count per event (imports and set-up cancel out). Instructions are
not time (a cache miss costs many), so the timed benchmarks stay the measure of the
targets; this one says where the work is and whether a change removed some.

Stages (one page or frame, in the form servers write, decoded as the library does):

- ``session: orjson``: the raw loop's ``orjson.loads`` of a 1,000-event session read;
- ``session: msgspec``: the fast decoder's msgspec pass alone, then ``+ checks`` (UTC times,
  GUID types: :func:`typed.session_read`), ``+ memory`` (``Cursor.unseen`` and
  ``advance`` into an empty memory: no eviction), ``+ changes`` (``make_changes`` a slice
  at a time, each taken), ``+ change.event`` (each change's :class:`Event` built);
- ``live: orjson`` / ``live: event_batch``: a 100-event WebSocket frame, raw and decoded
  into :class:`Event` objects;
- ``batch: encode + check``: a chunk of 100 triggers encoded and its answer checked.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

TYPE = "481d4d6c-9156-4698-af7e-74b32f9e4359"
CAMERA = "cameras/e028f597-c64b-4f27-bb8d-08f5cd768e1c"


def wire_events(count: int) -> list[dict[str, Any]]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        {
            "id": str(uuid.UUID(int=(i + 1) * 0x9E3779B97F4A7C15 % (1 << 128))),
            "time": (start + timedelta(microseconds=137 * i)).strftime("%Y-%m-%dT%H:%M:%S.%f")
            + "0Z",
            "type": TYPE,
            "source": CAMERA,
            "tag": None,
            "datatype": None,
        }
        for i in range(count)
    ]


def stages() -> dict[str, tuple[int, Callable[[], object]]]:
    """Each stage: (events per call, the call)."""
    from xprotect_events import chunks, echo, typed, ws_typed
    from xprotect_events.cursor import Cursor
    from xprotect_events.models import EventTrigger, make_changes

    read = orjson.dumps({"data": {"newEvents": wire_events(1000), "deletedEvents": []}})
    frame = orjson.dumps({"events": wire_events(100)}).decode()
    triggers = [EventTrigger(type=TYPE, source=CAMERA, tag=f"t{i}") for i in range(100)]
    answer = orjson.dumps(
        {"array": [{**e, "tag": f"t{i}"} for i, e in enumerate(wire_events(100))]}
    )

    def session(depth: int) -> Callable[[], object]:
        def run() -> None:
            cursor = Cursor(None)  # a fresh memory: the same ids come again next call
            events = typed.session_read(read).new_events
            if depth >= 1:
                events = cursor.unseen(events)
                cursor.advance(events, unseen=True)
            for start in range(0, len(events) if depth >= 2 else 0, typed.SLICE):
                for change in make_changes("new", events[start : start + typed.SLICE]):
                    if depth >= 3:
                        change.event.id  # noqa: B018 (building the Event is what is counted)

        return run

    bodies = [
        {"type": TYPE, "source": CAMERA, "datatype": None, "tag": f"t{i}"} for i in range(100)
    ]

    def raw_batch() -> int:  # what the raw loop does per chunk
        orjson.dumps(bodies)
        return sum("id" in item for item in orjson.loads(answer)["array"])

    def encode() -> object:
        return chunks.encode_all(list(triggers), 1 << 20)

    def batch() -> object:
        encoded: Any = chunks.encode_all(list(triggers), 1 << 20)
        if not isinstance(encoded, tuple):  # a checkout from before the encoder's echoes
            encoded = (encoded,)
        return echo.echoed(range(100), triggers, answer, *encoded)

    return {
        "session: orjson": (1000, lambda: orjson.loads(read)["data"]["newEvents"]),
        "session: msgspec": (1000, lambda: typed._READ.decode(read)),
        "session: + checks": (1000, session(0)),
        "session: + memory": (1000, session(1)),
        "session: + changes": (1000, session(2)),
        "session: + change.event": (1000, session(3)),
        "live: orjson": (100, lambda: orjson.loads(frame)["events"]),
        "live: event_batch": (100, lambda: ws_typed.event_batch(frame)),
        "batch: orjson": (100, raw_batch),
        "batch: encode": (100, encode),
        "batch: encode + check": (100, batch),
    }


def child(stage: str, calls: int) -> None:
    _, run = stages()[stage]
    for _ in range(calls):
        run()


def instructions(command: list[str], env: dict[str, str] | None = None) -> int:
    """The instructions ``command`` (our interpreter and a script) executes, by callgrind."""
    out = subprocess.run(  # noqa: S603 (valgrind and our own interpreter and script)
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],  # noqa: S607
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", out.stderr)
    assert found, out.stderr[-2000:]
    return int(found.group(1))


def need_valgrind() -> None:
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed: nothing to count with")


def count(tree: Path, stage: str, calls: int) -> int:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
    return instructions([sys.executable, __file__, "--child", stage, "--calls", str(calls)], env)


def main(tree: Path, few: int, many: int, only: str) -> None:
    need_valgrind()
    print(f"library: {tree}; Python {sys.version.split()[0]}; calls {few} and {many}")
    for stage, (events, _) in stages().items():
        if only not in stage:
            continue
        scale = 1000 // events  # every stage counts the same number of events
        extra = count(tree, stage, many * scale) - count(tree, stage, few * scale)
        print(f"{stage:24} {extra / ((many - few) * scale * events):9,.0f} instructions per event")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--few", type=int, default=5)
    parser.add_argument("--many", type=int, default=25)
    parser.add_argument("--only", default="", help="the stages whose name has this text")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.calls)
    else:
        main(args.tree, args.few, args.many, args.only)
