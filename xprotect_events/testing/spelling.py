"""JSON keys in any case, as ASP.NET Core binds JSON properties (``{"Type": …}`` is
``{"type": …}``)."""

from __future__ import annotations

from typing import Any


def spelled(item: Any, names: tuple[str, ...]) -> Any:
    """A JSON object with its keys spelled as ``names`` spell them: ASP.NET Core binds JSON
    properties without regard to case (``{"FilterBy": …}`` is ``{"filterBy": …}``)."""
    if not isinstance(item, dict):
        return item
    by_lower = {name.lower(): name for name in names}
    out: dict[str, Any] = {}
    for key, value in item.items():
        out.setdefault(by_lower.get(key.lower(), key) if isinstance(key, str) else key, value)
    return out
