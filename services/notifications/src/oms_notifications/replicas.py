"""Use cases that keep the recipients replica: accounts with their users, buyers with their managers."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_notifications.db import accounts, buyer_managers, buyers, users
from oms_notifications.domain import normalize_locale
from oms_shared.contracts import AccountUpdatedV1, BuyerUpdatedV1
from oms_shared.db import Tx


async def upsert(conn: AsyncConnection, table: sa.Table, key: dict[str, Any], values: dict[str, Any]) -> None:
    where = sa.and_(*(table.c[k] == v for k, v in key.items()))
    updated = await conn.execute(table.update().where(where).values(**values))
    if updated.rowcount == 0:
        await conn.execute(table.insert().values(**key, **values))


async def apply_account(event: AccountUpdatedV1, tx: Tx) -> None:
    """Keep the account's users (e-mail, locale, access) as of the newest snapshot seen."""
    data = event.data
    account_id = str(data.account_id)
    current = (await tx.conn.execute(sa.select(accounts).where(accounts.c.account_id == account_id))).first()
    if current is not None and (current.version_at, current.version_seq) > (event.occurred_at, event.sequence):
        return  # an older snapshot arriving late must not undo a newer one
    await upsert(
        tx.conn,
        accounts,
        {"account_id": account_id},
        {"kind": data.kind, "name": data.name, "version_at": event.occurred_at, "version_seq": event.sequence},
    )
    keep = [str(u.user_id) for u in data.users]
    await tx.conn.execute(
        users.update().where(users.c.account_id == account_id, users.c.user_id.not_in(keep)).values(active=False)
    )
    for user in data.users:
        await upsert(
            tx.conn,
            users,
            {"user_id": str(user.user_id)},
            {
                "account_id": account_id,
                "email": user.email,
                "name": user.name,
                "locale": normalize_locale(user.locale),
                "is_owner": user.is_owner,
                "active": user.active,
                "access_orders": user.access_orders.value,
                "restricted": user.restricted_to_own_buyers,
            },
        )


async def apply_buyer(event: BuyerUpdatedV1, tx: Tx) -> None:
    """Keep the buyer's account link and its responsible managers."""
    data = event.data
    buyer_id = str(data.buyer_id)
    await upsert(
        tx.conn,
        buyers,
        {"buyer_id": buyer_id},
        {
            "tenant_id": str(event.tenant_id),
            "buyer_account_id": str(data.buyer_account_id) if data.buyer_account_id else None,
            "name": data.name,
            "deleted": data.deleted,
        },
    )
    await tx.conn.execute(buyer_managers.delete().where(buyer_managers.c.buyer_id == buyer_id))
    managers = sorted({str(m) for m in data.manager_user_ids})
    if managers:
        await tx.conn.execute(buyer_managers.insert(), [{"buyer_id": buyer_id, "user_id": m} for m in managers])
