"""Retention: tables that would only grow (inbox, idempotency records, logs) lose their old rows in batches.

A service lists what it keeps and for how long (``RetentionRule``); the runtime's retention loop deletes rows
older than that, a batch per transaction, off the request path, and counts what it deleted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge

from oms_shared.db import Database, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionRule:
    """Rows of ``table`` whose ``column`` (a timestamp) is older than ``max_age_s`` go; ``extra`` narrows it
    (a callable of the cut-off time giving more conditions, e.g. "finished before the cut-off too")."""

    table: sa.Table
    column: str
    max_age_s: float
    extra: Callable[[datetime], Sequence[sa.ColumnElement[bool]]] | None = None

    @property
    def name(self) -> str:
        return self.table.name


class RetentionMetrics:
    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.service = service
        self.deleted = Counter(
            "oms_retention_deleted_rows",
            "Rows deleted because they outlived their table's retention",
            ["service", "table"],
            registry=registry,
        )
        self.runs = Counter("oms_retention_runs", "Retention passes", ["service"], registry=registry)
        self.oldest = Gauge(
            "oms_retention_oldest_row_age_seconds",
            "Age of the oldest row left in a table with retention, after the last pass (0 when empty)",
            ["service", "table"],
            registry=registry,
        )


async def purge(db: Database, rule: RetentionRule, *, batch_size: int = 1000, now: datetime | None = None) -> int:
    """Delete the rows of ``rule`` older than its retention, ``batch_size`` per transaction; returns how many."""
    cutoff = (now or utcnow()) - timedelta(seconds=rule.max_age_s)
    table = rule.table
    pk = list(table.primary_key.columns)
    conditions: list[sa.ColumnElement[bool]] = [table.c[rule.column] < cutoff]
    if rule.extra is not None:
        conditions.extend(rule.extra(cutoff))
    old = sa.select(*pk).where(*conditions).limit(batch_size)
    target: Any = pk[0].in_(old) if len(pk) == 1 else sa.tuple_(*pk).in_(old)
    total = 0
    while True:
        async with db.transaction() as tx:
            deleted = (await tx.conn.execute(table.delete().where(target))).rowcount or 0
        total += deleted
        if deleted < batch_size:
            return total
        await asyncio.sleep(0)  # let requests and consumers in between batches


async def purge_all(
    db: Database, rules: Sequence[RetentionRule], metrics: RetentionMetrics, *, batch_size: int = 1000
) -> dict[str, int]:
    """One retention pass over every rule; returns the rows deleted per table."""
    done: dict[str, int] = {}
    for rule in rules:
        deleted = await purge(db, rule, batch_size=batch_size)
        done[rule.name] = done.get(rule.name, 0) + deleted
        if deleted:
            metrics.deleted.labels(metrics.service, rule.name).inc(deleted)
            log.info("retention: %d rows of %s older than %.0f s deleted", deleted, rule.name, rule.max_age_s)
        async with db.read() as conn:  # the column is indexed where the table grows: one index probe
            oldest = await conn.scalar(sa.select(sa.func.min(rule.table.c[rule.column])))
        age = (utcnow() - _aware(oldest)).total_seconds() if oldest is not None else 0.0
        metrics.oldest.labels(metrics.service, rule.name).set(max(age, 0.0))
    metrics.runs.labels(metrics.service).inc()
    return done


def _aware(value: datetime | str) -> datetime:
    """``min()`` of a timestamp column comes back raw (SQLite: text; PostgreSQL: aware)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def messaging_rules(db: Database, *, inbox_s: float, idempotency_s: float) -> list[RetentionRule]:
    """The shared tables: processed-event ids (inbox) and finished idempotency records with their effects."""
    keys = db.idempotency

    def finished_before(cutoff: datetime) -> Sequence[sa.ColumnElement[bool]]:
        return [sa.or_(keys.c.completed_at.is_(None), keys.c.completed_at < cutoff)]

    return [
        RetentionRule(db.inbox, "processed_at", inbox_s),
        RetentionRule(keys, "created_at", idempotency_s, finished_before),
        RetentionRule(db.idempotency_effects, "committed_at", idempotency_s),
    ]
