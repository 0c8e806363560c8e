"""Suite-wide fixtures: every anyio test runs on trio and on asyncio."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["trio", "asyncio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True, scope="session")
def _quiet_logs() -> None:
    """Engine logs go to stderr at warning level in tests, as for a user."""
    from supervisor.logging import configure_logging

    configure_logging("json", "warning")
