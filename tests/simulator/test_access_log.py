"""The access log under a client that puts control characters in its request line."""

from __future__ import annotations

import aiohttp
import yarl

from xprotect_events.testing import Simulator


async def test_a_request_is_one_line_of_five_fields_without_terminal_control(
    http: aiohttp.ClientSession,
) -> None:
    """A percent-encoded newline, escape sequence or space in the path or query was
    written as itself: a client forged log lines, coloured the terminal of ``serve``."""
    lines: list[str] = []
    async with Simulator(access_log=lines.append) as sim:
        forged = "%0a2026-01-01T00:00:00.000Z%20GET%20/fake%20200%200.1ms"
        url = f"{sim.url}/x%1b%5b31m{forged}?tag=%1b]0;title%07%0d&password=p%0ass"
        async with http.get(yarl.URL(url, encoded=True)) as response:
            assert response.status == 404
    assert len(lines) == 1
    line = lines[0]
    assert line.isprintable(), repr(line)
    assert len(line.split(" ")) == 5, line
    assert line.split(" ")[1:4:2] == ["GET", "404"]
    assert "\\x1b[31m\\n2026-01-01T00:00:00.000Z%20GET%20/fake" in line
    assert "tag=\\x1b]0;title\\x07\\r&password=***" in line
