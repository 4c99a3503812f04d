"""Fixtures shared by every tier: a real broker, real databases, dev keys, service settings."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from oms_devstack.tansu import TansuBroker
from oms_shared.auth import generate_keypair
from oms_shared.kafka import ensure_topics
from oms_shared.topics import all_topics_with_dlq
from tests.support.databases import db_params, fresh_postgres_databases


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by folder: tests/unit → unit, tests/integration → integration, ..."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in ("unit", "contract", "integration", "e2e", "faults"):
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))
    # The browser tests run last: Playwright's sync API keeps its event loop running until the session ends,
    # and pytest-asyncio cannot start a test inside a running loop. (A stable sort keeps every other order.)
    items.sort(key=lambda item: "browser" in Path(str(item.fspath)).parts)


@pytest.fixture
def kafka() -> Iterator[str]:
    """A fresh Tansu broker per test (clean topics, starts in milliseconds) → its bootstrap."""
    external = os.environ.get("OMS_TEST_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    broker = TansuBroker(die_with_parent=True)
    broker.start()
    try:
        asyncio.run(ensure_topics(broker.bootstrap, all_topics_with_dlq()))
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Dev EdDSA key pair: (private PEM, public PEM)."""
    return generate_keypair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(params=db_params())
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh empty database: a SQLite file, and (when configured) a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    async with fresh_postgres_databases(1) as urls:
        yield urls[0]


@pytest.fixture
def service_env(kafka: str, keys: tuple[Path, Path], tmp_path: Path) -> dict[str, object]:
    """Settings values every in-process service under test takes (plus its own database_url)."""
    var = tmp_path / "var"
    var.mkdir(exist_ok=True)
    os.environ["OMS_VAR_DIR"] = str(var)
    return {
        "kafka_bootstrap": kafka,
        "jwt_public_key_file": str(keys[1]),
        "consumer_group": f"test-{uuid.uuid4().hex[:8]}",
        "log_json": False,
        "consumer_retry_backoff_s": 0.05,
        "outbox_poll_interval_s": 0.2,
    }
