"""A blocking call in a daemon thread of its own, awaited from the event loop.

The loop's executor (``asyncio.to_thread``) will not do for a user's store: ``asyncio.run()``
waits for its threads at the end, so a call that never returns would hold the program for
ever. A daemon thread is cut off at exit, as a crash would cut it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # nobody awaits it any more: no "never retrieved" warning


def in_thread(call: Callable[..., T], *args: object) -> asyncio.Future[T]:
    """``call(*args)`` in a new daemon thread: a future of its result on the running loop.

    Not the loop's executor, whose threads ``asyncio.run()`` waits for at its end: a
    store's call that never returns would hold the program for ever.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.cancelled():
            return
        if error is None:
            future.set_result(value)
        else:
            future.set_exception(error)

    def run() -> None:
        value, error = None, None
        try:
            value = context.run(call, *args)
        except BaseException as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=run, name="xprotect-events-checkpoint", daemon=True).start()
    return future
