"""Link access to a price list (R-IN-2): open by link, a short registration form, then a buyer of that supplier."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_orders import schemas
from oms_orders.db import accounts, buyers, price_list_buyers, price_lists, users
from oms_orders.handlers.catalog import (
    _publish_buyer,
    _publish_price_list,
    link_buyer_records_by_inn,
    price_list_json,
)
from oms_orders.handlers.common import fold
from oms_orders.handlers.identity import _email_free, normalize_email, publish_account
from oms_shared.auth import Principal
from oms_shared.db import Database, Tx, utcnow
from oms_shared.errors import NotFound
from oms_shared.passwords import hash_password


async def _own_price_list(tx: Tx, principal: Principal, price_list_id: uuid.UUID) -> Any:
    principal.require("orders", "change")
    row = (await tx.conn.execute(sa.select(price_lists).where(price_lists.c.id == str(price_list_id)))).first()
    if row is None or row.deleted or str(row.supplier_id) != str(principal.account_id):
        raise NotFound(f"price list {price_list_id} does not exist", code="price_list_not_found")
    return row


async def create_link(
    db: Database, principal: Principal, price_list_id: uuid.UUID, *, regenerate: bool = False
) -> dict[str, str]:
    """Switch the list's link on (the same link while it is on); ``regenerate`` makes a new one, the old
    one stops working at once."""
    async with db.transaction() as tx:
        row = await _own_price_list(tx, principal, price_list_id)
        token = row.link_token if row.link_token and not regenerate else secrets.token_urlsafe(24)
        await tx.conn.execute(price_lists.update().where(price_lists.c.id == row.id).values(link_token=token))
    return {"price_list_id": str(price_list_id), "link_token": token, "path": f"/api/v1/links/{token}"}


async def delete_link(db: Database, principal: Principal, price_list_id: uuid.UUID) -> None:
    """Switch the link off: it opens nothing and registers nobody; switching it on again makes a new link.
    Buyers who already joined through it keep their access."""
    async with db.transaction() as tx:
        row = await _own_price_list(tx, principal, price_list_id)
        await tx.conn.execute(price_lists.update().where(price_lists.c.id == row.id).values(link_token=None))


async def _by_token(conn: AsyncConnection, token: str) -> sa.Row[Any]:
    row = (await conn.execute(sa.select(price_lists).where(price_lists.c.link_token == token))).first()
    if row is None or row.deleted or not token:
        raise NotFound("this link is not valid", code="link_not_found")
    return row


async def open_link(db: Database, token: str) -> dict[str, Any]:
    """What an unregistered visitor sees: the price list without its buyers."""
    async with db.read() as conn:
        row = await _by_token(conn, token)
        body = await price_list_json(conn, row, with_buyers=False)
    return body


async def _grant(tx: Tx, supplier_id: str, price_list_id: str, account_id: str, name: str, inn: str, kpp: str) -> str:
    """Make ``account_id`` a buyer of the supplier (once) with access to the price list.

    Holds the price list's lock like every change of its buyers, and moves its version on when the buyer is new
    on it: a replacement prepared before the join is refused as stale (412) instead of dropping the buyer."""
    await tx.conn.execute(sa.select(price_lists.c.id).where(price_lists.c.id == price_list_id).with_for_update())
    buyer = (
        await tx.conn.execute(
            sa.select(buyers).where(buyers.c.supplier_id == supplier_id, buyers.c.buyer_account_id == account_id)
        )
    ).first()
    now = utcnow()
    if buyer is None:
        buyer_id = str(uuid.uuid4())
        await tx.conn.execute(
            buyers.insert().values(
                id=buyer_id,
                supplier_id=supplier_id,
                buyer_account_id=account_id,
                name=name,
                name_search=fold(name),
                inn=inn,
                kpp=kpp,
                manager_user_ids="[]",
                created_at=now,
                updated_at=now,
            )
        )
    else:
        buyer_id = buyer.id
    if not await tx.conn.scalar(
        sa.select(price_list_buyers.c.buyer_id).where(
            price_list_buyers.c.price_list_id == price_list_id, price_list_buyers.c.buyer_id == buyer_id
        )
    ):
        await tx.conn.execute(price_list_buyers.insert().values(price_list_id=price_list_id, buyer_id=buyer_id))
        await _publish_price_list(tx, price_list_id, bump=True)
    await _publish_buyer(tx, buyer_id)
    return buyer_id


async def register_by_link(
    db: Database, token: str, cmd: schemas.LinkRegistrationIn, *, link_by_inn: bool = True
) -> dict[str, str]:
    """The short form: a new buyer account and owner, a buyer record at the supplier, access to the list.
    A buyer record of its INN/KPP without an account (at this supplier or another) is linked, not duplicated."""
    email = normalize_email(cmd.email)
    password_hash = await asyncio.to_thread(hash_password, cmd.password)
    account_id, user_id = str(uuid.uuid4()), str(uuid.uuid4())
    now = utcnow()
    async with db.transaction() as tx:
        row = await _by_token(tx.conn, token)
        await _email_free(tx.conn, email)
        await tx.conn.execute(
            accounts.insert().values(
                id=account_id, kind="buyer", name=cmd.company_name, inn=cmd.inn, kpp=cmd.kpp, created_at=now, version=0
            )
        )
        await tx.conn.execute(
            users.insert().values(
                id=user_id,
                account_id=account_id,
                email=email,
                password_hash=password_hash,
                name=cmd.name,
                is_owner=True,
                access_buyers="full",
                access_orders="full",
                created_at=now,
            )
        )
        await publish_account(tx, account_id)
        if link_by_inn:
            await link_buyer_records_by_inn(tx, account_id, cmd.inn, cmd.kpp)
        buyer_id = await _grant(tx, row.supplier_id, row.id, account_id, cmd.company_name, cmd.inn, cmd.kpp)
    return {"account_id": account_id, "user_id": user_id, "buyer_id": buyer_id, "price_list_id": row.id}


async def join_by_link(db: Database, principal: Principal, token: str) -> dict[str, str]:
    """A registered buyer opening a link becomes a buyer of that supplier too."""
    principal.require_buyer()
    async with db.transaction() as tx:
        row = await _by_token(tx.conn, token)
        account = (await tx.conn.execute(sa.select(accounts).where(accounts.c.id == str(principal.account_id)))).one()
        buyer_id = await _grant(tx, row.supplier_id, row.id, account.id, account.name, account.inn, account.kpp)
    return {"buyer_id": buyer_id, "price_list_id": row.id}
