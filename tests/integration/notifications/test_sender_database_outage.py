"""The database goes away right after the SMTP server accepted an e-mail: it is recorded sent once the database is
back, never sent again."""

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
from tests.support.tcpproxy import TcpProxy

pytestmark = needs_postgres

LEASE_S = 1.0
OUTAGE_S = 4.0  # well past the claim's lease


class CuttingServer:
    """Accepts every message and keeps its Message-ID; on the ``cut_at``-th one it first cuts the database off."""

    def __init__(self, cut_at: int, proxy: TcpProxy, loop: asyncio.AbstractEventLoop) -> None:
        self.cut_at, self.proxy, self.loop = cut_at, proxy, loop
        self.message_ids: list[str] = []
        self.cut = asyncio.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        for line in content.decode(errors="replace").splitlines():
            if line.lower().startswith("message-id:"):
                self.message_ids.append(line.split(":", 1)[1].strip().strip("<>").split("@")[0])
        if len(self.message_ids) == self.cut_at:
            # The database restarts between the server's "accepted" and the sender recording it.
            asyncio.run_coroutine_threadsafe(self.proxy.cut(), self.loop).result(timeout=10)
            self.loop.call_soon_threadsafe(self.cut.set)
        return "250 2.0.0 accepted"


async def guarded(task: Any) -> None:
    """Run the sender's loop as the service runtime does: restarted a second after it fails."""
    while True:
        try:
            await task()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            await asyncio.sleep(1)


async def test_an_email_accepted_just_before_the_database_went_away_is_recorded_not_sent_again(
    service_env: dict[str, object], tmp_path: Path
) -> None:
    """R-NT-4 (never sent twice): the SMTP server accepts the second of three e-mails and the database becomes
    unreachable before the sender records it, for longer than the claim's lease. When it is back, that e-mail is
    recorded sent and the third goes out: each reaches the server exactly once. (Before, the sender's loop gave
    up on the record; the claim ran out during the outage and the accepted e-mail was sent again, as in a 30 s
    PostgreSQL restart of the fault tests.)"""
    templates = tmp_path / "templates" / "en"
    templates.mkdir(parents=True)
    (templates / "slow.j2").write_text(TEMPLATE)
    async with fresh_postgres_databases(1) as (url,):
        address = sa.engine.make_url(url)
        proxy = TcpProxy(address.host or "127.0.0.1", address.port or 5432)
        await proxy.start()
        handler = CuttingServer(cut_at=2, proxy=proxy, loop=asyncio.get_running_loop())
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        direct = Database(create_engine(url), metadata)
        db = Database(create_engine(url.replace(f":{address.port}/", f":{proxy.port}/")), metadata)
        try:
            settings = Settings(
                database_url=url,
                smtp_port=port,
                email_claim_lease_s=LEASE_S,
                email_batch_size=3,
                email_poll_interval_s=0.05,
                email_linger_s=0.0,
                **{k: v for k, v in service_env.items() if k in Settings.model_fields},
            )
            await upgrade_to_head(direct.engine, MIGRATIONS)
            ids = await queue(direct, 3)
            sender = EmailSender(db, settings, Renderer(tmp_path / "templates"), MailerMetrics(CollectorRegistry()))
            running = asyncio.create_task(guarded(sender.run))
            try:
                await asyncio.wait_for(handler.cut.wait(), timeout=30)
                await asyncio.sleep(OUTAGE_S)  # the outage itself: its length is the fault, not a wait
                await proxy.restore()

                async def all_sent() -> None:
                    async with direct.read() as conn:
                        statuses = list((await conn.execute(sa.select(emails.c.status))).scalars())
                    assert statuses == ["sent"] * len(ids), statuses

                await eventually(all_sent, timeout=30)
            finally:
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)
        finally:
            await db.dispose()
            await direct.dispose()
            controller.stop()
            await proxy.stop()
    assert sorted(handler.message_ids) == sorted(ids), "each e-mail reaches the server exactly once"
