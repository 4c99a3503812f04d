"""Helpers the use cases share: JSON-ready values, id parsing, access to orders and buyers."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_orders import domain
from oms_orders.db import buyers, orders, users
from oms_shared.auth import Principal
from oms_shared.errors import Forbidden, Invalid, NotFound, OmsError, PreconditionFailed


class PreconditionRequired(OmsError):
    status = 428
    code = "if_match_required"


def dec(value: Any) -> str:
    """A Decimal as a plain string without exponent or trailing zeros ("10", "2.5")."""
    if value is None:
        return "0"
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    if d == d.to_integral_value():
        return str(d.quantize(Decimal(1)))
    return format(d.normalize(), "f")


def fold(text: str) -> str:
    """Text as the search compares it, the same on every database: case-folded in every alphabet (SQLite's
    ``lower()`` folds only Latin letters), "ё" as "е" (Russian writes either), runs of spaces as one."""
    return " ".join(text.casefold().replace("ё", "е").split())


def d(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def earliest_today() -> date:
    """The date that is today somewhere on Earth first falls back to (UTC-12): anything before it is past
    for every user, whatever their time zone."""
    return (datetime.now(UTC) - timedelta(hours=12)).date()


def refuse_past_date(value: date | None, field: str) -> None:
    """A shipment date in the past is a typo, never a plan: refused with 422 ``date_in_past``."""
    if value is not None and value < earliest_today():
        raise Invalid(
            f"{field} {value.isoformat()} is in the past; choose today or a later date",
            code="date_in_past",
            details=[{"field": field, "reason": "a date in the past"}],
        )


def ids_json(values: list[str]) -> str:
    return json.dumps(sorted({str(v) for v in values}))


def load_ids(raw: str | None) -> list[str]:
    return list(json.loads(raw or "[]"))


def side_of(principal: Principal) -> domain.Side:
    return domain.Side.SUPPLIER if principal.is_supplier else domain.Side.BUYER


def check_if_match(current: int, if_match: str | None, *, required: bool, what: str = "order") -> None:
    """R-ED-4: a write must carry the version the client saw; a stale one changes nothing."""
    if not if_match:
        if required:
            raise PreconditionRequired(f'send If-Match: "<version>" with the version of the {what} you saw')
        return
    raw = if_match.strip().removeprefix("W/").strip('"')
    try:
        seen = int(raw)
    except ValueError:
        raise PreconditionFailed(f"If-Match {if_match!r} is not a {what} version", code="stale_version") from None
    if seen != current:
        raise PreconditionFailed(
            f"the {what} changed since you loaded it (your version {seen}, now {current}); reload and retry",
            code="stale_version",
            details={"current_version": current},
        )


async def manages_buyer(conn: AsyncConnection, buyer_id: str, user_id: uuid.UUID) -> bool:
    raw = await conn.scalar(sa.select(buyers.c.manager_user_ids).where(buyers.c.id == buyer_id))
    return str(user_id) in load_ids(raw)


def restricted(principal: Principal) -> bool:
    return principal.is_supplier and principal.restricted_to_own_buyers and not principal.is_owner


async def order_for(
    conn: AsyncConnection, order_id: uuid.UUID, principal: Principal, *, write: bool = False, lock: bool = False
) -> sa.Row[Any]:
    """The order row if the caller may see (or change) it: 404 unknown, and just the same for another tenant's
    (R-ACC-4: an answer never tells that an id exists elsewhere)."""
    query = sa.select(orders).where(orders.c.id == str(order_id))
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    owner = None if row is None else row.supplier_id if principal.is_supplier else row.buyer_account_id
    if row is None or owner != str(principal.account_id):
        raise NotFound(f"order {order_id} does not exist", code="order_not_found")
    if principal.is_supplier:
        principal.require("orders", "change" if write else "read")
        if restricted(principal) and not await manages_buyer(conn, row.buyer_id, principal.user_id):
            raise Forbidden("this order belongs to a buyer you are not responsible for", code="not_your_buyer")
    return row


async def user_names(conn: AsyncConnection, user_ids: Any) -> dict[str, str]:
    """The names of people (users of the accounts) by id, for answers that say who did what; ids not known
    here (a system step, a deleted user) are left out. A person without a name is shown by the id alone."""
    wanted = sorted({str(u) for u in user_ids if u})
    if not wanted:
        return {}
    rows = await conn.execute(sa.select(users.c.id, users.c.name).where(users.c.id.in_(wanted)))
    return {r.id: r.name for r in rows}
