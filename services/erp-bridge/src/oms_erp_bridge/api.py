"""JSON API of the ERP bridge (``/api/v1/erp``): the exchange connection and the exchange log (R-ERP-6, R-ERP-7).

The 1C endpoint itself is ``exchange.py``; the JSON operations on orders and stock for other ERPs are in
``sale_api.py`` and ``catalog_api.py``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from oms_erp_bridge.db import connections, exchange_log
from oms_shared.auth import CurrentPrincipal, Principal
from oms_shared.contracts import OrderStatus
from oms_shared.db import Database, utcnow
from oms_shared.errors import Conflict, Forbidden, NotFound
from oms_shared.passwords import hash_password

Login = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=100, pattern=r"^[^:\s]+$")]
StatusText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, description="Rows to skip.")]


class ConnectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: Login = Field(description="The login 1C sends (HTTP Basic); unique across OMS.")
    password: str = Field(min_length=8, max_length=200, description="Stored as a salted scrypt hash only.")
    enabled: bool = True
    encoding: Literal["utf-8", "windows-1251"] = Field(
        default="utf-8", description="Of the orders XML sent to 1C; UTF-8 is sent with a BOM (some 1C builds need it)."
    )
    timezone: str = Field(
        default="Europe/Moscow",
        max_length=64,
        description="IANA time zone of the supplier: dates and times in the orders XML are written in it.",
    )
    zip: bool = Field(
        default=False,
        description="1C sends its files packed in one zip archive (init answers zip=yes); the archive is checked "
        "whole (entries, sizes, compression ratio, names) before it is unpacked.",
    )
    status_map: dict[StatusText, OrderStatus] = Field(
        default_factory=dict,
        description="1C status texts (`Статус заказа`) and the OMS status each means, e.g. {'Отгружен': 'shipped'}.",
    )

    @field_validator("timezone")
    @classmethod
    def known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}: an IANA name such as Europe/Moscow is expected") from None
        return value


def admin(principal: Principal) -> str:
    """The ERP connection is the supplier's: its owner or a user with full access to orders."""
    principal.require_supplier()
    principal.require("orders", "full")
    return str(principal.account_id)


def connection_json(row: Any) -> dict[str, Any]:
    return {
        "login": row.login,
        "enabled": row.enabled,
        "encoding": row.encoding,
        "timezone": row.timezone,
        "zip": row.zip,
        "status_map": json.loads(row.status_map),
        "updated_at": row.updated_at.isoformat(),
        "exchange_path": "/exchange/1c",
    }


def build_router(db: Database) -> APIRouter:
    router = APIRouter(prefix="/api/v1/erp", tags=["erp"])

    @router.get(
        "/connection",
        summary="The ERP exchange connection of your account (never the password)",
        responses={404: {"description": "No connection is set up yet (PUT /connection)."}},
    )
    async def get_connection(principal: CurrentPrincipal) -> dict[str, Any]:
        tenant = admin(principal)
        async with db.read() as conn:
            row = (await conn.execute(sa.select(connections).where(connections.c.tenant_id == tenant))).first()
        if row is None:
            raise NotFound("no ERP connection yet: PUT one", code="connection_not_found")
        return connection_json(row)

    @router.put("/connection", summary="Set the login and password 1C uses, the XML encoding and the status map")
    async def put_connection(body: ConnectionIn, principal: CurrentPrincipal) -> dict[str, Any]:
        tenant = admin(principal)
        password_hash = await asyncio.to_thread(hash_password, body.password)
        now = utcnow()
        values = {
            "login": body.login,
            "password_hash": password_hash,
            "enabled": body.enabled,
            "encoding": body.encoding,
            "timezone": body.timezone,
            "zip": body.zip,
            "status_map": json.dumps({k: v.value for k, v in body.status_map.items()}, ensure_ascii=False),
            "updated_at": now,
        }
        async with db.transaction() as tx:
            taken = await tx.conn.scalar(
                sa.select(connections.c.tenant_id).where(
                    connections.c.login == body.login, connections.c.tenant_id != tenant
                )
            )
            if taken:
                raise Conflict("this login is taken: choose another", code="login_taken")
            done = await tx.conn.execute(connections.update().where(connections.c.tenant_id == tenant).values(**values))
            if not done.rowcount:
                await tx.conn.execute(connections.insert().values(tenant_id=tenant, created_at=now, **values))
            row = (await tx.conn.execute(sa.select(connections).where(connections.c.tenant_id == tenant))).one()
        return connection_json(row)

    @router.get("/exchanges", summary="The exchange log: every call with its outcome, newest first (R-ERP-6)")
    async def list_exchanges(
        principal: CurrentPrincipal,
        kind: Annotated[str, Query(max_length=50, description="e.g. sale.query, catalog.import, api.stock")] = "",
        outcome: Annotated[Literal["", "success", "progress", "failure"], Query()] = "",
        session_id: Annotated[str, Query(max_length=64)] = "",
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        tenant = admin(principal)
        if principal.restricted_to_own_buyers and not principal.is_owner:
            # The log names every buyer's orders (numbers, payments, statuses): not for a restricted manager.
            raise Forbidden(
                "the exchange log covers every buyer's orders; a manager restricted to their buyers may not read it",
                code="restricted_manager",
            )
        where = [exchange_log.c.tenant_id == tenant]
        if kind:
            where.append(exchange_log.c.kind == kind)
        if outcome:
            where.append(exchange_log.c.outcome == outcome)
        if session_id:
            where.append(exchange_log.c.session_id == session_id)
        async with db.read() as conn:
            total = await conn.scalar(sa.select(sa.func.count()).select_from(exchange_log).where(*where))
            rows = (
                await conn.execute(
                    sa.select(exchange_log)
                    .where(*where)
                    .order_by(exchange_log.c.started_at.desc(), exchange_log.c.id)
                    .limit(limit)
                    .offset(offset)
                )
            ).all()
        items = [
            {
                "id": r.id,
                "kind": r.kind,
                "outcome": r.outcome,
                "detail": r.detail,
                "session_id": r.session_id,
                "filename": r.filename,
                "caller": r.caller,
                "at": r.started_at.isoformat(),
            }
            for r in rows
        ]
        return {"items": items, "total": int(total or 0), "limit": limit, "offset": offset}

    return router
