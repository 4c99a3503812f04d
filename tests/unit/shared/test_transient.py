"""Which database errors a consumer waits out (transient) and which it dead-letters after bounded tries."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest
import sqlalchemy as sa

from oms_shared.consumer import ConsumerMetrics, EventConsumer
from oms_shared.transient import CONTENTION, UNAVAILABLE, transient_kind


class _AdaptedError(Exception):
    """What SQLAlchemy's asyncpg adaptor puts in ``DBAPIError.orig``: the SQLSTATE as an attribute."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def wrapped(orig: BaseException, *, invalidated: bool = False) -> sa.exc.DBAPIError:
    return sa.exc.DBAPIError("SELECT 1", {}, orig, connection_invalidated=invalidated)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"), UNAVAILABLE),
        (OSError("Multiple exceptions: [Errno 111] Connect call failed ('::1', 5432, 0, 0)"), UNAVAILABLE),
        (TimeoutError(), UNAVAILABLE),
        (wrapped(_AdaptedError("08006")), UNAVAILABLE),  # connection_failure
        (wrapped(_AdaptedError("57P01")), UNAVAILABLE),  # admin_shutdown: the primary is going away
        (wrapped(_AdaptedError("25006")), UNAVAILABLE),  # read-only: a former primary after a failover
        (wrapped(RuntimeError("connection was closed"), invalidated=True), UNAVAILABLE),
        (
            asyncpg.exceptions.ObjectNotInPrerequisiteStateError('database "x" is not currently accepting connections'),
            UNAVAILABLE,
        ),
        (asyncpg.exceptions.ConnectionDoesNotExistError("closed in the middle of operation"), UNAVAILABLE),
        (sa.exc.TimeoutError("QueuePool limit reached, connection timed out"), UNAVAILABLE),
        (wrapped(_AdaptedError("40001")), CONTENTION),  # serialization_failure
        (wrapped(_AdaptedError("40P01")), CONTENTION),  # deadlock_detected
        (wrapped(_AdaptedError("55P03")), CONTENTION),  # lock_not_available
        (wrapped(sqlite3.OperationalError("database is locked")), CONTENTION),
    ],
)
def test_transient_database_errors_are_recognised(error: BaseException, kind: str) -> None:
    assert transient_kind(error) == kind


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("handler bug"),
        FileNotFoundError(2, "No such file or directory"),
        wrapped(_AdaptedError("23505")),  # unique_violation: the same again next time
        wrapped(_AdaptedError("42P01")),  # undefined_table
        asyncpg.exceptions.ObjectNotInPrerequisiteStateError("cannot refresh materialized view concurrently"),
        wrapped(sqlite3.OperationalError("no such table: orders")),
        ValueError("bad value"),
    ],
)
def test_errors_that_would_fail_again_are_not_transient(error: BaseException) -> None:
    assert transient_kind(error) is None


def test_the_wait_between_tries_doubles_up_to_its_cap() -> None:
    from prometheus_client import CollectorRegistry

    consumer = EventConsumer(
        service="t",
        db=None,  # type: ignore[arg-type]
        metrics=ConsumerMetrics(CollectorRegistry(), "t"),
        transient_backoff_s=0.5,
        transient_backoff_max_s=30.0,
    )
    assert [consumer.transient_delay(n) for n in (1, 2, 3, 6, 7, 100)] == [0.5, 1.0, 2.0, 16.0, 30.0, 30.0]


async def test_a_busy_database_answers_503_with_retry_after_not_500() -> None:
    """A request that meets a locked or unreachable database is told to retry (503, Retry-After), not a 500."""
    import sqlite3

    import httpx
    from fastapi import FastAPI

    from oms_shared.http import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/busy")
    async def busy() -> None:
        raise sqlite3.OperationalError("database is locked")

    @app.get("/bug")
    async def bug() -> None:
        raise ValueError("a bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://oms.test") as client:
        r = await client.get("/busy")
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        assert r.json()["error"]["code"] == "temporarily_unavailable"
        r = await client.get("/bug")
        assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
    # Answered inside the app: nothing is raised on to the server, which would log each 503 as an error.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://oms.test") as client:
        r = await client.get("/busy")
        assert r.status_code == 503 and r.json()["error"]["code"] == "temporarily_unavailable"
