"""The pytest plugin: its fixtures used directly, and in other test suites via pytester
(pytest-asyncio in auto and in strict mode, and without pytest-asyncio at all)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from xprotect_events.client import XProtectClient
from xprotect_events.models import EventTrigger
from xprotect_events.testing import seed
from xprotect_events.testing.simulator import Simulator

pytest_plugins = ["pytester"]


async def test_fixtures_give_a_simulator_and_logged_in_clients(
    xprotect_simulator: Simulator,
    xprotect_client: XProtectClient,
    xprotect_service_client: XProtectClient,
) -> None:
    assert xprotect_client.url == xprotect_simulator.url
    assert not xprotect_client.is_service
    assert xprotect_service_client.is_service
    assert xprotect_client.tokens.expires_at is not None  # logged in already
    event = await xprotect_client.trigger_event(EventTrigger(type=seed.USER_DEFINED_EVENT))
    assert (await xprotect_service_client.get_event(event.id)).id == event.id
    assert xprotect_simulator.events_stored == 1


async def test_each_test_gets_a_fresh_simulator(xprotect_simulator: Simulator) -> None:
    assert xprotect_simulator.events_stored == 0


USES_FIXTURES = """
    from xprotect_events.models import EventTrigger
    from xprotect_events.testing import seed

    {marker}
    async def test_round_trip(xprotect_simulator, xprotect_client):
        event = await xprotect_client.trigger_event(EventTrigger(type=seed.USER_DEFINED_EVENT))
        assert xprotect_simulator.events_stored == 1
        assert (await xprotect_client.get_event(event.id)).id == event.id

    {marker}
    async def test_service(xprotect_service_client):
        assert xprotect_service_client.is_service
"""


def _suite(pytester: pytest.Pytester, mode: str, marker: str) -> None:
    pytester.makeini(f"[pytest]\nasyncio_mode = {mode}\n")
    pytester.makepyfile(textwrap.dedent(USES_FIXTURES.format(marker=marker)))


def test_fixtures_in_auto_mode(pytester: pytest.Pytester) -> None:
    _suite(pytester, "auto", "")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_fixtures_in_strict_mode(pytester: pytest.Pytester) -> None:
    _suite(pytester, "strict", "@__import__('pytest').mark.asyncio")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_without_pytest_asyncio_the_fixtures_explain_what_is_missing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a pytest_asyncio that cannot be imported, first on the inner run's path
    shadow = pytester.mkdir("shadow")
    (shadow / "pytest_asyncio.py").write_text("raise ImportError('pytest-asyncio is absent')\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow))
    pytester.makepyfile(
        """
        def test_plain():
            assert True

        def test_needs_simulator(xprotect_simulator):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:asyncio", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*need pytest-asyncio: pip install pytest-asyncio*"])


def test_importing_the_plugin_never_needs_pytest_asyncio(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['pytest_asyncio'] = None\n"
        "import xprotect_events.testing.plugin as p\n"
        "assert p.pytest_asyncio is None\n"
        "print(sorted(n for n in dir(p) if n.startswith('xprotect_')))\n"
    )
    out = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout
    assert "xprotect_client" in out
    assert "xprotect_service_client" in out
    assert "xprotect_simulator" in out


async def test_the_operator_client_sees_cameras_1_and_2_only(
    xprotect_operator_client: XProtectClient,
) -> None:
    assert not xprotect_operator_client.is_service
    cameras = {c.id for c in await xprotect_operator_client.list_cameras()}
    assert cameras == set(seed.CAMERA_IDS[:2])


CONFIGURED = """
    import pytest
    from xprotect_events.errors import UnauthorizedError

    @pytest.fixture
    def xprotect_simulator_options():
        return {
            "https": True,
            "token_lifetime": 30.0,
            "seed_events": 40,
            "faults": ["GET /api/rest/v1/events/{id}=status:418"],
        }

    async def test_configured(xprotect_simulator, xprotect_client, xprotect_operator_client):
        assert xprotect_simulator.url.startswith("https://")
        assert xprotect_client.url.startswith("https://")
        assert xprotect_simulator.events_stored == 40
        token = await xprotect_client.tokens.current()
        assert token.expires_in == 30
        events = [e async for e in xprotect_client.list_events(limit=1)]
        with pytest.raises(Exception) as caught:
            await xprotect_client.get_event(events[0].id)
        assert getattr(caught.value, "status", None) == 418
"""


def test_the_simulator_fixture_is_configured_by_overriding_its_options(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(textwrap.dedent(CONFIGURED))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)
