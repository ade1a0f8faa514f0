"""pytest fixtures for the fake platforms (registered in ``tests/conftest.py`` via ``pytest_plugins``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.server import FakePlatforms


@pytest.fixture
async def fake_platforms() -> AsyncIterator[FakePlatforms]:
    """Every fake platform, started on a free loopback port; their windows follow ``time.time``."""
    fakes = FakePlatforms()
    await fakes.start()
    try:
        yield fakes
    finally:
        await fakes.close()
