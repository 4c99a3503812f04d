"""A mail sender that dies in the middle of a batch: what the SMTP server already accepted is not sent again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from prometheus_client import CollectorRegistry

from oms_devstack.procs import free_port
from oms_notifications.app import MIGRATIONS
from oms_notifications.db import emails, metadata
from oms_notifications.mailer import EmailSender, MailerMetrics, Renderer
from oms_notifications.settings import Settings
from oms_shared.db import Database, create_engine
from oms_shared.migrations import upgrade_to_head
from tests.integration.notifications.test_mail_replicas import TEMPLATE, queue
from tests.support.databases import fresh_postgres_databases, needs_postgres
from tests.support.services import eventually

pytestmark = needs_postgres


class DyingServer:
    """Accepts every message and keeps its Message-ID; on the ``die_at``-th message it first kills the sender."""

    def __init__(self, die_at: int) -> None:
        self.die_at = die_at
        self.message_ids: list[str] = []
        self.victim: asyncio.Task[Any] | None = None
        self.seen = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.seen += 1
        if self.seen == self.die_at and self.victim is not None:
            # The sending process dies while this message is on the wire: nothing after this line of its code runs.
            self.victim.get_loop().call_soon_threadsafe(self.victim.cancel)
            return "451 4.3.0 try again"
        content = envelope.original_content or b""
        for line in content.decode(errors="replace").splitlines():
            if line.lower().startswith("message-id:"):
                self.message_ids.append(line.split(":", 1)[1].strip().strip("<>").split("@")[0])
        return "250 2.0.0 accepted"


async def test_a_sender_killed_mid_batch_does_not_send_the_accepted_emails_again(
    service_env: dict[str, object], tmp_path: Path
) -> None:
    """R-NT-4 (never sent twice): a sender claims a batch of five e-mails, the SMTP server accepts two, and the
    process dies sending the third. Its claim runs out, and the sender that takes over (the restarted process)
    sends only the three that were not accepted: each e-mail reaches the server exactly once. (Before, outcomes
    were recorded once per batch, so the two accepted ones were sent again.)"""
    templates = tmp_path / "templates" / "en"
    templates.mkdir(parents=True)
    (templates / "slow.j2").write_text(TEMPLATE)
    handler = DyingServer(die_at=3)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    async with fresh_postgres_databases(1) as (url,):
        db = Database(create_engine(url), metadata)
        try:
            settings = Settings(
                database_url=url,
                smtp_port=port,
                email_claim_lease_s=1.0,
                email_batch_size=5,
                email_poll_interval_s=0.05,
                email_linger_s=0.0,
                **{k: v for k, v in service_env.items() if k in Settings.model_fields},
            )
            await upgrade_to_head(db.engine, MIGRATIONS)
            ids = await queue(db, 5)

            def sender() -> EmailSender:
                return EmailSender(db, settings, Renderer(tmp_path / "templates"), MailerMetrics(CollectorRegistry()))

            first = asyncio.create_task(sender().send_due())
            handler.victim = first
            await asyncio.gather(first, return_exceptions=True)
            assert first.cancelled()
            assert sorted(handler.message_ids) == sorted(ids[:2])

            restarted = asyncio.create_task(sender().run())
            try:

                async def all_sent() -> None:
                    async with db.read() as conn:
                        statuses = list((await conn.execute(sa.select(emails.c.status))).scalars())
                    assert statuses == ["sent"] * len(ids), statuses

                await eventually(all_sent, timeout=30)
            finally:
                restarted.cancel()
                await asyncio.gather(restarted, return_exceptions=True)
        finally:
            await db.dispose()
            controller.stop()
    assert sorted(handler.message_ids) == sorted(ids), "each e-mail reaches the server exactly once"
