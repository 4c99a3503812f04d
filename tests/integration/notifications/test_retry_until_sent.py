"""A mail server that refuses a message for a while (not its recipient) delays the e-mail; it never loses it."""

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
from tests.support.services import eventually


class MoodyServer:
    """Answers DATA with ``reply`` until told otherwise, then accepts; counts what it accepted."""

    def __init__(self) -> None:
        self.reply = "554 5.7.1 message refused (try later)"
        self.refused = 0
        self.accepted: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.reply:
            self.refused += 1
            return self.reply
        self.accepted.append(envelope.original_content or b"")
        return "250 2.0.0 accepted"


async def test_an_e_mail_refused_for_a_while_is_retried_past_any_attempt_limit_and_sent_once(tmp_path: Path) -> None:
    """R-NT-4: a 5xx for the message (not a refused recipient) and then a 4xx keep the e-mail pending and retried
    with backoff, more times than the old limit of 5 attempts; once the server accepts, it is sent exactly once."""
    (tmp_path / "templates" / "en").mkdir(parents=True)
    (tmp_path / "templates" / "en" / "slow.j2").write_text(TEMPLATE)
    server = MoodyServer()
    port = free_port()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    url = f"sqlite+aiosqlite:///{tmp_path / 'nt.db'}"
    db = Database(create_engine(url), metadata)
    settings = Settings(
        database_url=url,
        smtp_port=port,
        email_poll_interval_s=0.05,
        email_linger_s=0.0,
        email_retry_base_s=0.05,
        email_retry_max_s=0.2,
    )
    sender = EmailSender(db, settings, Renderer(tmp_path / "templates"), MailerMetrics(CollectorRegistry()))
    await upgrade_to_head(db.engine, MIGRATIONS)
    (email_id,) = await queue(db, 1)
    task = asyncio.create_task(sender.run())

    async def row() -> Any:
        async with db.read() as conn:
            return (await conn.execute(sa.select(emails).where(emails.c.email_id == email_id))).one()

    try:

        async def refused_many_times() -> bool:
            r = await row()
            assert r.status == "pending", r.last_error
            return bool(r.attempts >= 6 and "554" in r.last_error)

        await eventually(refused_many_times, timeout=30)
        server.reply = "451 4.3.0 try again later"
        await eventually(lambda: _attempts_with(row, "451"), timeout=30)
        server.reply = ""
        await eventually(lambda: _status(row, "sent"), timeout=30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.dispose()
        controller.stop()
    assert len(server.accepted) == 1 and server.refused >= 7
    assert sender.metrics.failed.labels("smtp")._value.get() == 0  # type: ignore[attr-defined]


async def _attempts_with(row: Any, code: str) -> bool:
    r = await row()
    assert r.status == "pending", r.last_error
    return code in r.last_error


async def _status(row: Any, status: str) -> bool:
    return bool((await row()).status == status)
