"""HTTP API of the notifications service: the caller's inbox, read marks, preferences, the e-mail outbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from oms_notifications import inbox
from oms_notifications.answers import INBOX_LIST, MARKED_READ, UNREAD_MARKERS
from oms_shared.auth import CurrentPrincipal
from oms_shared.db import Database


class MarkRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notification_ids: list[uuid.UUID] | None = Field(
        default=None, max_length=1000, description="Mark these notifications read (at most 1000 per call)."
    )
    order_id: uuid.UUID | None = Field(default=None, description="Mark every notification of this order read.")
    all: bool = Field(default=False, description="Mark every notification of the caller read.")


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: dict[str, bool] = Field(description="Per notification kind: false turns its e-mails off.")


def build_router(db: Database, wake_sender: Callable[[], None]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["notifications"])

    @router.get(
        "/notifications",
        summary="The caller's in-app notifications, newest first",
        responses=INBOX_LIST,
    )
    async def list_notifications(
        principal: CurrentPrincipal,
        unread: bool | None = Query(default=None, description="true: only unread; false: only read"),
        order_id: uuid.UUID | None = None,
        kind: str | None = Query(default=None, max_length=30),
        sort: Literal["created_at", "-created_at"] = "-created_at",
        limit: int = Query(default=50, ge=1, le=500),
        offset: int = Query(default=0, ge=0),
    ) -> dict[str, Any]:
        async with db.read() as conn:
            return await inbox.list_notifications(
                conn,
                principal,
                unread=unread,
                order_id=str(order_id) if order_id else None,
                kind=kind,
                sort=sort,
                limit=limit,
                offset=offset,
            )

    @router.get(
        "/notifications/unread",
        summary="Orders and lines with unseen changes (badges and the tab title)",
        description=(
            "`unread` and `unread_orders` are the caller's counts (the badge; the inbox list answers the same). "
            "With `order_id`, `orders` holds that order alone: its unread kinds and changed line ids, the "
            "markers of its page. Opening the order, mark them read with `POST .../notifications/read "
            '{"order_id": …}`.'
        ),
        responses=UNREAD_MARKERS,
    )
    async def unread(
        principal: CurrentPrincipal,
        order_id: Annotated[uuid.UUID | None, Query(description="One order's markers")] = None,
    ) -> dict[str, Any]:
        async with db.read() as conn:
            return await inbox.unread_by_order(conn, principal, str(order_id) if order_id else None)

    @router.post(
        "/notifications/read",
        summary="Mark notifications read: by ids, by order, or all",
        description="Answers how many were marked and the caller's unread counts after it (the badge).",
        responses=MARKED_READ,
    )
    async def mark_read(body: MarkRead, principal: CurrentPrincipal) -> dict[str, int]:
        async with db.transaction() as tx:
            marked = await inbox.mark_read(
                tx,
                principal,
                notification_ids=[str(i) for i in body.notification_ids] if body.notification_ids else None,
                order_id=str(body.order_id) if body.order_id else None,
                everything=body.all,
            )
            counts = await inbox.unread_counts(tx.conn, principal)
        return {"marked": marked, **counts}

    @router.get("/preferences", summary="The caller's e-mail preferences per notification kind")
    async def get_preferences(principal: CurrentPrincipal) -> dict[str, Any]:
        async with db.read() as conn:
            return await inbox.get_preferences(conn, principal)

    @router.put("/preferences", summary="Turn e-mails of some notification kinds on or off")
    async def put_preferences(body: Preferences, principal: CurrentPrincipal) -> dict[str, Any]:
        async with db.transaction() as tx:
            await inbox.set_preferences(tx, principal, body.email)
        async with db.read() as conn:
            return await inbox.get_preferences(conn, principal)

    @router.get("/emails", summary="The e-mail outbox of the caller's account (owner only)")
    async def list_emails(
        principal: CurrentPrincipal,
        status: Literal["pending", "sent", "failed"] | None = None,
        order_id: uuid.UUID | None = None,
        limit: int = Query(default=50, ge=1, le=500),
        offset: int = Query(default=0, ge=0),
    ) -> dict[str, Any]:
        async with db.read() as conn:
            return await inbox.list_emails(
                conn, principal, status=status, order_id=str(order_id) if order_id else None, limit=limit, offset=offset
            )

    @router.get("/emails/{email_id}", summary="One queued, sent or failed e-mail (owner only)")
    async def get_email(email_id: uuid.UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        async with db.read() as conn:
            return await inbox.get_email(conn, principal, str(email_id))

    @router.post("/emails/{email_id}/retry", summary="Send a failed e-mail again (owner only)")
    async def retry_email(email_id: uuid.UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        async with db.transaction() as tx:
            item = await inbox.retry_email(tx, principal, str(email_id))
        wake_sender()
        return item

    return router
