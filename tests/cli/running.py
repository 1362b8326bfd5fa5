"""Running the ``xprotect-events`` console script in tests: as a subprocess, bounded.

Each CLI test starts a simulator in this process (or ``serve`` as a subprocess) and runs the
installed entry point against it with ``asyncio.create_subprocess_exec``. Nothing sleeps
to win a race: output is read up to a marker line under a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import re
import shutil
import signal
import struct
import sys
import termios
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from xprotect_events.models import EventTrigger
from xprotect_events.testing import seed
from xprotect_events.testing.simulator import Simulator

CAMERA_1, CAMERA_2 = (f"cameras/{c}" for c in seed.CAMERA_IDS[:2])
PERSON = str(seed.ANALYTICS_EVENT)
DOOR = str(seed.USER_DEFINED_EVENT)
MOTION = str(seed.MOTION_STARTED)


def cli_path() -> str:
    """The installed console script beside this interpreter (``pip install -e .``)."""
    beside = Path(sys.executable).parent / "xprotect-events"
    found = str(beside) if beside.exists() else shutil.which("xprotect-events")
    if found is None:
        pytest.fail("the xprotect-events console script is not installed: pip install -e .")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without XPROTECT_* settings or a terminal width, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XPROTECT_")}
    env.pop("COLUMNS", None)
    env.update(extra)
    return env


def admin_env(sim: Simulator, **extra: str) -> dict[str, str]:
    settings = {"XPROTECT_URL": sim.url, "XPROTECT_USERNAME": "admin", "XPROTECT_PASSWORD": "admin"}
    return clean_env(**{**settings, **extra})


@attrs.frozen
class Result:
    rc: int
    out: str
    err: str

    def json_lines(self) -> list[Any]:
        return [orjson.loads(line) for line in self.out.splitlines() if line.strip()]


async def run_cli(
    *args: str, env: dict[str, str], stdin: bytes | None = None, timeout: float = 30.0
) -> Result:
    """Run the console script to its end (bounded); its exit code and output."""
    proc = await asyncio.create_subprocess_exec(
        cli_path(),
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


async def start_cli(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        cli_path(),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )


@contextlib.asynccontextmanager
async def cli_process(*args: str, env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    """:func:`start_cli`, killed on the way out if it is still running."""
    proc = await start_cli(*args, env=env)
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def read_until(
    stream: asyncio.StreamReader | None, marker: str, timeout: float = 15.0
) -> list[str]:
    """Lines up to and including the first that contains ``marker`` (under a deadline)."""
    assert stream is not None
    lines: list[str] = []

    async def read() -> list[str]:
        while True:
            raw = await stream.readline()
            if not raw:
                raise AssertionError(f"the output ended before {marker!r}: {lines}")
            lines.append(raw.decode())
            if marker in lines[-1]:
                return lines

    return await asyncio.wait_for(read(), timeout)


async def finish(proc: asyncio.subprocess.Process, timeout: float = 15.0) -> int:
    """Wait for the process to end; kill it if it does not in time (and fail)."""
    try:
        return await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise


def store(sim: Simulator, *triggers: EventTrigger) -> None:
    assert sim.store_events(triggers) == len(triggers)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


async def run_cli_tty(
    *args: str,
    env: dict[str, str],
    columns: int,
    timeout: float = 30.0,
    stop_after: str | None = None,
) -> Result:
    """Run the console script with stdout on a pseudo-terminal ``columns`` wide (``COLUMNS``),
    as a person at a terminal would; stdout without colours and with ``\\n`` line ends.

    ``stop_after``: send SIGINT (Ctrl-C) once stdout has shown that text (for ``watch``).
    """
    loop = asyncio.get_running_loop()
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = await asyncio.create_subprocess_exec(
        cli_path(),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=follower,
        stderr=asyncio.subprocess.PIPE,
        env={**env, "COLUMNS": str(columns), "TERM": "xterm"},
    )
    os.close(follower)
    chunks: asyncio.Queue[bytes] = asyncio.Queue()

    def read_all() -> None:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the other side is closed
                chunk = b""
            loop.call_soon_threadsafe(chunks.put_nowait, chunk)
            if not chunk:
                return

    async def collect() -> bytes:
        seen, sent = b"", False
        while chunk := await chunks.get():
            seen += chunk
            if not sent and stop_after and stop_after.encode() in seen:
                proc.send_signal(signal.SIGINT)
                sent = True
        return seen

    reader = loop.run_in_executor(None, read_all)
    try:
        out, (_, err) = await asyncio.wait_for(
            asyncio.gather(collect(), proc.communicate()), timeout
        )
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await reader
        os.close(leader)
    assert proc.returncode is not None
    text = _ANSI.sub("", out.decode()).replace("\r\n", "\n")
    return Result(proc.returncode, text, err.decode())
