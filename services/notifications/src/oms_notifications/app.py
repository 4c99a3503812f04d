"""Composition root of the notifications service."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from fastapi import FastAPI

from oms_notifications.api import build_router
from oms_notifications.db import emails, metadata
from oms_notifications.handlers import Links, Notifier
from oms_notifications.mailer import PACKAGED_TEMPLATES, EmailSender, MailerMetrics, Renderer
from oms_notifications.replicas import apply_account, apply_buyer
from oms_notifications.settings import Settings
from oms_shared.contracts import (
    AccountUpdatedV1,
    BuyerInvitedV1,
    BuyerUpdatedV1,
    EmployeeInvitedV1,
    NotificationDeliveredV1,
    OrderChangedV1,
    OrderPlacedV1,
    OrderStatusChangedV1,
    UserPasswordResetRequestedV1,
)
from oms_shared.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, metadata, MIGRATIONS, title="OMS Notifications")
    renderer = Renderer(Path(settings.templates_dir) if settings.templates_dir else PACKAGED_TEMPLATES)
    sender = EmailSender(runtime.db, settings, renderer, MailerMetrics(runtime.registry))
    notifier = Notifier(
        Links(settings.links_base_url), on_queued=sender.wake, coalesce_window_s=settings.email_coalesce_window_s
    )
    runtime.consumer.on(AccountUpdatedV1, apply_account)
    runtime.consumer.on(BuyerUpdatedV1, apply_buyer)
    runtime.consumer.on(OrderPlacedV1, notifier.order_placed)
    runtime.consumer.on(OrderStatusChangedV1, notifier.status_changed)
    runtime.consumer.on(OrderChangedV1, notifier.order_changed)
    runtime.consumer.on(UserPasswordResetRequestedV1, notifier.password_reset_requested)
    runtime.consumer.on(BuyerInvitedV1, notifier.buyer_invited)
    runtime.consumer.on(EmployeeInvitedV1, notifier.employee_invited)
    runtime.produces.append(NotificationDeliveredV1)
    runtime.background.append(sender.run)

    async def emails_pending() -> int:
        """E-mails queued and not sent yet (coalescing, or waiting to be tried again): /drained waits for them."""
        async with runtime.db.read() as conn:
            count = await conn.scalar(
                sa.select(sa.func.count()).select_from(emails).where(emails.c.status == "pending")
            )
        return int(count or 0)

    runtime.pending["emails"] = emails_pending
    runtime.routers.append(build_router(runtime.db, sender.wake))
    return runtime.build_app()
