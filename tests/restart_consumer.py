"""A consumer for the restart proof (tests/proof/test_restarts.py), run as a subprocess.

``python -m tests.restart_consumer URL CHECKPOINT LOG``: reads an event session with
``checkpoint=CHECKPOINT`` and appends to LOG each event id it receives, one per line, and a
line ``saved <id> …`` after each checkpoint save returns, naming the ids the saved
position holds (so the proof can tell which ids the save covered); it runs until killed.
"""

from __future__ import annotations

import asyncio
import sys
from typing import IO

from xprotect_events import FileCheckpoint, Position, XProtectClient


class LoggedCheckpoint:
    """A FileCheckpoint that logs ``saved`` after each save."""

    def __init__(self, path: str, log: IO[str]) -> None:
        self.file = FileCheckpoint(path)
        self.log = log

    def load(self) -> Position | None:
        return self.file.load()

    def save(self, position: Position) -> None:
        self.file.save(position)
        ids = " ".join(str(i) for i in getattr(position, "recent", {}))
        self.log.write(f"saved {ids}\n")
        self.log.flush()


async def main(url: str, checkpoint: str, log_path: str) -> None:
    with open(log_path, "a", encoding="utf-8") as log:
        store = LoggedCheckpoint(checkpoint, log)
        async with XProtectClient(url, username="admin", password="admin") as client:
            session = client.event_session(
                checkpoint=store, checkpoint_interval=0.05, poll_interval=0.02, max_size=25
            )
            async with session:
                log.write("started\n")
                log.flush()
                async for change in session:
                    if change.kind == "new":
                        log.write(f"{change.event.id}\n")
                        log.flush()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
