"""Test databases: SQLite always, PostgreSQL too when ``OMS_TEST_POSTGRES_URL`` is set (required in CI)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("OMS_TEST_POSTGRES_URL", "")


def db_params() -> list[str]:
    params = ["sqlite"]
    if POSTGRES_URL:
        params.append("postgresql")
    elif IN_CI:
        # CI must run the PostgreSQL tier; a missing URL is a failure, not a silent skip.
        params.append("postgresql")
    return params


@asynccontextmanager
async def fresh_postgres_databases(count: int = 1) -> AsyncIterator[list[str]]:
    """``count`` new empty PostgreSQL databases on the server of ``OMS_TEST_POSTGRES_URL``, dropped after."""
    if not POSTGRES_URL:
        pytest.fail("CI=true but OMS_TEST_POSTGRES_URL is not set: the PostgreSQL tier cannot run")
    import asyncpg

    base = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    head, _, _ = POSTGRES_URL.rpartition("/")
    names = [f"oms_t_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    admin = await asyncpg.connect(base)
    try:
        for name in names:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield [f"{head}/{name}" for name in names]
    finally:
        admin = await asyncpg.connect(base)
        try:
            for name in names:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


# Tests that only PostgreSQL can prove (races, locks, outages): skipped on a developer's machine without it,
# never in CI, where a missing database fails them instead.
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL and not IN_CI, reason="needs OMS_TEST_POSTGRES_URL (PostgreSQL: SQLite serialises writers)"
)
