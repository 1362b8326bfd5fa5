"""A small forward proxy on loopback for tests: absolute-URI HTTP requests (forwarded with
aiohttp, keep-alive kept) and ``CONNECT`` tunnels (for https). It records every request.

    async with ForwardProxy() as proxy:
        ... XProtectClient(url, proxy=proxy.url) ...
        assert proxy.requests == [("POST", "http://127.0.0.1:…/API/IDP/connect/token"), …]
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Self

import aiohttp
import attrs

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}


@attrs.define
class ForwardProxy:
    """The proxy: ``url`` once started; ``requests`` (method, target) in arrival order;
    ``proxy_auth`` the ``Proxy-Authorization`` headers it saw."""

    requests: list[tuple[str, str]] = attrs.Factory(list)
    proxy_auth: list[str] = attrs.Factory(list)
    _server: asyncio.Server | None = None
    _client: aiohttp.ClientSession | None = None
    _tasks: set[asyncio.Task[None]] = attrs.Factory(set)

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aenter__(self) -> Self:
        # No proxy for the proxy itself, whatever the environment says; no pooling, so
        # each forwarded request is its own exchange.
        self._client = aiohttp.ClientSession(
            trust_env=False, auto_decompress=False, connector=aiohttp.TCPConnector(force_close=True)
        )
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        assert self._client is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        await self._client.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """One request from the client; False when the connection is done."""
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _version = request_line.split(" ", 2)
        headers = [line.split(":", 1) for line in header_lines if ":" in line]
        fields = [(name.strip(), value.strip()) for name, value in headers]
        self.requests.append((method, target))
        self.proxy_auth += [v for n, v in fields if n.lower() == "proxy-authorization"]
        if method == "CONNECT":
            await self._tunnel(target, reader, writer)
            return False
        length = int(next((v for n, v in fields if n.lower() == "content-length"), "0"))
        body = await reader.readexactly(length) if length else None
        await self._forward(method, target, fields, body, writer)
        return True

    async def _forward(
        self,
        method: str,
        target: str,
        fields: list[tuple[str, str]],
        body: bytes | None,
        writer: asyncio.StreamWriter,
    ) -> None:
        assert self._client is not None
        sent = {n: v for n, v in fields if n.lower() not in _HOP_BY_HOP | {"host"}}
        async with self._client.request(
            method, target, headers=sent, data=body, allow_redirects=False
        ) as resp:
            answer = await resp.read()
            lines = [f"HTTP/1.1 {resp.status} {resp.reason or ''}"]
            lines += [f"{n}: {v}" for n, v in resp.headers.items() if n.lower() not in _HOP_BY_HOP]
            lines.append(f"Content-Length: {len(answer)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + answer)
        await writer.drain()

    async def _tunnel(
        self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, _, port = target.rpartition(":")
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while chunk := await src.read(65536):
                    dst.write(chunk)
                    await dst.drain()
            except ConnectionError:
                pass
            finally:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    dst.write_eof()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            up_writer.close()
