"""Shared fixtures: a simulator on loopback with a movable clock, and clients against it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from hypothesis import settings

from tests.helpers import FAST_RETRY, service_client_of
from tests.hostile import Hostile
from xprotect_events import XProtectClient
from xprotect_events.testing import SimClock, Simulator


@pytest.fixture
async def hostile() -> AsyncIterator[Hostile]:
    """A hostile loopback server (tests/hostile.py), answering well until told otherwise."""
    async with Hostile() as server:
        yield server


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(clock=SimClock()) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session, for talking to the simulator without the library."""
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[XProtectClient]:
    """A basic user (admin) whose token clock is the simulator's clock."""
    async with XProtectClient(
        sim.url, username="admin", password="admin", retry=FAST_RETRY, clock=sim.clock.time
    ) as c:
        yield c


@pytest.fixture
async def service_client(sim: Simulator) -> AsyncIterator[XProtectClient]:
    async with service_client_of(sim) as c:
        yield c


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak",
        action="store_true",
        default=False,
        help="run the fault proofs at full size (slow; CI runs them reduced)",
    )
    parser.addoption(
        "--secrets-audit",
        action="store_true",
        default=False,
        help="run the whole suite at DEBUG with marker secrets and fail on any leak "
        "(also XPROTECT_SECRETS_AUDIT=1)",
    )


@pytest.fixture
def soak(request: pytest.FixtureRequest) -> bool:
    """True under ``--soak``: proofs use their full sizes (e.g. 20,000 events)."""
    return bool(request.config.getoption("--soak"))


# ---------------------------------------------------------------------------- property tests
#
# The property tests draw the same examples on every run (a suite that passed passes
# again: a CI run cannot fail by the luck of the draw); under --soak they draw new ones
# each run, to look for what the fixed draw misses (and the hostile-input proof runs its
# whole cross product).

settings.register_profile("fixed", derandomize=True, database=None)


def _hypothesis_profile(config: pytest.Config) -> None:
    settings.load_profile("default" if config.getoption("--soak") else "fixed")


# ---------------------------------------------------------------------------- secrets audit
#
# `pytest --secrets-audit` (or XPROTECT_SECRETS_AUDIT=1): the whole suite at DEBUG, with the
# seeded password and client secret replaced by marker strings wherever the library gets
# them, and every log record, exception, report and warning searched for the markers and
# for every token a simulator issued. The plugin lives in test_proof_secrets.py.

SECRETS_AUDIT_ENV = "XPROTECT_SECRETS_AUDIT"


def pytest_configure(config: pytest.Config) -> None:
    import os

    _hypothesis_profile(config)
    asked = config.getoption("--secrets-audit", False) or os.environ.get(SECRETS_AUDIT_ENV) == "1"
    if not asked or config.pluginmanager.has_plugin("secrets-audit"):
        return
    from tests.proof.test_secrets import SecretsAudit

    audit = SecretsAudit()
    audit.start()
    config.pluginmanager.register(audit, "secrets-audit")
    config.add_cleanup(audit.stop)
