"""Proxy credentials the Basic scheme's Latin-1 cannot carry, or a user name with a colon
(fresh-eyes audit of the transport): a clear library error or a working login, never a
raw ``UnicodeEncodeError`` whose repr holds ``user:password`` (it came out of the client's
constructor) nor a raw ``ValueError``."""

from __future__ import annotations

import base64
import traceback

import pytest
from yarl import URL

from tests.proxy import ForwardProxy
from xprotect_events import InvalidInputError, XProtectClient
from xprotect_events.testing.simulator import Simulator

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
PASSWORD = "p\u0142a+ss-\u20ac-S3CRET"  # ł and € are not Latin-1


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def shown(exc: BaseException) -> str:
    return repr(exc) + "".join(traceback.format_exception(exc))


@pytest.mark.parametrize("user", ["pxuser", "u\u0142ytkownik"])
async def test_credentials_beyond_latin_1_log_in_as_utf_8(sim: Simulator, user: str) -> None:
    # RFC 7617: UTF-8 is the Basic scheme's one charset beside the old default
    async with ForwardProxy() as proxy:
        with_auth = URL(proxy.url).with_user(user).with_password(PASSWORD)
        async with XProtectClient(
            sim.url, username="admin", password="admin", proxy=str(with_auth)
        ) as client:
            await client.login()
            seen = f"{client!r} {client.transport.proxy} {client.tokens!r}"
    pair = base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
    assert proxy.proxy_auth == [f"Basic {pair}"]
    assert PASSWORD not in seen
    assert pair not in seen


def test_latin_1_credentials_are_still_sent_as_latin_1() -> None:
    client = XProtectClient(
        "http://127.0.0.1:1", username="u", password="p", proxy="http://u:p\u00e9ss@127.0.0.1:2"
    )
    pair = base64.b64encode("u:p\u00e9ss".encode("latin-1")).decode()
    assert pair in client.transport.secrets


def test_a_user_name_with_a_colon_is_refused_unseen() -> None:
    with pytest.raises(InvalidInputError) as caught:
        XProtectClient(
            "http://127.0.0.1:1",
            username="u",
            password="p",
            proxy="http://us%3Aer:hush-S3CRET@127.0.0.1:2",
        )
    assert "S3CRET" not in shown(caught.value)
