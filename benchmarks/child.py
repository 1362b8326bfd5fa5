"""The simulator in a child process, shared by the benchmarks: the child is the benchmark
script itself run with ``--serve``; it prints its URL, then answers one line per command."""

from __future__ import annotations

import asyncio
import sys


class ChildServer:
    """A benchmark script's ``--serve`` child: its URL, one-line commands, stop."""

    def __init__(self, process: asyncio.subprocess.Process, url: str) -> None:
        self.process = process
        self.url = url

    @classmethod
    async def launch(cls, script: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            script,
            "--serve",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )

    @staticmethod
    async def first_line(process: asyncio.subprocess.Process) -> str:
        assert process.stdout is not None
        return (await process.stdout.readline()).decode().strip()

    async def ask(self, command: str) -> str:
        """Send one command line; the child's one-line answer."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"{command}\n".encode())
        await self.process.stdin.drain()
        return (await self.process.stdout.readline()).decode()

    async def stop(self) -> None:
        self.process.terminate()
        await self.process.wait()
