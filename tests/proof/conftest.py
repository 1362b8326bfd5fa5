"""Fixtures of the proofs: the hostile server (tests/hostile.py), started per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.hostile import Hostile


@pytest.fixture
async def hostile() -> AsyncIterator[Hostile]:
    async with Hostile() as server:
        yield server
