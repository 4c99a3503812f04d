"""Accounts, users, sign-in tokens (R-ACC-1) and the account snapshots other services replicate."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_orders import schemas
from oms_orders.db import accounts, users
from oms_shared.auth import Principal, issue_token
from oms_shared.contracts import AccessLevel, AccountUpdatedData, AccountUpdatedV1, UserInfo, make_event
from oms_shared.db import Database, Tx, utcnow
from oms_shared.errors import Conflict, Forbidden, NotFound, Unauthorized
from oms_shared.passwords import check_password, hash_password

PRODUCER = "orders"


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def publish_account(tx: Tx, account_id: str) -> None:
    """Publish the account with all its users (full snapshot) after any change to them."""
    account = (await tx.conn.execute(sa.select(accounts).where(accounts.c.id == account_id))).one()
    rows = (
        await tx.conn.execute(sa.select(users).where(users.c.account_id == account_id).order_by(users.c.email))
    ).all()
    version = account.version + 1
    await tx.conn.execute(accounts.update().where(accounts.c.id == account_id).values(version=version))
    data = AccountUpdatedData(
        account_id=uuid.UUID(account_id),
        kind=account.kind,
        name=account.name,
        users=[
            UserInfo(
                user_id=uuid.UUID(u.id),
                email=u.email,
                name=u.name,
                locale=u.locale,
                is_owner=u.is_owner,
                active=u.active,
                access_buyers=AccessLevel(u.access_buyers),
                access_orders=AccessLevel(u.access_orders),
                restricted_to_own_buyers=u.restricted_to_own_buyers,
            )
            for u in rows
        ],
    )
    await tx.publish(
        make_event(
            AccountUpdatedV1,
            tenant_id=uuid.UUID(account_id),
            aggregate_id=account_id,
            data=data,
            sequence=version,
            producer=PRODUCER,
        )
    )


async def _email_free(conn: AsyncConnection, email: str) -> None:
    if await conn.scalar(sa.select(users.c.id).where(users.c.email == email)):
        raise Conflict(f"a user with e-mail {email} already exists", code="email_taken")


async def create_account(db: Database, cmd: schemas.AccountIn) -> dict[str, str]:
    """A new supplier (tenant) or buyer account with its owner."""
    email = normalize_email(cmd.owner.email)
    password_hash = await asyncio.to_thread(hash_password, cmd.owner.password)
    account_id, user_id = str(uuid.uuid4()), str(uuid.uuid4())
    now = utcnow()
    async with db.transaction() as tx:
        await _email_free(tx.conn, email)
        await tx.conn.execute(
            accounts.insert().values(
                id=account_id, kind=cmd.kind, name=cmd.name, inn=cmd.inn, kpp=cmd.kpp, created_at=now, version=0
            )
        )
        await tx.conn.execute(
            users.insert().values(
                id=user_id,
                account_id=account_id,
                email=email,
                password_hash=password_hash,
                name=cmd.owner.name,
                locale=cmd.owner.locale,
                is_owner=True,
                access_buyers="full",
                access_orders="full",
                created_at=now,
            )
        )
        await publish_account(tx, account_id)
    return {"account_id": account_id, "user_id": user_id}


def principal_of(user: sa.Row[Any], account: sa.Row[Any]) -> Principal:
    return Principal(
        user_id=uuid.UUID(user.id),
        account_id=uuid.UUID(account.id),
        account_kind=account.kind,
        is_owner=user.is_owner,
        access={"buyers": user.access_buyers, "orders": user.access_orders},
        restricted_to_own_buyers=user.restricted_to_own_buyers,
        name=user.name,
    )


async def sign_in(db: Database, cmd: schemas.TokenIn, private_key_pem: bytes, ttl_s: int) -> dict[str, Any]:
    from datetime import timedelta

    async with db.read() as conn:
        user = (await conn.execute(sa.select(users).where(users.c.email == normalize_email(cmd.email)))).first()
        account = None
        if user is not None:
            account = (await conn.execute(sa.select(accounts).where(accounts.c.id == user.account_id))).one()
    # Check a hash even for an unknown e-mail so timing does not reveal which e-mails exist.
    stored = user.password_hash if user is not None else hash_password("-")
    ok = await asyncio.to_thread(check_password, cmd.password, stored)
    if user is None or account is None or not ok or not user.active:
        raise Unauthorized("wrong e-mail or password", code="invalid_credentials")
    token = issue_token(private_key_pem, principal_of(user, account), ttl=timedelta(seconds=ttl_s))
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": ttl_s,
        "user_id": user.id,
        "account_id": account.id,
        "account_kind": account.kind,
    }


def user_json(u: sa.Row[Any]) -> dict[str, Any]:
    return {
        "user_id": u.id,
        "email": u.email,
        "name": u.name,
        "locale": u.locale,
        "is_owner": u.is_owner,
        "active": u.active,
        "access_buyers": "full" if u.is_owner else u.access_buyers,
        "access_orders": "full" if u.is_owner else u.access_orders,
        "restricted_to_own_buyers": u.restricted_to_own_buyers,
    }


async def me(db: Database, principal: Principal) -> dict[str, Any]:
    async with db.read() as conn:
        user = (await conn.execute(sa.select(users).where(users.c.id == str(principal.user_id)))).first()
        account = (await conn.execute(sa.select(accounts).where(accounts.c.id == str(principal.account_id)))).first()
    if user is None or account is None or not user.active:
        raise Unauthorized("this user no longer exists or is disabled", code="invalid_token")
    return {
        "user": user_json(user),
        "account": {
            "account_id": account.id,
            "kind": account.kind,
            "name": account.name,
            "inn": account.inn,
            "kpp": account.kpp,
        },
        "access": {"buyers": user_json(user)["access_buyers"], "orders": user_json(user)["access_orders"]},
    }


def _require_user_admin(principal: Principal) -> None:
    if principal.is_owner:
        return
    if principal.is_supplier and principal.has("buyers", "full"):
        return
    raise Forbidden("only the owner (or a user with full access to buyers) manages users", code="access_denied")


async def create_user(db: Database, principal: Principal, cmd: schemas.UserIn) -> dict[str, str]:
    _require_user_admin(principal)
    email = normalize_email(cmd.email)
    password_hash = await asyncio.to_thread(hash_password, cmd.password)
    user_id = str(uuid.uuid4())
    async with db.transaction() as tx:
        await _email_free(tx.conn, email)
        await tx.conn.execute(
            users.insert().values(
                id=user_id,
                account_id=str(principal.account_id),
                email=email,
                password_hash=password_hash,
                name=cmd.name,
                locale=cmd.locale,
                is_owner=False,
                access_buyers=cmd.access_buyers,
                access_orders=cmd.access_orders,
                restricted_to_own_buyers=cmd.restricted_to_own_buyers,
                created_at=utcnow(),
            )
        )
        await publish_account(tx, str(principal.account_id))
    return {"user_id": user_id}


async def list_users(db: Database, principal: Principal) -> dict[str, Any]:
    async with db.read() as conn:
        rows = (
            await conn.execute(
                sa.select(users).where(users.c.account_id == str(principal.account_id)).order_by(users.c.email)
            )
        ).all()
    items = [user_json(u) for u in rows]
    return {"items": items, "total": len(items), "limit": len(items), "offset": 0}


async def update_user(db: Database, principal: Principal, user_id: uuid.UUID, cmd: schemas.UserPatch) -> dict[str, Any]:
    _require_user_admin(principal)
    changes = cmd.model_dump(exclude_unset=True)
    async with db.transaction() as tx:
        user = (await tx.conn.execute(sa.select(users).where(users.c.id == str(user_id)))).first()
        if user is None or user.account_id != str(principal.account_id):
            raise NotFound(f"user {user_id} does not exist", code="user_not_found")
        if user.is_owner and (changes.get("active") is False):
            raise Conflict("the owner cannot be disabled", code="owner_required")
        if changes:
            await tx.conn.execute(users.update().where(users.c.id == str(user_id)).values(**changes))
            await publish_account(tx, user.account_id)
        user = (await tx.conn.execute(sa.select(users).where(users.c.id == str(user_id)))).one()
    return user_json(user)
