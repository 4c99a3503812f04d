"""Pure assembly of summary figures from aggregated buckets (no I/O): what a summary says."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from oms_analytics.domain import STATUSES, ReportQuery, money, period_start, periods

OUTCOMES = ("confirmed", "shipped", "rejected", "cancelled")


@dataclass(frozen=True)
class Bucket:
    """Orders sharing status and flags on one day (or in one group): a row of the aggregate query."""

    status: str
    confirmed: bool
    shipped: bool
    overdue: bool
    count: int
    total_minor: int
    paid_minor: int
    day: date | None = None
    key: str | None = None


@dataclass(frozen=True)
class Medians:
    hours_to_confirm: float | None = None
    hours_to_ship: float | None = None


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _share(part: int, whole: int) -> float:
    if whole == 0:
        return 0.0
    return float((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def _outcome_matches(bucket: Bucket, outcome: str) -> bool:
    # Confirmed and shipped count every order that reached the status (a confirmed order shipped later
    # still counts as confirmed); rejected and cancelled are final statuses, so the current status says it.
    if outcome == "confirmed":
        return bucket.confirmed
    if outcome == "shipped":
        return bucket.shipped
    return bucket.status == outcome


def figures(buckets: Iterable[Bucket], medians: Medians) -> dict[str, Any]:
    """The figures of one summary (or one group of it)."""
    rows = list(buckets)
    count = sum(b.count for b in rows)
    total = sum(b.total_minor for b in rows)
    by_status: dict[str, dict[str, Any]] = {}
    for status in STATUSES:
        matching = [b for b in rows if b.status == status]
        by_status[status] = {
            "count": sum(b.count for b in matching),
            "sum": money(sum(b.total_minor for b in matching)),
        }
    out: dict[str, Any] = {"orders_count": count, "orders_sum": money(total), "by_status": by_status}
    for outcome in OUTCOMES:
        matching = [b for b in rows if _outcome_matches(b, outcome)]
        n = sum(b.count for b in matching)
        out[outcome] = {"count": n, "sum": money(sum(b.total_minor for b in matching)), "share": _share(n, count)}
    out["paid_sum"] = money(sum(b.paid_minor for b in rows))
    average = (Decimal(total) / count).quantize(Decimal(1), rounding=ROUND_HALF_UP) if count else Decimal(0)
    out["average_order"] = money(int(average))
    out["median_hours_to_confirm"] = _hours(medians.hours_to_confirm)
    out["median_hours_to_ship"] = _hours(medians.hours_to_ship)
    out["overdue_count"] = sum(b.count for b in rows if b.overdue)
    return out


def series(buckets: Iterable[Bucket], query: ReportQuery) -> list[dict[str, Any]]:
    """Orders per day, week or month over the whole range; empty periods show as zero."""
    acc: dict[date, list[int]] = {p: [0, 0, 0, 0] for p in periods(query.date_from, query.date_to, query.interval)}
    for b in buckets:
        if b.day is None:
            continue
        slot = acc.setdefault(period_start(b.day, query.interval), [0, 0, 0, 0])
        slot[0] += b.count
        slot[1] += b.total_minor
        slot[2] += b.count if b.confirmed else 0
        slot[3] += b.count if b.shipped else 0
    return [
        {"period": p.isoformat(), "count": v[0], "sum": money(v[1]), "confirmed": v[2], "shipped": v[3]}
        for p, v in sorted(acc.items())
    ]


def summary(
    query: ReportQuery,
    day_buckets: list[Bucket],
    medians: Medians,
    group_buckets: list[Bucket] | None = None,
    group_medians: dict[str | None, Medians] | None = None,
    group_names: dict[str | None, str] | None = None,
) -> dict[str, Any]:
    """The whole summary answer of ``GET /summary``."""
    body: dict[str, Any] = {
        "date_from": query.date_from.isoformat(),
        "date_to": query.date_to.isoformat(),
        "group_by": query.group_by,
        "interval": query.interval,
    }
    body.update(figures(day_buckets, medians))
    body["series"] = series(day_buckets, query)
    if query.group_by != "none":
        body["groups"] = groups(group_buckets or [], group_medians or {}, group_names or {})
    return body


def groups(
    buckets: list[Bucket], medians: dict[str | None, Medians], names: dict[str | None, str]
) -> list[dict[str, Any]]:
    """One entry per buyer or manager, biggest sum first; orders without a manager form their own group."""
    by_key: dict[str | None, list[Bucket]] = {}
    for b in buckets:
        by_key.setdefault(b.key, []).append(b)
    out = []
    for key, rows in by_key.items():
        entry: dict[str, Any] = {"key": key, "name": names.get(key) or ("—" if key is None else key)}
        entry.update(figures(rows, medians.get(key, Medians())))
        out.append(entry)
    # The key last: groups alike in sum, count and name keep one order whichever query built the buckets.
    out.sort(key=lambda g: (-Decimal(g["orders_sum"]), -g["orders_count"], g["name"], g["key"] or ""))
    return out
