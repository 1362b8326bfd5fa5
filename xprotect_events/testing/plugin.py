"""pytest plugin: fixtures that give a running simulator and connected clients.

Installed with the package (entry point ``pytest11``: ``xprotect_events``), so any test
suite can use, without imports or conftest:

``xprotect_simulator``
    A running :class:`~xprotect_events.testing.Simulator` on a free local port (plain
    HTTP), fresh for each test: seeded users, cameras and event types, no events.
``xprotect_client``
    An open :class:`~xprotect_events.XProtectClient` logged in as the seeded ``admin`` user
    (a user token: sees every camera, may trigger user-defined and analytics events).
``xprotect_operator_client``
    The same as the seeded ``operator`` user (a user token that sees cameras 1 and 2 only).
``xprotect_service_client``
    The same as the seeded service client ``service`` (a service token: sees and triggers
    everything).
``xprotect_simulator_options``
    The settings of ``xprotect_simulator``: an empty dict. Override it (in a conftest, a
    module or a class) to configure the simulator; the clients follow (over https they
    trust its throwaway CA)::

        @pytest.fixture
        def xprotect_simulator_options():
            return {
                "https": True,            # TLS with a throwaway CA (needs the https extra)
                "token_lifetime": 60.0,   # seconds; then the API answers 401
                "seed_events": 500,       # events stored before the test starts
                "faults": ["POST /api/rest/v1/events/batch=status:503@0.1"],
                "fault_seed": 7,          # the same seed injects the same faults
            }

    Every other key goes to :class:`~xprotect_events.testing.Simulator` as a keyword
    (``session_idle_timeout``, ``max_batch``, ``users``, ``clock`` …). ``faults`` are
    ``serve --fault`` rules (:mod:`xprotect_events.testing.faultflags`).

The fixtures are async and need pytest-asyncio (``asyncio_mode = "auto"``, or
``@pytest.mark.asyncio`` tests in strict mode). They are function-scoped and run on the
test's own event loop: set ``asyncio_default_fixture_loop_scope = "function"`` in your
pytest settings (pytest-asyncio warns while it is unset). pytest-asyncio is not a dependency of this
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

__all__ = [
    "xprotect_client",
    "xprotect_operator_client",
    "xprotect_service_client",
    "xprotect_simulator",
    "xprotect_simulator_options",
]

#: Why the fixtures cannot run without pytest-asyncio.
NEEDS_PYTEST_ASYNCIO = (
    "the xprotect_events fixtures are async and need pytest-asyncio: "
    "pip install pytest-asyncio (and set asyncio_mode = 'auto' or mark tests asyncio)"
)


@pytest.fixture
def xprotect_simulator_options() -> dict[str, Any]:
    """The settings of ``xprotect_simulator`` (none: the defaults); override to configure
    it: ``https``, ``token_lifetime``, ``seed_events``, ``faults``, ``fault_seed``, or any
    other keyword of :class:`~xprotect_events.testing.Simulator`."""
    return {}


async def _simulator(xprotect_simulator_options: dict[str, Any]) -> AsyncIterator[Simulator]:
    """A running simulator on a free local port, fresh for each test, set up by
    ``xprotect_simulator_options`` (plain HTTP by default)."""
    from .demo import seed_events
    from .faultflags import apply_fault_flags, parse_fault_flag
    from .simulator import Simulator

    options = dict(xprotect_simulator_options)
    count = int(options.pop("seed_events", 0))
    flags = [parse_fault_flag(text) for text in options.pop("faults", ())]
    fault_seed = int(options.pop("fault_seed", 0))
    async with Simulator(**options) as sim:
        if count:
            seed_events(sim, count)
        apply_fault_flags(sim.faults, flags, seed=fault_seed)
        yield sim


async def _logged_in(
    sim: Simulator,
    *,
    username: str | None = None,
    password: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
) -> AsyncIterator[XProtectClient]:
    """An open client of ``sim`` (trusting its CA over https), logged in."""
    from ..client import XProtectClient

    async with XProtectClient(
        sim.url,
        username=username,
        password=password,
        client_id=client_id,
        client_secret=client_secret,
        verify=str(sim.ca_path) if sim.ca_path else True,
    ) as client:
        await client.login()
        yield client


async def _admin_client(xprotect_simulator: Simulator) -> AsyncIterator[XProtectClient]:
    """An open XProtectClient logged in as the seeded ``admin`` user (a user token)."""
    from . import seed

    async for client in _logged_in(xprotect_simulator, username=seed.ADMIN_USER, password="admin"):
        yield client


async def _operator_client(xprotect_simulator: Simulator) -> AsyncIterator[XProtectClient]:
    """An open XProtectClient logged in as the seeded ``operator`` user (a user token that
    sees cameras 1 and 2 only)."""
    from . import seed

    login = _logged_in(xprotect_simulator, username=seed.OPERATOR_USER, password="operator")
    async for client in login:
        yield client


async def _service_client(xprotect_simulator: Simulator) -> AsyncIterator[XProtectClient]:
    """An open XProtectClient logged in as the seeded service client (a service token)."""
    from . import seed

    login = _logged_in(
        xprotect_simulator,
        client_id=seed.SERVICE_CLIENT_ID,
        client_secret=seed.SERVICE_CLIENT_SECRET,
    )
    async for client in login:
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
xprotect_operator_client = _register(_operator_client, "xprotect_operator_client")
xprotect_service_client = _register(_service_client, "xprotect_service_client")
