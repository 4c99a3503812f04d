"""Two notification replicas share one e-mail queue on PostgreSQL and a slow SMTP server: each e-mail once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from prometheus_client import CollectorRegistry

from oms_devstack.procs import free_port
from oms_notifications.app import MIGRATIONS
from oms_notifications.db import emails, metadata
from oms_notifications.mailer import EmailSender, MailerMetrics, Renderer
from oms_notifications.settings import Settings
from oms_shared.db import Database, create_engine, utcnow
from oms_shared.migrations import upgrade_to_head
from tests.support.databases import fresh_postgres_databases, needs_postgres
from tests.support.services import eventually

pytestmark = needs_postgres

TEMPLATE = """{% if part == "subject" %}Order {{ order_number }}{% elif part == "text" %}Order {{ order_number }}.
{% else %}<p>Order {{ order_number }}</p>{% endif %}"""


class SlowServer:
    """Accepts every message after ``delay_s`` (a slow or overloaded SMTP relay) and counts Message-IDs."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.message_ids: list[str] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(self.delay_s)
        content = envelope.original_content or b""
        for line in content.decode(errors="replace").splitlines():
            if line.lower().startswith("message-id:"):
                self.message_ids.append(line.split(":", 1)[1].strip())
        return "250 2.0.0 accepted"


DIGEST = """{% if part == "subject" %}Orders {{ order_numbers | join(", ") }}{% elif part == "text" %}{{ items|length }}
{% else %}<p>{{ items | length }}</p>{% endif %}"""


async def queue(db: Database, count: int, group_size: int = 1) -> list[str]:
    """``count`` due e-mails; with ``group_size`` > 1, each run of that many is one person's coalescing group."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    users = [str(uuid.uuid4()) for _ in range(count)]
    now = utcnow() - timedelta(seconds=1)
    async with db.transaction() as tx:
        for n, email_id in enumerate(ids):
            await tx.conn.execute(
                emails.insert().values(
                    email_id=email_id,
                    notification_id=str(uuid.uuid4()),
                    user_id=users[n // group_size],
                    tenant_id=str(uuid.uuid4()),
                    to_address=f"user{n // group_size}@example.com",
                    locale="en",
                    kind="slow",
                    order_id=str(uuid.uuid4()),
                    order_number=str(1000 + n),
                    context=f'{{"order_number": "{1000 + n}", "unsubscribe_url": "http://oms.test/u"}}',
                    source_event_id=str(uuid.uuid4()),
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    last_error="",
                    created_at=now + timedelta(milliseconds=n),
                    group_key=f"order:{n // group_size}" if group_size > 1 else None,
                )
            )
    return ids


@pytest.mark.parametrize("group_size", [1, 3], ids=["one-by-one", "coalesced"])
async def test_two_senders_and_a_slow_smtp_server_deliver_every_email_exactly_once(
    service_env: dict[str, object], tmp_path: Path, group_size: int
) -> None:
    """R-NT-4 (never sent twice): two replicas send from one queue through an SMTP server that takes 0.25 s per
    message, with a claim lease of 1 s — shorter than a batch takes. Every e-mail reaches the server exactly
    once and is recorded sent once (before, the second replica re-claimed the rest of a batch whose lease had
    run out and sent it again). Coalesced e-mails (three per person and order) are claimed with their group and
    sent as one message, and still each e-mail is recorded sent exactly once."""
    templates = tmp_path / "templates" / "en"
    templates.mkdir(parents=True)
    (templates / "slow.j2").write_text(TEMPLATE)
    (templates / "digest.j2").write_text(DIGEST)
    handler = SlowServer(delay_s=0.25)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    async with fresh_postgres_databases(1) as (url,):
        senders: list[EmailSender] = []
        databases: list[Database] = []
        for _ in range(2):
            settings = Settings(
                database_url=url,
                smtp_port=port,
                email_claim_lease_s=1.0,
                email_poll_interval_s=0.05,
                email_linger_s=0.0,
                **{k: v for k, v in service_env.items() if k in Settings.model_fields},
            )
            db = Database(create_engine(url), metadata)
            databases.append(db)
            senders.append(
                EmailSender(db, settings, Renderer(tmp_path / "templates"), MailerMetrics(CollectorRegistry()))
            )
        await upgrade_to_head(databases[0].engine, MIGRATIONS)
        ids = await queue(databases[0], 24, group_size)
        rounds = [0] * len(senders)
        for n, sender in enumerate(senders):  # count each replica's rounds (claim, send, record)

            async def counted(n: int = n, send_due: Any = sender.send_due) -> int:
                rounds[n] += 1
                return int(await send_due())

            sender.send_due = counted  # type: ignore[method-assign]
        tasks = [asyncio.create_task(s.run()) for s in senders]
        try:

            async def all_sent() -> None:
                async with databases[0].read() as conn:
                    statuses: Any = (await conn.execute(sa.select(emails.c.status))).scalars().all()
                assert statuses.count("sent") == len(ids), statuses

            await eventually(all_sent, timeout=60)
            await eventually(lambda: len(handler.message_ids) >= len(ids) // group_size, timeout=10)
            # Anything still in flight at a replica that lost its claim arrives within the round it is in, and a
            # replica's next round begins only after it: once every replica has begun another one, none is left.
            seen = list(rounds)
            await eventually(lambda: all(now > then for now, then in zip(rounds, seen, strict=True)))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for db in databases:
                await db.dispose()
            controller.stop()
    received = sorted(m.strip("<>").split("@")[0] for m in handler.message_ids)
    duplicates = sorted({m for m in received if received.count(m) > 1})
    assert duplicates == [], f"{len(duplicates)} e-mails sent more than once"
    if group_size == 1:
        assert received == sorted(ids)
    else:  # one message per group (a group another replica was claiming at that moment may go in two)
        assert set(received) <= set(ids) and len(ids) // group_size <= len(received) < len(ids)
    assert sum(s.metrics.sent._value.get() for s in senders) == len(ids)  # type: ignore[attr-defined]
    assert all(s.metrics.sent._value.get() > 0 for s in senders), [  # type: ignore[attr-defined]
        (s.metrics.sent._value.get(), s.metrics.retried._value.get())
        for s in senders  # type: ignore[attr-defined]
    ]
