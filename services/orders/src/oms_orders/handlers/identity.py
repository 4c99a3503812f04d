"""Accounts, users, sign-in tokens (R-ACC-1) and the account snapshots other services replicate."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_orders import schemas
from oms_orders.db import accounts, buyer_invitations, employee_invitations, password_resets, sessions, users
from oms_orders.handlers.catalog import link_buyer_records_by_inn
from oms_shared.auth import LEVELS, Principal, issue_token
from oms_shared.contracts import (
    AccessLevel,
    AccountUpdatedData,
    AccountUpdatedV1,
    UserInfo,
    UserPasswordResetRequestedData,
    UserPasswordResetRequestedV1,
    make_event,
)
from oms_shared.db import Database, Tx, utcnow
from oms_shared.errors import Conflict, Forbidden, Invalid, NotFound, OmsError, Unauthorized
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


async def create_account(db: Database, cmd: schemas.AccountIn, *, link_by_inn: bool = True) -> dict[str, Any]:
    """A new supplier (tenant) or buyer account with its owner. A buyer company is linked to the suppliers' buyer
    records of its INN/KPP that have no account yet (``linked_buyer_ids``), unless ``link_by_inn`` is off."""
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
        linked: list[str] = []
        if cmd.kind == "buyer" and link_by_inn:
            linked = await link_buyer_records_by_inn(tx, account_id, cmd.inn, cmd.kpp)
    body: dict[str, Any] = {"account_id": account_id, "user_id": user_id}
    if cmd.kind == "buyer":
        body["linked_buyer_ids"] = linked
    return body


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


@dataclass(frozen=True)
class TokenPolicy:
    """How orders signs people in: short access tokens, renewed with a refresh token of a session."""

    private_key_pem: bytes
    access_ttl_s: int = 60
    session_ttl_s: int = 12 * 3600
    password_reset_ttl_s: int = 3600
    invitation_ttl_s: int = 7 * 24 * 3600
    link_buyers_by_inn: bool = True


_dummy_hash: str | None = None


async def _check_password(password: str, stored: str | None) -> bool:
    """Check a password off the event loop; an unknown user costs as much as a known one."""
    global _dummy_hash
    if stored is None:
        if _dummy_hash is None:
            _dummy_hash = await asyncio.to_thread(hash_password, "-")
        stored = _dummy_hash
    return await asyncio.to_thread(check_password, password, stored)


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _token_answer(
    policy: TokenPolicy, user: sa.Row[Any], account: sa.Row[Any], session_id: str, secret: str, expires_at: datetime
) -> dict[str, Any]:
    token = issue_token(
        policy.private_key_pem,
        principal_of(user, account),
        ttl=timedelta(seconds=policy.access_ttl_s),
        session_id=session_id,
    )
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": policy.access_ttl_s,
        "refresh_token": f"{session_id}.{secret}",
        "refresh_expires_in": max(0, int((expires_at - utcnow()).total_seconds())),
        "user_id": user.id,
        "account_id": account.id,
        "account_kind": account.kind,
    }


async def sign_in(db: Database, cmd: schemas.TokenIn, policy: TokenPolicy) -> dict[str, Any]:
    """E-mail and password → a session: an access token (short) and a refresh token (R-ACC-1)."""
    async with db.read() as conn:
        user = (await conn.execute(sa.select(users).where(users.c.email == normalize_email(cmd.email)))).first()
        account = None
        if user is not None:
            account = (await conn.execute(sa.select(accounts).where(accounts.c.id == user.account_id))).one()
    ok = await _check_password(cmd.password, user.password_hash if user is not None else None)
    if user is None or account is None or not ok or not user.active:
        raise Unauthorized("wrong e-mail or password", code="invalid_credentials")
    session_id, secret, now = str(uuid.uuid4()), secrets.token_urlsafe(32), utcnow()
    expires_at = now + timedelta(seconds=policy.session_ttl_s)
    async with db.transaction() as tx:
        await tx.conn.execute(
            sessions.insert().values(
                id=session_id, user_id=user.id, secret_hash=_secret_hash(secret), created_at=now, expires_at=expires_at
            )
        )
    return _token_answer(policy, user, account, session_id, secret, expires_at)


SESSION_ENDED = "this session has ended; sign in again"


async def refresh(db: Database, cmd: schemas.RefreshIn, policy: TokenPolicy) -> dict[str, Any]:
    """A refresh token → a new access token with the user's access as it is now, and a new refresh token.

    Refused when the session expired or was ended, or the user was disabled. A refresh token is used once:
    presenting a used one again (someone copied it) ends the session for both holders."""
    session_id, _, secret = cmd.refresh_token.partition(".")
    now = utcnow()
    ended = False
    async with db.transaction() as tx:
        session = (await tx.conn.execute(sa.select(sessions).where(sessions.c.id == session_id))).first()
        if session is None or not secret or session.revoked_at is not None or session.expires_at <= now:
            raise Unauthorized(SESSION_ENDED, code="session_ended")
        user = (await tx.conn.execute(sa.select(users).where(users.c.id == session.user_id))).one()
        account = (await tx.conn.execute(sa.select(accounts).where(accounts.c.id == user.account_id))).one()
        new_secret = secrets.token_urlsafe(32)
        if hmac.compare_digest(session.secret_hash, _secret_hash(secret)) and user.active:
            rotated = await tx.conn.execute(
                sessions.update()
                .where(sessions.c.id == session_id, sessions.c.secret_hash == session.secret_hash)
                .values(secret_hash=_secret_hash(new_secret))
            )
            ended = rotated.rowcount != 1  # a concurrent refresh with the same token won
        else:
            # A used token replayed (someone copied it), or the user was disabled: the session ends, and
            # that is committed before the refusal.
            await tx.conn.execute(sessions.update().where(sessions.c.id == session_id).values(revoked_at=now))
            ended = True
    if ended:
        raise Unauthorized(SESSION_ENDED, code="session_ended")
    return _token_answer(policy, user, account, session_id, new_secret, session.expires_at)


async def end_sessions(conn: AsyncConnection, user_id: str, *, keep: str | None = None) -> None:
    """End every session of a user (but ``keep``): their refresh tokens stop working at once."""
    query = sessions.update().where(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))
    if keep is not None:
        query = query.where(sessions.c.id != keep)
    await conn.execute(query.values(revoked_at=utcnow()))


async def purge_expired(db: Database, keep_s: float = 24 * 3600) -> int:
    """Forget sessions, reset tokens and unused buyer and employee invitations that expired more than ``keep_s``
    ago; how many went (an accepted invitation stays: it tells how the buyer record or the user came to be)."""
    cutoff = utcnow() - timedelta(seconds=keep_s)
    async with db.transaction() as tx:
        gone = (await tx.conn.execute(sessions.delete().where(sessions.c.expires_at < cutoff))).rowcount
        gone += (await tx.conn.execute(password_resets.delete().where(password_resets.c.expires_at < cutoff))).rowcount
        unused = sa.and_(buyer_invitations.c.expires_at < cutoff, buyer_invitations.c.accepted_at.is_(None))
        gone += (await tx.conn.execute(buyer_invitations.delete().where(unused))).rowcount
        unused = sa.and_(employee_invitations.c.expires_at < cutoff, employee_invitations.c.accepted_at.is_(None))
        gone += (await tx.conn.execute(employee_invitations.delete().where(unused))).rowcount
    return int(gone)


async def sign_out(db: Database, principal: Principal) -> None:
    """End the caller's session (its access token lapses within its short lifetime)."""
    if principal.session_id is None:
        return
    async with db.transaction() as tx:
        await tx.conn.execute(
            sessions.update()
            .where(sessions.c.id == principal.session_id, sessions.c.user_id == str(principal.user_id))
            .values(revoked_at=utcnow())
        )


