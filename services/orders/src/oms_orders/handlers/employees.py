"""Inviting an employee by e-mail (R-ACC-1): the owner (or a user manager) chooses the access; the person gets a
one-time link, sets their password there and is a user of the account with exactly that access. Nobody types
another person's password."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_orders import schemas
from oms_orders.db import accounts, employee_invitations, users
from oms_orders.handlers.common import iso
from oms_orders.handlers.identity import (
    USER_ADMIN_DENIED,
    TokenPolicy,
    _acting_user,
    _email_free,
    _grant_of,
    _may_manage_users,
    _secret_hash,
    _within_own_level,
    normalize_email,
    publish_account,
)
from oms_shared.auth import Principal
from oms_shared.contracts import EmployeeInvitedData, EmployeeInvitedV1, make_event
from oms_shared.db import Database, utcnow
from oms_shared.errors import Forbidden, NotFound
from oms_shared.passwords import hash_password

PRODUCER = "orders"
NOT_VALID = "this invitation is not valid, was used or has expired; ask for a new one"


def _invitation_json(row: Any) -> dict[str, Any]:
    return {
        "invitation_id": row.id,
        "email": row.email,
        "name": row.name,
        "access_buyers": row.access_buyers,
        "access_orders": row.access_orders,
        "restricted_to_own_buyers": row.restricted_to_own_buyers,
        "manage_users": row.manage_users,
        "created_at": iso(row.created_at),
        "expires_at": iso(row.expires_at),
        "accepted_at": iso(row.accepted_at),
    }


async def invite(
    db: Database, principal: Principal, cmd: schemas.EmployeeInvitationIn, policy: TokenPolicy
) -> dict[str, Any]:
    """Invite an employee with the access chosen now; notifications e-mails the link (the token goes nowhere else).
    The same rules as adding a user: only who manages users, never above their own level, an unused e-mail."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    expires_at = now + timedelta(seconds=policy.invitation_ttl_s)
    email = normalize_email(cmd.email)
    account_id = str(principal.account_id)
    async with db.transaction() as tx:
        actor = await _acting_user(tx.conn, principal)
        if not _may_manage_users(actor):
            raise Forbidden(USER_ADMIN_DENIED, code="access_denied")
        _within_own_level(actor, _grant_of(cmd))
        await _email_free(tx.conn, email)
        invitation_id = str(uuid.uuid4())
        await tx.conn.execute(
            employee_invitations.insert().values(
                id=invitation_id,
                token_hash=_secret_hash(token),
                account_id=account_id,
                email=email,
                name=cmd.name,
                locale=cmd.locale,
                access_buyers=cmd.access_buyers,
                access_orders=cmd.access_orders,
                restricted_to_own_buyers=cmd.restricted_to_own_buyers,
                manage_users=cmd.manage_users,
                invited_by_user_id=actor.id,
                created_at=now,
                expires_at=expires_at,
            )
        )
        account_name = await tx.conn.scalar(sa.select(accounts.c.name).where(accounts.c.id == account_id))
        await tx.publish(
            make_event(
                EmployeeInvitedV1,
                tenant_id=uuid.UUID(account_id),
                aggregate_id=invitation_id,
                data=EmployeeInvitedData(
                    invitation_id=uuid.UUID(invitation_id),
                    account_name=account_name or "",
                    email=email,
                    name=cmd.name,
                    locale=cmd.locale,
                    invited_by_name=actor.name,
                    token=token,
                    expires_at=expires_at,
                ),
                producer=PRODUCER,
            )
        )
        row = (
            await tx.conn.execute(sa.select(employee_invitations).where(employee_invitations.c.id == invitation_id))
        ).one()
    return _invitation_json(row)


async def list_pending(db: Database, principal: Principal) -> dict[str, Any]:
    """Invitations of the caller's account not yet accepted nor expired (for those who manage users)."""
    async with db.read() as conn:
        actor = await _acting_user(conn, principal)
        if not _may_manage_users(actor):
            raise Forbidden(USER_ADMIN_DENIED, code="access_denied")
        rows = (
            await conn.execute(
                sa.select(employee_invitations)
                .where(
                    employee_invitations.c.account_id == actor.account_id,
                    employee_invitations.c.accepted_at.is_(None),
                    employee_invitations.c.expires_at > utcnow(),
                )
                .order_by(employee_invitations.c.created_at.desc(), employee_invitations.c.id)
            )
        ).all()
    return {"items": [_invitation_json(r) for r in rows]}


async def _open(conn: AsyncConnection, token: str, *, lock: bool = False) -> Any:
    """The invitation of a token: unused and not expired; else 404 (one answer for every reason)."""
    stmt = sa.select(employee_invitations).where(
        employee_invitations.c.token_hash == _secret_hash(token),
        employee_invitations.c.accepted_at.is_(None),
        employee_invitations.c.expires_at > utcnow(),
    )
    if lock:
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).first()
    if row is None:
        raise NotFound(NOT_VALID, code="invitation_not_found")
    return row


async def show(db: Database, token: str) -> dict[str, Any]:
    """What the invitation page shows before the password is set (no sign-in; the token is the key)."""
    async with db.read() as conn:
        row = await _open(conn, token)
        account_name = await conn.scalar(sa.select(accounts.c.name).where(accounts.c.id == row.account_id))
    return {"account_name": account_name or "", **_invitation_json(row)}


async def accept(db: Database, token: str, cmd: schemas.EmployeeInvitationAcceptIn) -> dict[str, str]:
    """The invited person sets a password: a user of the account with the access of the invitation.
    Then they sign in with their e-mail and that password."""
    password_hash = await asyncio.to_thread(hash_password, cmd.password)
    user_id = str(uuid.uuid4())
    now = utcnow()
    async with db.transaction() as tx:
        row = await _open(tx.conn, token, lock=True)
        await _email_free(tx.conn, row.email)
        await tx.conn.execute(
            users.insert().values(
                id=user_id,
                account_id=row.account_id,
                email=row.email,
                password_hash=password_hash,
                name=cmd.name if cmd.name else row.name,
                locale=row.locale,
                is_owner=False,
                access_buyers=row.access_buyers,
                access_orders=row.access_orders,
                restricted_to_own_buyers=row.restricted_to_own_buyers,
                manage_users=row.manage_users,
                created_at=now,
            )
        )
        await tx.conn.execute(
            employee_invitations.update()
            .where(employee_invitations.c.id == row.id)
            .values(accepted_at=now, accepted_user_id=user_id)
        )
        await publish_account(tx, row.account_id)
    return {"account_id": row.account_id, "user_id": user_id, "email": row.email}
