"""Read use cases: summaries, grouped summaries and the orders behind a figure, scoped to the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_analytics.db import buyer_managers, buyers, daily, daily_buyers, daily_hours, daily_managers, orders, users
from oms_analytics.domain import NO_GROUP, DetailsQuery, ReportQuery, histogram_median, money
from oms_analytics.figures import Bucket, Medians, median, summary
from oms_shared.auth import Principal
from oms_shared.errors import Forbidden, NotFound


@dataclass(frozen=True)
class Scope:
    """Whose orders a caller may see: one tenant, and for a restricted manager only their buyers (R-ACC-3)."""

    tenant_id: str
    restricted_user_id: str | None = None


def scope_of(principal: Principal) -> Scope:
    """Analytics needs at least read on customer orders (R-ACC-3); raises Forbidden otherwise."""
    principal.require("orders", "read")
    restricted = principal.restricted_to_own_buyers and not principal.is_owner
    return Scope(str(principal.account_id), str(principal.user_id) if restricted else None)


def _conditions(scope: Scope, query: ReportQuery) -> list[sa.ColumnElement[bool]]:
    conds: list[sa.ColumnElement[bool]] = [
        orders.c.tenant_id == scope.tenant_id,
        orders.c.placed_day >= query.date_from,
        orders.c.placed_day <= query.date_to,
    ]
    if scope.restricted_user_id is not None:
        conds.append(orders.c.buyer_id.in_(_own_buyers(scope)))
    return conds


def _own_buyers(scope: Scope) -> sa.Select[tuple[str]]:
    """The buyers a restricted manager is assigned to: the only ones whose orders they see (R-ACC-3)."""
    return sa.select(buyer_managers.c.buyer_id).where(
        buyer_managers.c.tenant_id == scope.tenant_id, buyer_managers.c.user_id == scope.restricted_user_id
    )


# Up to this many orders the medians are exact; above, they come from the hour histograms (within 2.5 %).
EXACT_MEDIAN_LIMIT = 20_000

_CONFIRMED = orders.c.confirmed_at.is_not(None)
_SHIPPED = orders.c.shipped_at.is_not(None)


async def _buckets(
    conn: AsyncConnection, conds: list[sa.ColumnElement[bool]], dimension: sa.ColumnElement[Any]
) -> list[Bucket]:
    confirmed = _CONFIRMED.label("confirmed")
    shipped = _SHIPPED.label("shipped")
    dim = dimension.label("dim")
    stmt = (
        sa.select(
            dim,
            orders.c.status,
            confirmed,
            shipped,
            orders.c.overdue,
            sa.func.count().label("n"),
            sa.func.coalesce(sa.func.sum(orders.c.total_minor), 0).label("total"),
            sa.func.coalesce(sa.func.sum(orders.c.paid_minor), 0).label("paid"),
        )
        .where(*conds)
        .group_by(dimension, orders.c.status, _CONFIRMED, _SHIPPED, orders.c.overdue)
    )
    is_day = dimension is orders.c.placed_day
    out = []
    for r in await conn.execute(stmt):
        out.append(
            Bucket(
                status=r.status,
                confirmed=bool(r.confirmed),
                shipped=bool(r.shipped),
                overdue=bool(r.overdue),
                count=int(r.n),
                total_minor=int(r.total),
                paid_minor=int(r.paid),
                day=r.dim if is_day else None,
                key=None if is_day else r.dim,
            )
        )
    return out


async def _medians(
    conn: AsyncConnection, conds: list[sa.ColumnElement[bool]], key: sa.ColumnElement[Any] | None = None
) -> dict[Any, Medians]:
    """Median hours placement→confirmation and confirmation→shipment (per group when ``key`` is given)."""
    if conn.dialect.name == "postgresql":
        cols: list[Any] = [
            sa.func.percentile_cont(0.5).within_group(orders.c.hours_to_confirm).label("c"),
            sa.func.percentile_cont(0.5).within_group(orders.c.hours_to_ship).label("s"),
        ]
        if key is None:
            row = (await conn.execute(sa.select(*cols).where(*conds))).one()
            return {None: Medians(row.c, row.s)}
        rows = await conn.execute(sa.select(key.label("k"), *cols).where(*conds).group_by(key))
        return {r.k: Medians(r.c, r.s) for r in rows}
    # SQLite has no percentile: fetch the durations (SQLite is the single-machine default, not the big one).
    k = key if key is not None else sa.literal(None)
    stmt = sa.select(k.label("k"), orders.c.hours_to_confirm, orders.c.hours_to_ship).where(
        *conds, sa.or_(orders.c.hours_to_confirm.is_not(None), orders.c.hours_to_ship.is_not(None))
    )
    confirm: dict[Any, list[float]] = {}
    ship: dict[Any, list[float]] = {}
    for r in await conn.execute(stmt):
        if r.hours_to_confirm is not None:
            confirm.setdefault(r.k, []).append(r.hours_to_confirm)
        if r.hours_to_ship is not None:
            ship.setdefault(r.k, []).append(r.hours_to_ship)
    return {k: Medians(median(confirm.get(k, [])), median(ship.get(k, []))) for k in set(confirm) | set(ship)}


def _group_column(group_by: str) -> sa.ColumnElement[Any]:
    return orders.c.buyer_id if group_by == "buyer" else orders.c.responsible_user_id


async def group_names(conn: AsyncConnection, tenant_id: str, group_by: str, keys: list[str]) -> dict[str | None, str]:
    """Buyer or manager names for group keys; a buyer unknown to buyer.updated keeps the name from its orders."""
    names: dict[str | None, str] = {None: "Без ответственного / unassigned"} if group_by == "manager" else {}
    if not keys:
        return names
    if group_by == "buyer":
        rows = await conn.execute(
            sa.select(buyers.c.buyer_id, buyers.c.name).where(
                buyers.c.tenant_id == tenant_id, buyers.c.buyer_id.in_(keys)
            )
        )
        names.update({r.buyer_id: r.name for r in rows})
        missing = [k for k in keys if k not in names]
        if missing:
            rows = await conn.execute(
                sa.select(orders.c.buyer_id, sa.func.max(orders.c.buyer_name).label("name"))
                .where(orders.c.tenant_id == tenant_id, orders.c.buyer_id.in_(missing))
                .group_by(orders.c.buyer_id)
            )
            names.update({r.buyer_id: r.name for r in rows if r.name})
    else:
        rows = await conn.execute(
            sa.select(users.c.user_id, users.c.name).where(users.c.tenant_id == tenant_id, users.c.user_id.in_(keys))
        )
        names.update({r.user_id: r.name for r in rows})
    return names


async def _rollup_buckets(conn: AsyncConnection, tenant_id: str, query: ReportQuery) -> list[Bucket]:
    rows = await conn.execute(
        sa.select(daily).where(
            daily.c.tenant_id == tenant_id,
            daily.c.day >= query.date_from,
            daily.c.day <= query.date_to,
            daily.c.orders != 0,
        )
    )
    return [
        Bucket(
            r.status, bool(r.confirmed), bool(r.shipped), bool(r.overdue), r.orders, r.total_minor, r.paid_minor, r.day
        )
        for r in rows
    ]


# The per-day rollup of each grouping and its group column.
_GROUP_ROLLUPS: dict[str, tuple[sa.Table, str]] = {
    "buyer": (daily_buyers, "buyer_id"),
    "manager": (daily_managers, "responsible_user_id"),
}


def group_rollups_answer(scope: Scope, group_by: str) -> bool:
    """Whether the per-day group rollups give this caller's grouped figures, as the scan would.

    The whole tenant: always. A restricted manager sees their own buyers' orders only: the per-buyer
    rollup can be cut to those buyers, the per-manager one cannot (it does not say whose buyer an order is).
    """
    return scope.restricted_user_id is None or group_by == "buyer"


async def _rollup_group_buckets(conn: AsyncConnection, scope: Scope, query: ReportQuery) -> list[Bucket]:
    """Group buckets from the per-day rollups of the range: the same buckets as the scan, fewer rows read."""
    table, column = _GROUP_ROLLUPS[query.group_by]
    key = table.c[column]
    conds = [
        table.c.tenant_id == scope.tenant_id,
        table.c.day >= query.date_from,
        table.c.day <= query.date_to,
        table.c.orders != 0,
    ]
    if scope.restricted_user_id is not None:
        conds.append(key.in_(_own_buyers(scope)))
    flags = (table.c.status, table.c.confirmed, table.c.shipped, table.c.overdue)
    stmt = (
        sa.select(
            key.label("k"),
            *flags,
            sa.func.sum(table.c.orders).label("n"),
            sa.func.sum(table.c.total_minor).label("total"),
            sa.func.sum(table.c.paid_minor).label("paid"),
        )
        .where(*conds)
        .group_by(key, *flags)
    )
    return [
        Bucket(
            status=r.status,
            confirmed=bool(r.confirmed),
            shipped=bool(r.shipped),
            overdue=bool(r.overdue),
            count=int(r.n),
            total_minor=int(r.total),
            paid_minor=int(r.paid),
            key=None if r.k == NO_GROUP else r.k,
        )
        for r in await conn.execute(stmt)
    ]


async def _group_buckets(
    conn: AsyncConnection, scope: Scope, query: ReportQuery, conds: list[sa.ColumnElement[bool]]
) -> list[Bucket]:
    if group_rollups_answer(scope, query.group_by):
        return await _rollup_group_buckets(conn, scope, query)
    # A restricted manager by manager: scan the orders of their buyers (found by the buyer index).
    return await _buckets(conn, conds, _group_column(query.group_by))


async def _rollup_medians(conn: AsyncConnection, tenant_id: str, query: ReportQuery) -> Medians:
    rows = await conn.execute(
        sa.select(daily_hours.c.metric, daily_hours.c.bin, sa.func.sum(daily_hours.c.n).label("n"))
        .where(
            daily_hours.c.tenant_id == tenant_id,
            daily_hours.c.day >= query.date_from,
            daily_hours.c.day <= query.date_to,
        )
        .group_by(daily_hours.c.metric, daily_hours.c.bin)
    )
    bins: dict[str, dict[int, int]] = {"confirm": {}, "ship": {}}
    for r in rows:
        bins.setdefault(r.metric, {})[r.bin] = int(r.n)
    return Medians(histogram_median(bins["confirm"]), histogram_median(bins["ship"]))


async def load_summary(conn: AsyncConnection, scope: Scope, query: ReportQuery) -> dict[str, Any]:
    """The summary of ``GET /summary``: figures, series and (when grouped) one entry per buyer or manager."""
    conds = _conditions(scope, query)
    if scope.restricted_user_id is None:
        # The whole tenant: the daily rollups answer without reading every order.
        day_buckets = await _rollup_buckets(conn, scope.tenant_id, query)
        if sum(b.count for b in day_buckets) <= EXACT_MEDIAN_LIMIT:
            medians = (await _medians(conn, conds)).get(None, Medians())
        else:
            medians = await _rollup_medians(conn, scope.tenant_id, query)
    else:
        day_buckets = await _buckets(conn, conds, orders.c.placed_day)
        medians = (await _medians(conn, conds)).get(None, Medians())
    if query.group_by == "none":
        return summary(query, day_buckets, medians)
    key = _group_column(query.group_by)
    group_buckets = await _group_buckets(conn, scope, query, conds)
    big = sum(b.count for b in day_buckets) > EXACT_MEDIAN_LIMIT
    # A median per group means sorting every order of the range by group: seconds over a million orders.
    # Above the limit the groups go without their medians (the summary's own medians stay).
    group_medians = {} if big else await _medians(conn, conds, key)
    keys = sorted({b.key for b in group_buckets if b.key is not None})
    names = await group_names(conn, scope.tenant_id, query.group_by, keys)
    body = summary(query, day_buckets, medians, group_buckets, group_medians, names)
    body["group_medians_omitted"] = big
    return body


_SORT_COLUMNS: dict[str, sa.ColumnElement[Any]] = {
    "placed_at": orders.c.placed_at,
    "number": orders.c.number,
    "total": orders.c.total_minor,
    "paid": orders.c.paid_minor,
    "status": orders.c.status,
    "buyer": orders.c.buyer_name,
}


def _figure_condition(figure: str) -> sa.ColumnElement[bool] | None:
    if figure == "all":
        return None
    if figure == "confirmed":
        return _CONFIRMED
    if figure == "shipped":
        return _SHIPPED
    if figure in ("rejected", "cancelled"):
        return orders.c.status == figure
    if figure == "overdue":
        return orders.c.overdue.is_(True)
    if figure == "paid":
        return orders.c.paid_minor > 0
    return orders.c.status == figure.removeprefix("status:")


async def _owned(
    conn: AsyncConnection, scope: Scope, table: sa.Table, id_col: str, order_col: sa.Column[Any], value: str
) -> None:
    """``value`` must be the caller's own (R-ACC-4): 404 when unknown, and just the same when another account's."""
    mine = await conn.scalar(
        sa.select(sa.literal(1)).where(table.c.tenant_id == scope.tenant_id, table.c[id_col] == value)
    ) or await conn.scalar(
        sa.select(sa.literal(1)).where(orders.c.tenant_id == scope.tenant_id, order_col == value).limit(1)
    )
    if mine:
        return
    kind = "buyer" if id_col == "buyer_id" else "manager"
    raise NotFound(f"no {kind} {value}", code=f"{kind}_not_found")


async def check_filter_ids(conn: AsyncConnection, scope: Scope, dq: DetailsQuery) -> None:
    """A buyer or manager filter must name one of the caller's own; a restricted manager's buyer must be theirs."""
    if dq.buyer_id:
        await _owned(conn, scope, buyers, "buyer_id", orders.c.buyer_id, dq.buyer_id)
        if scope.restricted_user_id is not None:
            assigned = await conn.scalar(
                sa.select(sa.literal(1)).where(
                    buyer_managers.c.tenant_id == scope.tenant_id,
                    buyer_managers.c.buyer_id == dq.buyer_id,
                    buyer_managers.c.user_id == scope.restricted_user_id,
                )
            )
            if not assigned:
                raise Forbidden("this buyer is not assigned to you", code="not_your_buyer")
    if dq.manager_id and dq.manager_id != "none":
        await _owned(conn, scope, users, "user_id", orders.c.responsible_user_id, dq.manager_id)


async def load_details(conn: AsyncConnection, scope: Scope, dq: DetailsQuery) -> dict[str, Any]:
    """The orders behind a figure, one page at a time."""
    await check_filter_ids(conn, scope, dq)
    conds = _conditions(scope, dq.report)
    fig = _figure_condition(dq.figure)
    if fig is not None:
        conds.append(fig)
    if dq.buyer_id:
        conds.append(orders.c.buyer_id == dq.buyer_id)
    if dq.manager_id == "none":
        conds.append(orders.c.responsible_user_id.is_(None))
    elif dq.manager_id:
        conds.append(orders.c.responsible_user_id == dq.manager_id)
    if dq.period_from is not None and dq.period_to is not None:
        conds.extend([orders.c.placed_day >= dq.period_from, orders.c.placed_day <= dq.period_to])
    total = int(await conn.scalar(sa.select(sa.func.count()).select_from(orders).where(*conds)) or 0)
    sort_col = _SORT_COLUMNS[dq.sort]
    manager = users.alias("manager")
    buyer = buyers.alias("buyer")
    stmt = (
        sa.select(orders, manager.c.name.label("manager_name"), buyer.c.name.label("buyer_display"))
        .select_from(
            orders.outerjoin(
                manager,
                sa.and_(manager.c.tenant_id == orders.c.tenant_id, manager.c.user_id == orders.c.responsible_user_id),
            ).outerjoin(buyer, sa.and_(buyer.c.tenant_id == orders.c.tenant_id, buyer.c.buyer_id == orders.c.buyer_id))
        )
        .where(*conds)
        .order_by(sort_col.desc() if dq.descending else sort_col.asc(), orders.c.order_id)
        .limit(dq.limit)
        .offset(dq.offset)
    )
    items = [_order_json(r._mapping) for r in await conn.execute(stmt)]
    return {"items": items, "total": total, "limit": dq.limit, "offset": dq.offset}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _order_json(m: Any) -> dict[str, Any]:
    return {
        "order_id": m["order_id"],
        "number": m["number"],
        "buyer_id": m["buyer_id"],
        "buyer_name": m["buyer_display"] or m["buyer_name"],
        "responsible_user_id": m["responsible_user_id"],
        "responsible_name": m["manager_name"],
        "price_list_id": m["price_list_id"],
        "parent_order_id": m["parent_order_id"],
        "status": m["status"],
        "total": money(m["total_minor"]),
        "paid": money(m["paid_minor"]),
        "placed_at": _iso(m["placed_at"]),
        "confirmed_at": _iso(m["confirmed_at"]),
        "shipped_at": _iso(m["shipped_at"]),
        "rejected_at": _iso(m["rejected_at"]),
        "cancelled_at": _iso(m["cancelled_at"]),
        "hours_to_confirm": None if m["hours_to_confirm"] is None else round(m["hours_to_confirm"], 2),
        "hours_to_ship": None if m["hours_to_ship"] is None else round(m["hours_to_ship"], 2),
        "overdue": bool(m["overdue"]),
        "deleted_by_supplier": bool(m["deleted_by_supplier"]),
    }
