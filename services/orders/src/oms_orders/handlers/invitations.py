"""Inviting a buyer company by e-mail: the link registers a new buyer account, or a signed-in one accepts it;
either way the supplier's buyer record gets the account (``buyer_account_id``), nobody copies UUIDs."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from oms_orders import schemas
from oms_orders.db import accounts, buyer_invitations, buyers, users
from oms_orders.handlers.catalog import buyer_for, link_buyer_record
from oms_orders.handlers.common import iso
from oms_orders.handlers.identity import (
    TokenPolicy,
    _email_free,
    _secret_hash,
    normalize_email,
    publish_account,
)
from oms_shared.auth import Principal
from oms_shared.contracts import BuyerInvitedData, BuyerInvitedV1, make_event
from oms_shared.db import Database, Tx, utcnow
from oms_shared.errors import Conflict, NotFound
from oms_shared.passwords import hash_password

PRODUCER = "orders"


def _invitation_json(row: Any) -> dict[str, Any]:
    return {
        "invitation_id": row.id,
        "buyer_id": row.buyer_id,
        "email": row.email,
        "created_at": iso(row.created_at),
        "expires_at": iso(row.expires_at),
        "accepted_at": iso(row.accepted_at),
    }


async def invite(
    db: Database, principal: Principal, buyer_id: uuid.UUID, cmd: schemas.InvitationIn, policy: TokenPolicy
) -> dict[str, Any]:
    """Invite the buyer record's company: notifications e-mails the one-time link (the token goes nowhere else)."""
    principal.require("buyers", "change")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    expires_at = now + timedelta(seconds=policy.invitation_ttl_s)
    email = normalize_email(cmd.email)
    async with db.transaction() as tx:
        buyer = await buyer_for(tx.conn, principal, buyer_id)
        if buyer.deleted:
            raise NotFound(f"buyer {buyer_id} does not exist", code="buyer_not_found")
        if buyer.buyer_account_id:
            raise Conflict("this buyer is already linked to its account", code="buyer_already_linked")
        invitation_id = str(uuid.uuid4())
        await tx.conn.execute(
            buyer_invitations.insert().values(
                id=invitation_id,
                token_hash=_secret_hash(token),
                supplier_id=buyer.supplier_id,
                buyer_id=buyer.id,
                email=email,
                invited_by_user_id=str(principal.user_id),
                created_at=now,
                expires_at=expires_at,
            )
        )
        supplier_name = await tx.conn.scalar(sa.select(accounts.c.name).where(accounts.c.id == buyer.supplier_id))
        inviter = await tx.conn.scalar(sa.select(users.c.name).where(users.c.id == str(principal.user_id)))
        await tx.publish(
            make_event(
                BuyerInvitedV1,
                tenant_id=uuid.UUID(buyer.supplier_id),
                aggregate_id=buyer.id,
                data=BuyerInvitedData(
                    invitation_id=uuid.UUID(invitation_id),
                    buyer_id=uuid.UUID(buyer.id),
                    buyer_name=buyer.name,
                    supplier_name=supplier_name or "",
                    email=email,
                    locale=cmd.locale,
                    invited_by_name=inviter or "",
                    token=token,
                    expires_at=expires_at,
                ),
                producer=PRODUCER,
            )
        )
        row = (await tx.conn.execute(sa.select(buyer_invitations).where(buyer_invitations.c.id == invitation_id))).one()
        return _invitation_json(row)


async def list_invitations(db: Database, principal: Principal, buyer_id: uuid.UUID) -> dict[str, Any]:
    principal.require("buyers", "read")
    async with db.read() as conn:
        buyer = await buyer_for(conn, principal, buyer_id)
        rows = (
            await conn.execute(
                sa.select(buyer_invitations)
                .where(buyer_invitations.c.buyer_id == buyer.id)
                .order_by(buyer_invitations.c.created_at.desc(), buyer_invitations.c.id)
            )
        ).all()
    return {"items": [_invitation_json(r) for r in rows]}