async def change_password(db: Database, principal: Principal, cmd: schemas.PasswordChangeIn) -> None:
    """The user's own password: the old one is required; every other session of the user ends."""
    async with db.read() as conn:
        user = await _acting_user(conn, principal)
    if not await _check_password(cmd.old_password, user.password_hash):
        raise Forbidden("the current password is wrong", code="wrong_password")
    new_hash = await asyncio.to_thread(hash_password, cmd.new_password)
    async with db.transaction() as tx:
        changed = await tx.conn.execute(
            users.update()
            .where(users.c.id == user.id, users.c.password_hash == user.password_hash)
            .values(password_hash=new_hash)
        )
        if changed.rowcount != 1:
            raise Conflict("the password was changed meanwhile; try again", code="conflict")
        await end_sessions(tx.conn, user.id, keep=principal.session_id)


async def request_password_reset(db: Database, cmd: schemas.PasswordResetRequestIn, policy: TokenPolicy) -> None:
    """E-mail a one-time reset link (notifications sends it) — if the address belongs to an active user.
    The answer is the same either way, so it does not tell which addresses exist."""
    email = normalize_email(cmd.email)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    expires_at = now + timedelta(seconds=policy.password_reset_ttl_s)
    async with db.transaction() as tx:
        user = (await tx.conn.execute(sa.select(users).where(users.c.email == email))).first()
        if user is None or not user.active:
            return
        await tx.conn.execute(
            password_resets.insert().values(
                token_hash=_secret_hash(token), user_id=user.id, created_at=now, expires_at=expires_at
            )
        )
        await tx.publish(
            make_event(
                UserPasswordResetRequestedV1,
                tenant_id=uuid.UUID(user.account_id),
                aggregate_id=user.id,
                data=UserPasswordResetRequestedData(
                    user_id=uuid.UUID(user.id),
                    email=user.email,
                    name=user.name,
                    locale=user.locale,
                    token=token,
                    expires_at=expires_at,
                ),
                producer=PRODUCER,
            )
        )


