"""Who may see which orders' reserves: one tenant, and a restricted manager only their own buyers' (R-ACC-1).

Inventory keeps a replica of the buyer → manager assignment (from ``buyer.updated``) and of each order's buyer
(from the order events it already reads), as analytics does for R-ACC-3. An order whose buyer is not known yet is
hidden from a restricted manager: the safe side.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_inventory.db import access_buyer_managers, access_buyers, access_order_buyers
from oms_shared.auth import Principal
from oms_shared.contracts import BuyerUpdatedV1, OrderChangedV1, OrderStatusChangedV1
from oms_shared.db import Tx

E = TypeVar("E", OrderStatusChangedV1, OrderChangedV1)


@dataclass(frozen=True)
class Scope:
    """The caller's tenant, and for a restricted manager their user id (None: every order of the tenant)."""

    tenant_id: str
    restricted_user_id: str | None = None

    @property
    def restricted(self) -> bool:
        return self.restricted_user_id is not None


def scope_of(principal: Principal) -> Scope:
    """Reserves are the supplier's; a manager restricted to their own buyers sees only those buyers' orders."""
    principal.require_supplier()
    restricted = principal.restricted_to_own_buyers and not principal.is_owner
    return Scope(str(principal.account_id), str(principal.user_id) if restricted else None)


def own_orders(scope: Scope) -> sa.Select[tuple[str]]:
    """The orders of a restricted manager's buyers (only meaningful when ``scope.restricted``)."""
    return sa.select(access_order_buyers.c.order_id).where(
        access_order_buyers.c.tenant_id == scope.tenant_id,
        access_order_buyers.c.buyer_id.in_(
            sa.select(access_buyer_managers.c.buyer_id).where(
                access_buyer_managers.c.tenant_id == scope.tenant_id,
                access_buyer_managers.c.user_id == scope.restricted_user_id,
            )
        ),
    )


async def may_see_order(conn: AsyncConnection, scope: Scope, order_id: str) -> bool:
    if not scope.restricted:
        return True
    found = await conn.scalar(own_orders(scope).where(access_order_buyers.c.order_id == order_id))
    return found is not None


def _version(event: Any) -> str:
    # Fixed-width sequence so that text comparison orders versions like (sequence, time) tuples.
    return f"{event.sequence:012d}|{event.occurred_at.isoformat()}"


async def on_buyer_updated(event: BuyerUpdatedV1, tx: Tx) -> None:
    """A buyer's managers (a full snapshot): replaces what was known, unless an older snapshot arrives late."""
    d = event.data
    tenant, buyer_id, version = str(event.tenant_id), str(d.buyer_id), _version(event)
    where = (access_buyers.c.tenant_id == tenant, access_buyers.c.buyer_id == buyer_id)
    current = await tx.conn.scalar(sa.select(access_buyers.c.version).where(*where))
    if current is not None and current >= version:
        return
    if current is None:
        await tx.conn.execute(
            access_buyers.insert().values(tenant_id=tenant, buyer_id=buyer_id, version=version, name=d.name)
        )
    else:
        await tx.conn.execute(access_buyers.update().where(*where).values(version=version, name=d.name))
    await tx.conn.execute(
        access_buyer_managers.delete().where(
            access_buyer_managers.c.tenant_id == tenant, access_buyer_managers.c.buyer_id == buyer_id
        )
    )
    managers = [] if d.deleted else sorted({str(u) for u in d.manager_user_ids})
    if managers:
        await tx.conn.execute(
            access_buyer_managers.insert(),
            [{"tenant_id": tenant, "buyer_id": buyer_id, "user_id": u} for u in managers],
        )


async def remember_order_buyer(tx: Tx, tenant_id: str, order_id: str, buyer_id: str, number: str = "") -> None:
    where = (access_order_buyers.c.tenant_id == tenant_id, access_order_buyers.c.order_id == order_id)
    current = (
        await tx.conn.execute(sa.select(access_order_buyers.c.buyer_id, access_order_buyers.c.number).where(*where))
    ).first()
    if current is None:
        await tx.conn.execute(
            access_order_buyers.insert().values(
                tenant_id=tenant_id, order_id=order_id, buyer_id=buyer_id, number=number
            )
        )
    elif (current.buyer_id, current.number) != (buyer_id, number or current.number):
        values = {"buyer_id": buyer_id, **({"number": number} if number else {})}
        await tx.conn.execute(access_order_buyers.update().where(*where).values(**values))


def order_names(order_id: Any, tenant_id: Any) -> tuple[Any, Any]:
    """Scalar subqueries of an order's number and its buyer's name (from the replicas; "" when not known yet)."""
    number = (
        sa.select(access_order_buyers.c.number)
        .where(access_order_buyers.c.tenant_id == tenant_id, access_order_buyers.c.order_id == order_id)
        .scalar_subquery()
    )
    buyer_name = (
        sa.select(access_buyers.c.name)
        .join(
            access_order_buyers,
            sa.and_(
                access_order_buyers.c.tenant_id == access_buyers.c.tenant_id,
                access_order_buyers.c.buyer_id == access_buyers.c.buyer_id,
            ),
        )
        .where(access_order_buyers.c.tenant_id == tenant_id, access_order_buyers.c.order_id == order_id)
        .scalar_subquery()
    )
    return sa.func.coalesce(number, "").label("order_number"), sa.func.coalesce(buyer_name, "").label("buyer_name")


def remembering_buyer(handler: Callable[[E, Tx], Awaitable[None]]) -> Callable[[E, Tx], Awaitable[None]]:
    """``handler``, after noting the order's buyer in the same transaction (so both apply or neither)."""

    async def handle(event: E, tx: Tx) -> None:
        d = event.data
        await remember_order_buyer(tx, str(event.tenant_id), str(d.order_id), str(d.buyer_id), d.number)
        await handler(event, tx)

    handle.__name__ = getattr(handler, "__name__", "handle")
    handle.__doc__ = handler.__doc__
    return handle
