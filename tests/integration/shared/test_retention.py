"""Retention: tables that would only grow lose their old rows in batches; what is still needed stays."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from oms_erp_bridge.app import create_app
from oms_erp_bridge.db import exchange_log, sessions
from oms_erp_bridge.settings import Settings
from oms_shared.contracts import StockUpdatedV1, make_event
from oms_shared.db import utcnow
from oms_shared.service import ServiceRuntime
from tests.support.services import running_service

DAY = timedelta(days=1)


def stock_event() -> StockUpdatedV1:
    return make_event(
        StockUpdatedV1,
        tenant_id=uuid.uuid4(),
        aggregate_id="w:thing",
        data={"warehouse_id": uuid.uuid4(), "sku": "A", "on_hand": 1, "reserved": 0, "available": 1},
    )


async def count(runtime: ServiceRuntime, table: sa.Table, *where: Any) -> int:
    async with runtime.db.read() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(table).where(*where)) or 0)


async def test_old_rows_go_in_batches_recent_ones_stay_and_a_recent_inbox_row_still_dedupes(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """Inbox rows older than 14 days, idempotency records finished more than 24 h ago and 1C exchange log
    rows older than 90 days are deleted (a few per transaction) and counted in a metric; younger rows stay,
    an idempotency record still running stays, and an event processed yesterday is still refused as a
    duplicate."""
    app = create_app(Settings(database_url=database_url, retention_batch_size=2, **service_env))
    async with running_service(app) as client:
        runtime: ServiceRuntime = app.state.runtime
        db = runtime.db
        now = utcnow()
        recent_event = stock_event()
        async with db.transaction() as tx:
            assert await tx.claim("test", recent_event)
            await tx.conn.execute(
                db.inbox.insert(),
                [
                    {"consumer": "test", "event_id": str(uuid.uuid4()), "event_type": "x", "processed_at": old}
                    for old in [now - 15 * DAY] * 5
                ],
            )
            await tx.conn.execute(
                db.inbox.update()
                .where(db.inbox.c.event_id == str(recent_event.event_id))
                .values(processed_at=now - DAY)
            )
            hour = timedelta(hours=1)
            keys_rows = [
                # finished long ago: goes
                {"key": "old", "created_at": now - 3 * DAY, "completed_at": now - 3 * DAY, "status_code": 201},
                # made long ago, finished recently: stays (24 h after completion)
                {"key": "late", "created_at": now - 3 * DAY, "completed_at": now - hour, "status_code": 200},
                # finished recently: stays
                {"key": "new", "created_at": now - 2 * hour, "completed_at": now - 2 * hour, "status_code": 200},
                # still running: stays
                {"key": "running", "created_at": now - timedelta(minutes=1), "completed_at": None, "status_code": None},
            ]  # fmt: skip
            await tx.conn.execute(
                db.idempotency.insert(), [{"scope": "user:1", "request_hash": "h", **row} for row in keys_rows]
            )
            await tx.conn.execute(
                db.idempotency_effects.insert(),
                [
                    {"scope": "user:1", "key": "old", "claim": "c", "committed_at": now - 3 * DAY},
                    {"scope": "user:1", "key": "new", "claim": "c", "committed_at": now - timedelta(hours=2)},
                ],
            )
            log_rows = [(now - 91 * DAY, "old"), (now - 89 * DAY, "kept"), (now, "today")]
            await tx.conn.execute(
                exchange_log.insert(),
                [
                    {"id": str(uuid.uuid4()), "tenant_id": "t", "kind": "sale.query", "outcome": "success",
                     "detail": detail, "started_at": at}
                    for at, detail in log_rows
                ],
            )  # fmt: skip
            await tx.conn.execute(
                sessions.insert(),
                [
                    {"id": "s-old", "tenant_id": "t", "channel": "sale", "created_at": now - 30 * DAY,
                     "last_seen_at": now - 30 * DAY},
                    {"id": "s-new", "tenant_id": "t", "channel": "sale", "created_at": now, "last_seen_at": now},
                ],
            )  # fmt: skip

        deleted = await runtime.purge_expired()

        assert deleted == {
            "inbox": 5,
            "idempotency_keys": 1,
            "idempotency_effects": 1,
            "erp_exchange_log": 1,
            "erp_sessions": 1,
            "erp_files": 0,
            "outbox_sent": 0,  # published rows kept for a re-send (ADR 019): none older than the window
        }
        assert await count(runtime, db.inbox) == 1
        async with db.transaction() as tx:  # processed yesterday: still a duplicate
            assert not await tx.claim("test", recent_event)
        async with db.read() as conn:
            kept_keys = (await conn.scalars(sa.select(db.idempotency.c.key).order_by(db.idempotency.c.key))).all()
            kept_log = (await conn.scalars(sa.select(exchange_log.c.detail).order_by(exchange_log.c.detail))).all()
            kept_sessions = (await conn.scalars(sa.select(sessions.c.id))).all()
        assert kept_keys == ["late", "new", "running"]
        assert kept_log == ["kept", "today"]
        assert kept_sessions == ["s-new"]
        metrics = (await client.get("/metrics")).text
        assert 'oms_retention_deleted_rows_total{service="erp-bridge",table="inbox"} 5.0' in metrics
        assert 'oms_retention_deleted_rows_total{service="erp-bridge",table="erp_exchange_log"} 1.0' in metrics
        ages = {
            line.split('table="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("oms_retention_oldest_row_age_seconds{")
        }
        assert 0.9 * DAY.total_seconds() < ages["inbox"] < 1.1 * DAY.total_seconds()  # the row of yesterday
        assert 88 * DAY.total_seconds() < ages["erp_exchange_log"] < 90 * DAY.total_seconds()
        assert ages["erp_files"] == 0.0  # empty
        assert await runtime.purge_expired() == dict.fromkeys(deleted, 0)  # nothing left to do


async def test_the_retention_loop_runs_by_itself(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """The service deletes expired rows on its own, off the request path, every retention_interval_s."""
    from tests.support.services import eventually

    app = create_app(Settings(database_url=database_url, retention_interval_s=0.2, **service_env))
    async with running_service(app) as client:
        runtime: ServiceRuntime = app.state.runtime
        async with runtime.db.transaction() as tx:
            await tx.conn.execute(
                runtime.db.inbox.insert().values(
                    consumer="test", event_id=str(uuid.uuid4()), event_type="x", processed_at=utcnow() - 30 * DAY
                )
            )

        async def purged() -> None:
            assert await count(runtime, runtime.db.inbox) == 0

        await eventually(purged, timeout=15)
        assert isinstance(client, httpx.AsyncClient)
