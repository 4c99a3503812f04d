"""Grouped summaries from the per-buyer and per-manager rollups equal a scan of the orders (R-AN-1..3)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

from oms_analytics import queries
from oms_analytics.app import MIGRATIONS, create_app
from oms_analytics.db import buyer_managers, daily, daily_buyers, daily_managers, metadata, orders
from oms_analytics.domain import STATUSES, OrderFacts, RollupDelta, parse_report_query
from oms_analytics.handlers import order_row
from oms_analytics.queries import Scope, load_summary
from oms_analytics.settings import Settings
from oms_shared.db import Database, create_engine
from oms_shared.migrations import upgrade_to_head
from tests.integration.analytics.builders import Publisher, at, buyer, changed, placed, status_changed, supplier_account
from tests.support.services import bearer, eventually, running_service, token_for

RANGE = {"date_from": "2026-11-01", "date_to": "2026-11-30"}
# The whole month by day, and ten days of it by week (the range cuts its first and last week).
REPORTS = (RANGE, {"date_from": "2026-11-03", "date_to": "2026-11-12", "interval": "week"})


class RollupReads:
    """Which groupings the rollups answered, so a comparison with the scan is not a scan against a scan."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.groupings: list[str] = []
        real = queries._rollup_group_buckets

        async def spy(conn: Any, scope: Scope, query: Any) -> Any:
            self.groupings.append(query.group_by)
            return await real(conn, scope, query)

        monkeypatch.setattr(queries, "_rollup_group_buckets", spy)


