"""The API reference: every public name says what it does, and pdoc builds the reference
from those docstrings with warnings as errors (CI builds it too, in .ci/run)."""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path

import pytest

import xprotect_events
import xprotect_events.testing
from xprotect_events.testing import plugin

PUBLIC = [
    (module.__name__, name, getattr(module, name))
    for module in (xprotect_events, xprotect_events.testing, plugin)
    for name in module.__all__
    if name != "__version__"
]


def undocumented(obj: object) -> list[str]:
    """``obj`` and its public methods and properties that have no docstring of their own."""
    missing = [] if (getattr(obj, "__doc__", None) or "").strip() else ["(itself)"]
    if inspect.isclass(obj):
        for attr, value in vars(obj).items():
            if isinstance(value, classmethod | staticmethod):
                value = value.__func__
            if attr.startswith("_") or (not callable(value) and not isinstance(value, property)):
                continue
            if not (inspect.getdoc(value) or "").strip():
                missing.append(attr)
    return missing


@pytest.mark.parametrize(("module", "name", "obj"), PUBLIC, ids=[p[1] for p in PUBLIC])
def test_every_public_name_has_a_docstring(module: str, name: str, obj: object) -> None:
    if not (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj)):
        pytest.skip("a constant: documented in its module's docstring")
    assert undocumented(obj) == [], f"{module}.{name}"


def test_the_client_help_explains_its_settings() -> None:
    doc = inspect.getdoc(xprotect_events.XProtectClient) or ""
    for word in ("limit", "clock", "credentials", "timeout", "connect_timeout", "proxy"):
        assert f"``{word}``" in doc


def test_the_reference_builds_without_warnings(tmp_path: Path) -> None:
    pdoc = pytest.importorskip("pdoc")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pdoc.pdoc(
            "xprotect_events",
            "xprotect_events.testing",
            "xprotect_events.testing.plugin",
            output_directory=tmp_path,
        )
    page = (tmp_path / "xprotect_events.html").read_text()
    assert "XProtectClient" in page
    assert "trace_configs" in page
    assert (tmp_path / "xprotect_events" / "testing" / "plugin.html").exists()
