"""pytest plugin: fixtures that give a running simulator and connected clients.

Installed with the package (entry point ``pytest11``: ``xprotect_events``), so any test
suite can use, without imports or conftest:

``xprotect_simulator``
    A running :class:`~xprotect_events.testing.Simulator` on a free local port (plain
    HTTP), fresh for each test: seeded users, cameras and event types, no events.
``xprotect_client``
    An open :class:`~xprotect_events.XProtectClient` logged in as the seeded ``admin`` user
    (a user token: sees every camera, may trigger user-defined and analytics events).
``xprotect_service_client``
    The same as the seeded service client ``service`` (a service token: sees and triggers
    everything).

The fixtures are async and need pytest-asyncio (``asyncio_mode = "auto"``, or
``@pytest.mark.asyncio`` tests in strict mode). pytest-asyncio is not a dependency of this
library: without it the fixtures are still there, and a test that asks for one fails with
a message that says what to install. Importing this module never fails.

The simulator is imported only when a fixture runs, so the plugin costs nothing in test
suites that do not use it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..client import XProtectClient
    from .simulator import Simulator

try:
    import pytest_asyncio
except ImportError:  # a runtime install without the dev tools
    pytest_asyncio = None  # type: ignore[assignment]

__all__ = ["xprotect_client", "xprotect_service_client", "xprotect_simulator"]

#: Why the fixtures cannot run without pytest-asyncio.
NEEDS_PYTEST_ASYNCIO = (
    "the xprotect_events fixtures are async and need pytest-asyncio: "
    "pip install pytest-asyncio (and set asyncio_mode = 'auto' or mark tests asyncio)"
)


async def _simulator() -> AsyncIterator[Simulator]:
    """A running simulator on a free local port (plain HTTP), fresh for each test."""
    from .simulator import Simulator

    async with Simulator() as sim:
        yield sim


async def _admin_client(xprotect_simulator: Simulator) -> AsyncIterator[XProtectClient]:
    """An open XProtectClient logged in as the seeded ``admin`` user (a user token)."""
    from ..client import XProtectClient
    from . import seed

    async with XProtectClient(
        xprotect_simulator.url, username=seed.ADMIN_USER, password="admin"
    ) as client:
        await client.login()
        yield client


async def _service_client(xprotect_simulator: Simulator) -> AsyncIterator[XProtectClient]:
    """An open XProtectClient logged in as the seeded service client (a service token)."""
    from ..client import XProtectClient
    from . import seed

    async with XProtectClient(
        xprotect_simulator.url,
        client_id=seed.SERVICE_CLIENT_ID,
        client_secret=seed.SERVICE_CLIENT_SECRET,
    ) as client:
        await client.login()
        yield client


def _missing(name: str, doc: str | None) -> Callable[..., Any]:
    def fixture() -> None:
        pytest.fail(f"{name}: {NEEDS_PYTEST_ASYNCIO}", pytrace=False)

    fixture.__name__ = name
    fixture.__doc__ = doc
    return fixture


def _register(function: Callable[..., Any], name: str) -> Any:
    """An async fixture with pytest-asyncio, or one that explains what is missing."""
    if pytest_asyncio is not None:
        return pytest_asyncio.fixture(function, name=name)
    return pytest.fixture(_missing(name, function.__doc__), name=name)


xprotect_simulator = _register(_simulator, "xprotect_simulator")
xprotect_client = _register(_admin_client, "xprotect_client")
xprotect_service_client = _register(_service_client, "xprotect_service_client")