@contextmanager
def scanning(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Within the block grouped summaries scan the orders of the range, as they did before the rollups."""
    with monkeypatch.context() as m:
        m.setattr(queries, "group_rollups_answer", lambda scope, group_by: False)
        yield


async def _summary(client: httpx.AsyncClient, token: str, **params: str) -> dict[str, Any]:
    resp = await client.get("/api/v1/summary", params={**RANGE, **params}, headers=bearer(token))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _counts(body: dict[str, Any]) -> dict[str, int]:
    return {g["name"]: g["orders_count"] for g in body["groups"]}


async def test_grouped_summaries_from_rollups_equal_the_scan_and_follow_reassignments(
    kafka: str,
    database_url: str,
    service_env: dict[str, object],
    keys: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """R-AN-1, R-AN-2, R-AN-3: summaries by buyer and by manager (what the charts and the Excel export show)
    read the rollups and equal a scan of the orders: statuses, sums, confirmed/shipped, overdue, payments,
    an order reassigned to another manager or to none, one moved to another buyer, one outside the range;
    a restricted manager sees only their buyers' orders either way; rebuilt rollups agree with the scan."""
    tenant, m1, m2, m3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    b1, b2, b3, b4 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    o = [uuid.uuid4() for _ in range(10)]
    owner = token_for(keys[0], account_id=tenant)
    restricted = token_for(
        keys[0], account_id=tenant, owner=False, access={"orders": "read"}, restricted=True, user_id=m1
    )
    settings = Settings(database_url=database_url, rebuild_idle_s=0.5, **service_env)  # type: ignore[arg-type]
    reads = RollupReads(monkeypatch)
    async with running_service(create_app(settings)) as client, Publisher(kafka) as pub:
        await pub.send(
            supplier_account(tenant, (m1, "Мария"), (m2, "Олег"), (m3, "Ирина")),
            buyer(tenant, b1, "ООО Ромашка", [m1]),
            buyer(tenant, b2, "АО Василёк", [m1, m2]),
            buyer(tenant, b3, "ИП Лютик", [m3]),
            buyer(tenant, b4, "ЗАО Клевер", []),
            placed(tenant, o[0], b1, number="1", price="1000.00", quantity="2", day="2026-11-02", responsible=m1),
            placed(tenant, o[1], b1, number="2", price="300.00", day="2026-11-02", responsible=m2),
            placed(tenant, o[2], b2, number="3", price="450.50", day="2026-11-03", responsible=m2),
            placed(tenant, o[3], b2, number="4", price="99.99", day="2026-11-05"),
            placed(tenant, o[4], b3, number="5", price="10.00", day="2026-11-05", responsible=m3),
            placed(tenant, o[5], b3, number="6", price="700.00", day="2026-11-10", responsible=m2),
            placed(tenant, o[6], b4, number="7", price="120.00", day="2026-11-12", responsible=m1),
            placed(tenant, o[7], b1, number="8", price="55.00", day="2026-11-20", responsible=m1),
            placed(tenant, o[8], b2, number="9", price="5000.00", day="2026-10-15", responsible=m3),
            placed(tenant, o[9], b4, number="10", price="80.00", day="2026-11-28"),
            status_changed(tenant, o[0], b1, to="confirmed", seq=2, when=at("2026-11-02", 14)),
            status_changed(tenant, o[0], b1, to="shipped", seq=3, when=at("2026-11-04", 9)),
            changed(tenant, o[0], b1, kind="payment", seq=4, status="shipped", attributes={"paid_amount": "2000"}),
            status_changed(tenant, o[1], b1, to="confirmed", seq=2, when=at("2026-11-02", 18)),
            changed(tenant, o[1], b1, kind="overdue", seq=3, attributes={"overdue": True}),
            status_changed(tenant, o[2], b2, to="confirmed", seq=2, when=at("2026-11-03", 12)),
            status_changed(tenant, o[2], b2, to="rejected", seq=3, when=at("2026-11-04", 12)),
            status_changed(tenant, o[3], b2, to="cancelled", seq=2, when=at("2026-11-06")),
            status_changed(tenant, o[5], b3, to="confirmed", seq=2, when=at("2026-11-10", 20)),
            status_changed(tenant, o[6], b4, to="confirmed", seq=2, when=at("2026-11-12", 11)),
            status_changed(tenant, o[6], b4, to="shipped", seq=3, when=at("2026-11-13", 11)),
            status_changed(tenant, o[9], b4, to="awaiting_approval", seq=2, when=at("2026-11-28", 12)),
            changed(tenant, o[9], b4, kind="lines", seq=3, status="awaiting_approval", attributes={"total": "77.70"}),
            # Reassigned: o6 from Олег to Ирина, o7 from Мария to nobody.
            changed(tenant, o[5], b3, kind="responsible", seq=3, attributes={"responsible_user_id": str(m3)}),
            changed(
                tenant, o[6], b4, kind="responsible", seq=4, status="shipped", attributes={"responsible_user_id": None}
            ),
        )
        managers = {"Мария": 2, "Олег": 2, "Ирина": 2, "Без ответственного / unassigned": 3}

        async def settled() -> None:
            assert _counts(await _summary(client, owner, group_by="manager")) == managers
            assert _counts(await _summary(client, owner, group_by="buyer")) == {
                "ООО Ромашка": 3,
                "АО Василёк": 2,
                "ИП Лютик": 2,
                "ЗАО Клевер": 2,
            }

        await eventually(settled, timeout=20)

        # o8 moves from Ромашка to Лютик (sent once its order.placed is in: the buyer of an order is not
        # versioned, the last event read names it).
        await pub.send(changed(tenant, o[7], b3, kind="comment", seq=2, status="new"))

        async def moved() -> None:
            by_buyer = _counts(await _summary(client, owner, group_by="buyer"))
            assert (by_buyer["ООО Ромашка"], by_buyer["ИП Лютик"]) == (2, 3)

        await eventually(moved, timeout=10)
        assert _counts(await _summary(client, owner, group_by="manager")) == managers

        # The restricted manager (Мария) sees Ромашка's and Василёк's orders only, whoever is responsible.
        mine = await _summary(client, restricted, group_by="manager")
        assert _counts(mine) == {"Мария": 1, "Олег": 2, "Без ответственного / unassigned": 1}
        assert _counts(await _summary(client, restricted, group_by="buyer")) == {"ООО Ромашка": 2, "АО Василёк": 2}

        async def every_grouped_summary() -> dict[tuple[str, str, int], dict[str, Any]]:
            out = {}
            for who, token in (("owner", owner), ("restricted", restricted)):
                for group_by in ("buyer", "manager"):
                    for i, params in enumerate(REPORTS):
                        out[(who, group_by, i)] = await _summary(client, token, group_by=group_by, **params)
            return out

        reads.groupings.clear()
        from_rollups = await every_grouped_summary()
        # The owner by buyer and by manager, the restricted manager by buyer: 3 × 2 reports from rollups.
        assert sorted(reads.groupings) == ["buyer"] * 4 + ["manager"] * 2
        with scanning(monkeypatch):
            scanned = await every_grouped_summary()
        assert from_rollups == scanned

        # Over the exact-median limit the groups go without medians, from rollups and scan alike.
        with monkeypatch.context() as m:
            m.setattr(queries, "EXACT_MEDIAN_LIMIT", 0)
            big = await _summary(client, owner, group_by="manager")
            assert big["group_medians_omitted"] is True
            with scanning(monkeypatch):
                assert await _summary(client, owner, group_by="manager") == big

        # A rebuild resets the rollups with the orders and replays the topics: rollups and scan agree again,
        # with the same figures by manager (the replay may read o8's two buyers in either order).
        resp = await client.post("/api/v1/admin/rebuild", params={"wait": "true"}, headers=bearer(owner))
        assert resp.status_code == 200 and resp.json()["status"] == "done", resp.text
        rebuilt = await every_grouped_summary()
        with scanning(monkeypatch):
            assert await every_grouped_summary() == rebuilt
        assert [rebuilt[("owner", "manager", i)] for i in (0, 1)] == [
            from_rollups[("owner", "manager", i)] for i in (0, 1)
        ]


async def _upgrade_to(engine: AsyncEngine, revision: str) -> None:
    def run(sync_conn: Any) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with engine.connect() as conn:
        await conn.run_sync(run)
        await conn.commit()


def some_orders(tenant: str, buyers: list[str], managers: list[str | None], n: int, seed: int) -> list[OrderFacts]:
    """Orders as the consumer leaves them: every status, with and without a manager, paid, overdue, late."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        status = STATUSES[i % len(STATUSES)]
        placed_at = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(92 * 24 * 60))
        reached = status in ("confirmed", "shipped") or (status in ("rejected", "cancelled") and rng.random() < 0.5)
        confirmed_at = placed_at + timedelta(hours=rng.uniform(1, 50)) if reached else None
        total = rng.randrange(100, 1_000_000)
        out.append(
            OrderFacts(
                order_id=str(uuid.uuid4()),
                tenant_id=tenant,
                number=str(i),
                buyer_id=rng.choice(buyers),
                responsible_user_id=rng.choice(managers),
                status=status,
                total_minor=total,
                paid_minor=rng.choice((0, total, total // 3)),
                # A few orders seen only through later events: no placement yet, in no summary.
                placed_at=placed_at if i % 25 else None,
                confirmed_at=confirmed_at,
                shipped_at=confirmed_at + timedelta(hours=5) if status == "shipped" and confirmed_at else None,
                overdue=status in ("new", "confirmed") and rng.random() < 0.3,
            )
        )
    return out


def rollups_of(facts: list[OrderFacts]) -> dict[str, RollupDelta]:
    """Per tenant, the rollups the handlers keep for these orders."""
    out: dict[str, RollupDelta] = {}
    for f in facts:
        out.setdefault(f.tenant_id, RollupDelta()).add(f, +1)
    return out


def _daily_rows(facts: list[OrderFacts]) -> list[dict[str, Any]]:
    names = ("day", "status", "confirmed", "shipped", "overdue")
    return [
        {"tenant_id": tenant, **dict(zip(names, k, strict=True)), "orders": n, "total_minor": total, "paid_minor": paid}
        for tenant, delta in rollups_of(facts).items()
        for k, (n, total, paid) in delta.nonzero()[0].items()
    ]


async def _group_rollup_rows(db: Database) -> dict[tuple[Any, ...], list[int]]:
    rows: dict[tuple[Any, ...], list[int]] = {}
    async with db.read() as conn:
        for table in (daily_buyers, daily_managers):
            for r in await conn.execute(sa.select(table).where(table.c.orders != 0)):
                key = (table.name, *r[:7])
                rows[key] = [int(r.orders), int(r.total_minor), int(r.paid_minor)]
    return rows


async def test_migration_0004_fills_the_group_rollups_from_the_orders_already_there(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R-AN-1, R-AN-3: a database with orders from before the group rollups gets them from migration 0004,
    without a replay: the rows the handlers would have kept, and grouped summaries equal to the scan, for
    the whole tenant and for a restricted manager (by buyer from rollups, by manager from the scan)."""
    tenant, other = str(uuid.uuid4()), str(uuid.uuid4())
    buyers = [str(uuid.uuid4()) for _ in range(6)]
    managers: list[str | None] = [str(uuid.uuid4()) for _ in range(3)] + [None]
    facts = some_orders(tenant, buyers, managers, 300, seed=4) + some_orders(other, buyers[:2], managers, 40, seed=5)
    db = Database(create_engine(database_url), metadata)
    try:
        await _upgrade_to(db.engine, "0003")
        async with db.transaction() as tx:
            # What the handlers of revision 0003 left: order rows and their daily rollups.
            await tx.conn.execute(orders.insert(), [{"order_id": f.order_id, **order_row(f)} for f in facts])
            await tx.conn.execute(daily.insert(), _daily_rows(facts))
            restricted_to = [{"tenant_id": tenant, "buyer_id": b, "user_id": managers[0]} for b in buyers[:2]]
            await tx.conn.execute(buyer_managers.insert(), restricted_to)
        await upgrade_to_head(db.engine, MIGRATIONS)

        expected: dict[tuple[Any, ...], list[int]] = {}
        for t, delta in rollups_of(facts).items():
            by_buyer, by_manager = delta.nonzero_groups()
            expected.update({(daily_buyers.name, t, *k): v for k, v in by_buyer.items()})
            expected.update({(daily_managers.name, t, *k): v for k, v in by_manager.items()})
        assert await _group_rollup_rows(db) == expected

        reports = [parse_report_query("2026-10-01", "2026-12-31", g) for g in ("buyer", "manager")]
        reports += [parse_report_query("2026-10-20", "2026-11-07", g, "week") for g in ("buyer", "manager")]
        async with db.read() as conn:
            for scope in (Scope(tenant), Scope(tenant, managers[0])):
                for query in reports:
                    from_rollups = await load_summary(conn, scope, query)
                    with scanning(monkeypatch):
                        scanned = await load_summary(conn, scope, query)
                    assert from_rollups == scanned, (scope, query)
                    assert from_rollups["groups"], (scope, query)
            whole = await load_summary(conn, Scope(tenant), reports[0])
            assert sum(g["orders_count"] for g in whole["groups"]) == whole["orders_count"] == 288
    finally:
        await db.dispose()
