"""What an event session's cleanup needs: finishing a coroutine whatever cancels its caller,
and describing a failure for the log (a library error by its message, anything else by its
repr). Used by :mod:`.sessions`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from .errors import XProtectError


async def finish_even_if_cancelled(cleanup: Coroutine[Any, Any, None]) -> None:
    """Run ``cleanup`` to its end even if the caller is cancelled meanwhile, then re-raise."""
    task = asyncio.ensure_future(cleanup)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])  # bounded: the cleanup has its own timeout
        raise


def describe(exc: BaseException) -> str:
    """``exc`` for a log line: a library error's message, anything else's repr."""
    return str(exc) if isinstance(exc, XProtectError) else repr(exc)
