"""How much a hostile server's big bodies grow the client (issue 12), default options.

Each case runs in a fresh interpreter (so ``ru_maxrss`` is that case's alone) against
``tests.hostile.Hostile`` on loopback: a 200 MB page, a 200 MB HTML error page, an endless
chunked body the server cuts after 200 MB, a gzip body that inflates to 256 MB, a 200 MB
token answer. Printed: the growth of the process's peak RSS and the bytes the server
managed to send before the client stopped. The server streams lazily (64 KiB at a time),
so the growth is the client's.

    PYTHONPATH=$PWD python benchmarks/bench_hostile.py            # every case
    PYTHONPATH=$PWD python benchmarks/bench_hostile.py page       # one case
"""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
import time

from tests.hostile import MB, PASSWORD, USERNAME, Hostile
from xprotect_events import RetryPolicy, XProtectClient

CASES = ["page", "html-error", "endless", "gzip-bomb", "token"]


async def one(case: str) -> str:
    async with Hostile() as hostile:
        route = "token" if case == "token" else "list"
        handler = {
            "page": lambda: hostile.big(200 * MB),
            "html-error": lambda: hostile.big(200 * MB, status=502, content_type="text/html"),
            "endless": lambda: hostile.endless(stop_after=200 * MB),
            "gzip-bomb": lambda: hostile.gzip_bomb(256 * MB),
            "token": lambda: hostile.big(200 * MB, head=b'{"expires_in": 1, "x": "'),
        }[case]()
        hostile.on(route, handler)
        client = XProtectClient(
            hostile.url, username=USERNAME, password=PASSWORD, retry=RetryPolicy(attempts=1)
        )
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        async with client:
            try:
                if case == "token":
                    await client.login()
                else:
                    _ = [e async for e in client.list_events()]
                outcome = "no error"
            except Exception as exc:
                outcome = f"{type(exc).__name__}: {str(exc)[:60]}"
        elapsed = time.perf_counter() - started
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        sent = hostile.sent[route] / MB
    return (
        f"{case:<11} peak RSS +{grown:7.0f} MB  server sent {sent:6.1f} MB  "
        f"{elapsed:5.1f} s  {outcome}"
    )


def main() -> None:
    if len(sys.argv) > 1:
        if sys.argv[1] not in CASES:
            sys.exit(f"usage: bench_hostile.py [{' | '.join(CASES)}]")
        print(asyncio.run(one(sys.argv[1])))
        return
    for case in CASES:
        subprocess.run([sys.executable, __file__, case], check=True)  # noqa: S603


if __name__ == "__main__":
    main()