async def reset_password(db: Database, cmd: schemas.PasswordResetIn) -> None:
    """Set a new password with a reset token: once, before it expires; every session of the user ends."""
    new_hash = await asyncio.to_thread(hash_password, cmd.new_password)
    now = utcnow()
    async with db.transaction() as tx:
        used = await tx.conn.execute(
            password_resets.update()
            .where(
                password_resets.c.token_hash == _secret_hash(cmd.token),
                password_resets.c.used_at.is_(None),
                password_resets.c.expires_at > now,
            )
            .values(used_at=now)
            .returning(password_resets.c.user_id)
        )
        user_id = used.scalar_one_or_none()
        if user_id is not None:
            user = (await tx.conn.execute(sa.select(users).where(users.c.id == user_id))).one()
            if user.active:
                await tx.conn.execute(users.update().where(users.c.id == user_id).values(password_hash=new_hash))
                # Other links sent earlier stop working too; so does every session.
                await tx.conn.execute(
                    password_resets.update()
                    .where(password_resets.c.user_id == user_id, password_resets.c.used_at.is_(None))
                    .values(used_at=now)
                )
                await end_sessions(tx.conn, user_id)
            else:
                user_id = None
    if user_id is None:
        raise OmsError(
            "this reset link is not valid, was used or has expired; ask for a new one", code="invalid_reset_token"
        )


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
        "manage_users": bool(u.is_owner or u.manage_users),
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
            # The company profile, as the printed order shows it to the account's people.
            **{
                k: getattr(account, k) for k in ("address", "bank_name", "bic", "bank_account", "correspondent_account")
            },
        },
        "access": {"buyers": user_json(user)["access_buyers"], "orders": user_json(user)["access_orders"]},
    }


USER_ADMIN_DENIED = "only the owner, or an employee allowed to manage users, manages users"


async def _acting_user(conn: AsyncConnection, principal: Principal) -> sa.Row[Any]:
    """The caller's own row as it is now (not as the token froze it)."""
    actor = (await conn.execute(sa.select(users).where(users.c.id == str(principal.user_id)))).first()
    if actor is None or not actor.active or actor.account_id != str(principal.account_id):
        raise Unauthorized("this user no longer exists or is disabled", code="invalid_token")
    return actor


