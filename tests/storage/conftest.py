"""Fixtures for the storage tests: every async test runs on trio and asyncio, and the
conformance suite runs against every backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import MemoryStore, SQLiteStore, Store


@pytest.fixture(params=["trio", "asyncio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened: Store
    if request.param == "memory":
        opened = MemoryStore()
    else:
        opened = await SQLiteStore.open(tmp_path / "state.db")
    try:
        yield opened
    finally:
        await opened.close()
