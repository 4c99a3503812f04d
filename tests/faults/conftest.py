"""Fixtures of the fault tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.faults.load import SERVICES, service_env
from tests.support.databases import fresh_postgres_databases


@pytest.fixture
async def pg_env() -> AsyncIterator[dict[str, str]]:
    """The services' environment with a fresh database each on the server of ``OMS_TEST_POSTGRES_URL``."""
    async with fresh_postgres_databases(len(SERVICES)) as urls:
        yield service_env(urls)
