"""The account's company profile: name, INN/KPP, address and bank details (read and changed by its owner or a
user who manages users; printed on orders)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from oms_orders import schemas
from oms_orders.db import accounts, users
from oms_orders.handlers.common import check_if_match
from oms_orders.handlers.identity import publish_account
from oms_orders.requisites import account_problem, bic_problem, correspondent_problem, inn_problem, kpp_problem
from oms_shared.auth import Principal
from oms_shared.db import Database
from oms_shared.errors import Forbidden, Invalid, Unauthorized

PROFILE_FIELDS = ("name", "inn", "kpp", "address", "bank_name", "bic", "bank_account", "correspondent_account")


def profile_json(row: Any) -> dict[str, Any]:
    return {
        "account_id": row.id,
        "kind": row.kind,
        **{name: getattr(row, name) for name in PROFILE_FIELDS},
        "version": row.version,
    }


async def _require_admin(conn: Any, principal: Principal) -> None:
    actor = (await conn.execute(sa.select(users).where(users.c.id == str(principal.user_id)))).first()
    if actor is None or not actor.active or actor.account_id != str(principal.account_id):
        raise Unauthorized("this user no longer exists or is disabled", code="invalid_token")
    if not (actor.is_owner or actor.manage_users):
        raise Forbidden("the company profile is for the owner and users who manage users", code="access_denied")


async def get_account(db: Database, principal: Principal) -> dict[str, Any]:
    async with db.read() as conn:
        await _require_admin(conn, principal)
        row = (await conn.execute(sa.select(accounts).where(accounts.c.id == str(principal.account_id)))).one()
    return profile_json(row)


def _problems(values: dict[str, str], changed: set[str]) -> dict[str, str]:
    """What is wrong among the changed fields (the account numbers are checked again when the BIC changes; a
    value stored before these checks does not block changing something else)."""
    if "bic" in changed:
        changed = changed | {"bank_account", "correspondent_account"}
    checks = {
        "inn": inn_problem(values["inn"]),
        "kpp": kpp_problem(values["kpp"]),
        "bic": bic_problem(values["bic"]),
        "bank_account": account_problem(values["bank_account"], values["bic"]),
        "correspondent_account": correspondent_problem(values["correspondent_account"], values["bic"]),
    }
    return {name: problem for name, problem in checks.items() if problem and name in changed}


async def update_account(
    db: Database, principal: Principal, cmd: schemas.AccountPatch, if_match: str | None
) -> dict[str, Any]:
    """Change the profile over the version the client saw; a new name reaches the other services (the account
    event), the rest is the orders service's own."""
    async with db.transaction() as tx:
        await _require_admin(tx.conn, principal)
        account_id = str(principal.account_id)
        row = (await tx.conn.execute(sa.select(accounts).where(accounts.c.id == account_id).with_for_update())).one()
        check_if_match(row.version, if_match, required=True, what="account")
        given = cmd.model_dump(exclude_unset=True)
        values = {name: given[name] if given.get(name) is not None else getattr(row, name) for name in PROFILE_FIELDS}
        problems = _problems(values, {name for name in given if values[name] != getattr(row, name)})
        if problems:
            raise Invalid("the company's requisites are not valid", code="invalid_requisites", details=problems)
        await tx.conn.execute(accounts.update().where(accounts.c.id == account_id).values(**values))
        if values["name"] != row.name:
            await publish_account(tx, account_id)  # moves the version on, and tells the others the new name
        else:
            await tx.conn.execute(accounts.update().where(accounts.c.id == account_id).values(version=row.version + 1))
        row = (await tx.conn.execute(sa.select(accounts).where(accounts.c.id == account_id))).one()
    return profile_json(row)