async def _open(tx_or_conn: Any, token: str, *, lock: bool = False) -> Any:
    """The invitation of a token: unused and not expired, its buyer record still without an account; else 404
    (one answer for every reason, so a guessed token learns nothing)."""
    stmt = (
        sa.select(buyer_invitations, buyers.c.name.label("buyer_name"), buyers.c.inn, buyers.c.kpp)
        .join(buyers, buyers.c.id == buyer_invitations.c.buyer_id)
        .where(
            buyer_invitations.c.token_hash == _secret_hash(token),
            buyer_invitations.c.accepted_at.is_(None),
            buyer_invitations.c.expires_at > utcnow(),
            buyers.c.buyer_account_id.is_(None),
            buyers.c.deleted.is_(False),
        )
    )
    if lock:
        stmt = stmt.with_for_update(of=buyer_invitations)
    row = (await tx_or_conn.execute(stmt)).first()
    if row is None:
        raise NotFound(
            "this invitation is not valid, was used or has expired; ask the supplier for a new one",
            code="invitation_not_found",
        )
    return row


async def show(db: Database, token: str) -> dict[str, Any]:
    """What the invitation page shows before signing up or in (no sign-in needed; the token is the key)."""
    async with db.read() as conn:
        row = await _open(conn, token)
        supplier_name = await conn.scalar(sa.select(accounts.c.name).where(accounts.c.id == row.supplier_id))
    return {
        "supplier_name": supplier_name or "",
        "buyer_name": row.buyer_name,
        "inn": row.inn,
        "kpp": row.kpp,
        "email": row.email,
        "expires_at": iso(row.expires_at),
    }


async def _accept(tx: Tx, row: Any, account_id: str) -> str:
    taken = await tx.conn.scalar(
        sa.select(buyers.c.id).where(buyers.c.supplier_id == row.supplier_id, buyers.c.buyer_account_id == account_id)
    )
    if taken:
        raise Conflict("your account already is a buyer of this supplier", code="buyer_exists")
    if not await link_buyer_record(tx, row.buyer_id, account_id):
        raise NotFound(
            "this invitation is not valid, was used or has expired; ask the supplier for a new one",
            code="invitation_not_found",
        )
    await tx.conn.execute(
        buyer_invitations.update()
        .where(buyer_invitations.c.id == row.id)
        .values(accepted_at=utcnow(), accepted_account_id=account_id)
    )
    return str(row.buyer_id)


async def register(db: Database, token: str, cmd: schemas.InvitationRegistrationIn) -> dict[str, str]:
    """A new buyer account and owner through the invitation: the invited buyer record gets the account.
    Company name, INN and KPP default to the supplier's record of the buyer."""
    email = normalize_email(cmd.email)
    password_hash = await asyncio.to_thread(hash_password, cmd.password)
    account_id, user_id = str(uuid.uuid4()), str(uuid.uuid4())
    now = utcnow()
    async with db.transaction() as tx:
        row = await _open(tx.conn, token, lock=True)
        await _email_free(tx.conn, email)
        await tx.conn.execute(
            accounts.insert().values(
                id=account_id,
                kind="buyer",
                name=cmd.company_name or row.buyer_name,
                inn=cmd.inn if cmd.inn is not None else row.inn,
                kpp=cmd.kpp if cmd.kpp is not None else row.kpp,
                created_at=now,
                version=0,
            )
        )
        await tx.conn.execute(
            users.insert().values(
                id=user_id,
                account_id=account_id,
                email=email,
                password_hash=password_hash,
                name=cmd.name,
                locale=cmd.locale,
                is_owner=True,
                access_buyers="full",
                access_orders="full",
                created_at=now,
            )
        )
        await publish_account(tx, account_id)
        buyer_id = await _accept(tx, row, account_id)
    return {"account_id": account_id, "user_id": user_id, "buyer_id": buyer_id}


async def accept(db: Database, principal: Principal, token: str) -> dict[str, str]:
    """A signed-in buyer (its owner, or a user who manages its buyers' side) accepts: the record gets its account."""
    principal.require_buyer()
    async with db.transaction() as tx:
        row = await _open(tx.conn, token, lock=True)
        buyer_id = await _accept(tx, row, str(principal.account_id))
    return {"account_id": str(principal.account_id), "buyer_id": buyer_id}
