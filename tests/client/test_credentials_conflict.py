"""A username, a password or ``windows=True`` given with ``client_id``/``client_secret`` is refused,
naming the arguments and never their values, before anything is sent (it was dropped
silently: the client signed in as the service)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.hostile import CLIENT_ID, CLIENT_SECRET, PASSWORD, Hostile
from xprotect_events import ConfigurationError, InvalidInputError, XProtectClient

SERVICE = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"password": PASSWORD}, "password"),
        ({"password": ""}, "password"),
        ({"windows": True}, "windows"),
        ({"password": PASSWORD, "windows": True}, "password and windows"),
        ({"username": "admin"}, "username"),
        ({"username": "", "password": PASSWORD}, "username and password"),
        (
            {"username": "admin", "password": PASSWORD, "windows": True},
            "username and password and windows",
        ),
    ],
)
async def test_user_settings_with_a_service_client_are_refused(
    extra: dict[str, Any], named: str
) -> None:
    async with Hostile() as hostile:
        with pytest.raises(InvalidInputError, match=f"^{named} cannot be given with") as caught:
            XProtectClient(hostile.url, **SERVICE, **extra)
        assert hostile.seen == []  # nothing sent
    text = str(caught.value) + repr(caught.value)
    assert PASSWORD not in text
    assert CLIENT_SECRET not in text


async def test_windows_false_is_no_conflict() -> None:
    async with XProtectClient("http://127.0.0.1:1", **SERVICE, windows=False):
        pass


@pytest.mark.parametrize("given", [{"client_id": CLIENT_ID}, {"client_secret": CLIENT_SECRET}])
async def test_half_a_service_client_is_a_configuration_error(given: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match=r"needs client_id and client_secret$") as caught:
        XProtectClient("http://127.0.0.1:1", **given)
    assert CLIENT_SECRET not in str(caught.value) + repr(caught.value)
