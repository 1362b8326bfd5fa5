"""A trigger with ``data``: what checking and writing it costs, against ``orjson.dumps``.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_data.py [--rounds 5]

In process, hot (``timeit``), ns per trigger, for an analytics payload of nine values: the
trigger made (``EventTrigger(..., data=...)``: the data checked), its body written
(``dumps(trigger_to_wire(t))``: the data checked again, as it is when sent) and, as the
raw loop, ``orjson.dumps`` of the same body as a dict (what a hand-written script sends,
nothing checked). Run it on two trees (``PYTHONPATH``) to compare them.
"""

from __future__ import annotations

import argparse
import platform
import timeit
from collections.abc import Callable

import orjson

from xprotect_events import EventTrigger
from xprotect_events.testing import seed
from xprotect_events.wire import dumps, trigger_to_wire

DATA = {
    "objectId": 5,
    "confidence": 0.93,
    "boundingBox": {"x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4},
    "labels": ["person"],
}
SOURCE = f"cameras/{seed.CAMERA_IDS[0]}"
BODY = {
    "type": str(seed.ANALYTICS_EVENT),
    "source": SOURCE,
    "datatype": None,
    "tag": "x",
    "data": DATA,
}


def made() -> EventTrigger:
    return EventTrigger(type=seed.ANALYTICS_EVENT, source=SOURCE, tag="x", data=DATA)


def ns(run: Callable[[], object], number: int) -> float:
    return timeit.timeit(run, number=number) / number * 1e9


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--number", type=int, default=200_000)
    args = parser.parse_args()
    trigger = made()
    print(f"python {platform.python_version()}, {platform.machine()}")
    for _ in range(args.rounds):
        build = ns(made, args.number)
        write = ns(lambda: dumps(trigger_to_wire(trigger)), args.number)
        raw = ns(lambda: orjson.dumps(BODY), args.number)
        print(
            f"made {build:.0f} ns, written {write:.0f} ns, raw orjson.dumps {raw:.0f} ns; "
            f"(made + written) / raw {(build + write) / raw:.1f}x"
        )


if __name__ == "__main__":
    main()