def _may_manage_users(actor: sa.Row[Any]) -> bool:
    return bool(actor.is_owner or actor.manage_users)


def _rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else 0


def _within_own_level(actor: sa.Row[Any], grant: dict[str, Any]) -> None:
    """R-ACC-1: nobody grants more than they have themselves (the owner has everything)."""
    if actor.is_owner:
        return
    for section in ("access_buyers", "access_orders"):
        if _rank(grant[section]) > _rank(getattr(actor, section)):
            raise Forbidden(
                f"you cannot grant '{grant[section]}' {section}: yours is '{getattr(actor, section)}'",
                code="above_own_level",
            )
    if actor.restricted_to_own_buyers and not grant["restricted_to_own_buyers"]:
        raise Forbidden(
            "you are restricted to your own buyers and cannot grant unrestricted access", code="above_own_level"
        )
    if grant["manage_users"] and not actor.manage_users:
        raise Forbidden("you cannot grant the right to manage users", code="above_own_level")


def _grant_of(row: Any) -> dict[str, Any]:
    return {
        "access_buyers": row.access_buyers,
        "access_orders": row.access_orders,
        "restricted_to_own_buyers": row.restricted_to_own_buyers,
        "manage_users": row.manage_users,
    }


async def create_user(db: Database, principal: Principal, cmd: schemas.UserIn) -> dict[str, str]:
    email = normalize_email(cmd.email)
    password_hash = await asyncio.to_thread(hash_password, cmd.password)
    user_id = str(uuid.uuid4())
    async with db.transaction() as tx:
        actor = await _acting_user(tx.conn, principal)
        if not _may_manage_users(actor):
            raise Forbidden(USER_ADMIN_DENIED, code="access_denied")
        _within_own_level(actor, _grant_of(cmd))
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
                manage_users=cmd.manage_users,
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


ACCESS_FIELDS = ("access_buyers", "access_orders", "restricted_to_own_buyers", "manage_users", "active")


async def update_user(db: Database, principal: Principal, user_id: uuid.UUID, cmd: schemas.UserPatch) -> dict[str, Any]:
    """Change an employee: their name and locale (anyone for themselves), access and activity (R-ACC-1).

    Only the owner or an employee allowed to manage users changes access; nobody changes their own
    access, nobody grants above their own level, and only the owner touches someone who has more.
    """
    changes = cmd.model_dump(exclude_unset=True)
    for key in ACCESS_FIELDS:
        if key in changes and changes[key] is None:
            raise Invalid(f"{key} cannot be null", code="invalid_user")
    async with db.transaction() as tx:
        actor = await _acting_user(tx.conn, principal)
        user = (await tx.conn.execute(sa.select(users).where(users.c.id == str(user_id)))).first()
        if user is None or user.account_id != actor.account_id:
            raise NotFound(f"user {user_id} does not exist", code="user_not_found")
        touches_access = any(key in changes for key in ACCESS_FIELDS)
        if user.id == actor.id:
            if touches_access:
                raise Forbidden("nobody changes their own access", code="own_access")
        elif not _may_manage_users(actor):
            raise Forbidden(USER_ADMIN_DENIED, code="access_denied")
        elif not actor.is_owner:
            if user.is_owner:
                raise Forbidden("only the owner changes the owner", code="access_denied")
            try:
                _within_own_level(actor, _grant_of(user))
            except Forbidden as exc:
                raise Forbidden("this user has more access than you", code="above_own_level") from exc
        if user.is_owner and touches_access:
            raise Conflict("the owner always has full access and cannot be disabled", code="owner_required")
        if touches_access:
            _within_own_level(actor, {**_grant_of(user), **changes})
        if changes:
            await tx.conn.execute(users.update().where(users.c.id == str(user_id)).values(**changes))
            if changes.get("active") is False:
                await end_sessions(tx.conn, user.id)
            await publish_account(tx, user.account_id)
        user = (await tx.conn.execute(sa.select(users).where(users.c.id == str(user_id)))).one()
    return user_json(user)
