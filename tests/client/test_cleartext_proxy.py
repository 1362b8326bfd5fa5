"""The clear-text warning (README, TLS: "Plain http:// to anything but loopback warns
once: credentials would travel in clear") counts the proxy (fresh-eyes audit): an http://
server on loopback reached through an http:// proxy on another host sends the password,
the client secret and every token across the network in clear, to that proxy."""

from __future__ import annotations

import warnings

import pytest

from xprotect_events import InsecureTransportWarning, XProtectClient

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_a_loopback_server_through_a_remote_http_proxy_warns() -> None:
    with pytest.warns(InsecureTransportWarning, match="proxy-warn.example"):
        XProtectClient(
            "http://127.0.0.1:1", username="u", password="p", proxy="http://proxy-warn.example:3128"
        )


def test_the_environments_proxy_counts_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy-env-warn.example:3128")
    with pytest.warns(InsecureTransportWarning, match="proxy-env-warn.example"):
        XProtectClient("http://localhost:1", client_id="c", client_secret="s")


def test_no_warning_where_nothing_leaves_in_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for proxy in ("http://127.0.0.1:3128", "https://proxy-tls.example:3128"):
            XProtectClient("http://127.0.0.1:1", username="u", password="p", proxy=proxy)
        # https through an http proxy: a CONNECT tunnel, TLS end to end
        XProtectClient(
            "https://vms.example", username="u", password="p", proxy="http://proxy-c.example:1"
        )
        monkeypatch.setenv("HTTP_PROXY", "http://proxy-bypassed.example:3128")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        XProtectClient("http://127.0.0.1:1", username="u", password="p")


def test_a_remote_http_server_warns_through_any_proxy() -> None:
    # the last hop, from the proxy to the server, is in clear whatever the proxy
    with pytest.warns(InsecureTransportWarning, match="vms-via-proxy.example"):
        XProtectClient(
            "http://vms-via-proxy.example",
            username="u",
            password="p",
            proxy="https://127.0.0.1:3128",
        )
