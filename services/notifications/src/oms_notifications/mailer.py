"""The e-mail outbox sender: renders queued e-mails with Jinja2 and sends them over SMTP with retries."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.policy import EmailPolicy
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any

import aiosmtplib
import jinja2
import sqlalchemy as sa
from markupsafe import Markup
from prometheus_client import CollectorRegistry, Counter, Gauge

from oms_notifications.db import emails
from oms_notifications.domain import is_permanent_smtp_code, next_email_state, retry_delay_s
from oms_notifications.settings import Settings
from oms_shared.contracts import NotificationDeliveredData, NotificationDeliveredV1, make_event
from oms_shared.db import Database, utcnow
from oms_shared.transient import transient_kind

log = logging.getLogger(__name__)

PACKAGED_TEMPLATES = Path(__file__).parent / "templates"


class TemplateFailure(Exception):
    """The e-mail cannot be rendered (missing or broken template); retrying will not help until it is fixed."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class Renderer:
    """Renders ``<locale>/<kind>.j2``; the template chooses its part by the ``part`` variable."""

    def __init__(self, directory: Path) -> None:
        loader = jinja2.FileSystemLoader(str(directory))
        # Plain text and subjects must not be HTML-escaped; the HTML part must be.
        self._text = jinja2.Environment(loader=loader, autoescape=False, undefined=jinja2.StrictUndefined)
        self._html = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)

    def render(self, kind: str, locale: str, context: dict[str, Any]) -> Rendered:
        name = f"{locale}/{kind}.j2"
        try:
            subject = self._text.get_template(name).render(context, part="subject")
            text = self._text.get_template(name).render(context, part="text")
            html = self._html.get_template(name).render(context, part="html")
        except jinja2.TemplateError as exc:
            raise TemplateFailure(f"template {name}: {type(exc).__name__}: {exc}") from exc
        subject = " ".join(subject.split())
        if not subject:
            raise TemplateFailure(f"template {name}: empty subject")
        return Rendered(subject=subject, text=text.strip() + "\n", html=html.strip() + "\n")

    def render_group(self, locale: str, members: Sequence[Prepared]) -> tuple[Rendered, dict[str, Any]]:
        """One message for several e-mails of one person about one order and its parts: each one's subject and
        body under each other. A move told by both parts (the same lines) is told once."""
        shown: list[dict[str, Any]] = []
        kept: list[Prepared] = []
        told: set[str] = set()
        for member in members:
            lines = {json.dumps(c, sort_keys=True) for c in member.context.get("line_changes", [])}
            if member.row.kind == "lines_moved" and lines and lines <= told:
                continue
            told |= lines
            name = f"{locale}/{member.row.kind}.j2"
            try:
                text = self._text.get_template(name).render(member.context, part="body_text")
                html = self._html.get_template(name).render(member.context, part="body_html")
            except jinja2.TemplateError as exc:
                raise TemplateFailure(f"template {name}: {type(exc).__name__}: {exc}") from exc
            kept.append(member)
            # The HTML part is rendered (and escaped) already: the layout must not escape it again.
            shown.append({"subject": member.rendered.subject, "text": text.strip(), "html": Markup(html.strip())})
        if len(kept) == 1:
            return kept[0].rendered, kept[0].context
        first = kept[0].context
        preferences = str(first.get("unsubscribe_url", "")).split("?")[0]
        context = {
            **first,
            "items": shown,
            "order_numbers": list(dict.fromkeys(str(m.context.get("order_number", "")) for m in kept)),
            "preferences_url": preferences,
            "unsubscribe_url": preferences,
        }
        return self.render("digest", locale, context), context


@dataclass(frozen=True)
class Prepared:
    """A claimed e-mail with its context and its own rendering."""

    row: Any
    context: dict[str, Any]
    rendered: Rendered


class _WholeWordsPolicy(EmailPolicy):
    """The SMTP policy, except that a non-ASCII subject is folded without losing a space.

    Python's folder splits a long subject into encoded words exactly at a space and writes that space as the
    folding whitespace between them, which RFC 2047 decoders drop ("от ООО«Рога…»"). Here the subject is cut
    into encoded words at character boundaries, so every space stays inside a word.
    """

    def fold(self, name: str, value: str) -> str:
        if name.lower() == "subject" and not str(value).isascii():
            encoded = Header(str(value), "utf-8", header_name=name).encode(linesep=self.linesep)
            return f"{name}: {encoded}{self.linesep}"
        return str(super().fold(name, value))

    def fold_binary(self, name: str, value: str) -> bytes:
        if name.lower() == "subject" and not str(value).isascii():
            return self.fold(name, value).encode("ascii")
        return super().fold_binary(name, value)


MESSAGE_POLICY = _WholeWordsPolicy(**SMTP_POLICY.__dict__)


def message_bytes(msg: EmailMessage) -> bytes:
    """The message as sent over SMTP (CRLF line ends, subjects folded by ``MESSAGE_POLICY``)."""
    return msg.as_bytes(policy=MESSAGE_POLICY)


def build_message(row: Any, rendered: Rendered, settings: Settings, context: dict[str, Any]) -> EmailMessage:
    """A multipart/alternative message with the headers mail clients and list tools expect."""
    _name, from_address = parseaddr(settings.mail_from)
    domain = from_address.rpartition("@")[2] or "oms.local"
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = formataddr((str(context.get("recipient_name") or ""), row.to_address))
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    # Stable per queued e-mail, so a receiver can tell a resend after a crash from a new message.
    msg["Message-ID"] = f"<{row.email_id}@{domain}>"
    if context.get("unsubscribe_url"):  # not on a password reset: nobody unsubscribes from those
        msg["List-Unsubscribe"] = f"<{context['unsubscribe_url']}>"
    msg["Auto-Submitted"] = "auto-generated"
    if row.order_id:
        msg["X-OMS-Order-Id"] = row.order_id
    msg["X-OMS-Kind"] = row.kind
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    return msg


class MailerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.sent = Counter(
            "oms_notifications_emails_sent_total", "E-mails accepted by the SMTP server", registry=registry
        )
        self.failed = Counter(
            "oms_notifications_emails_failed_total",
            "E-mails given up on (marked failed)",
            ["reason"],
            registry=registry,
        )
        # Every known reason at zero from the start: an alert on the first failure needs a series before it.
        for reason in ("template", "message", "connect", "error"):
            self.failed.labels(reason)
        self.retried = Counter(
            "oms_notifications_emails_retried_total", "Failed send attempts that will be retried", registry=registry
        )
        self.queue_depth = Gauge("oms_notifications_email_queue_depth", "E-mails waiting to be sent", registry=registry)
        self.failed_now = Gauge(
            "oms_notifications_emails_failed_current", "E-mails in the failed state now", registry=registry
        )
        self.oldest_age = Gauge(
            "oms_notifications_email_oldest_pending_age_seconds", "Age of the oldest e-mail waiting", registry=registry
        )


@dataclass
class Outcome:
    email_id: str
    error: str = ""
    permanent: bool = False
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


_CONNECTION_ERRORS = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
    ConnectionError,
    TimeoutError,
    OSError,
)


class EmailSender:
    """The background loop: claim due e-mails, send them over one SMTP connection, record the outcome.

    "Never twice" with several replicas: a claim is a small batch (``email_batch_size``) marked with a random
    token and a lease (``email_claim_lease_s``). Before each message the sender renews the lease of the batch
    rows it still holds (the token must still be its own) and skips any row that is not; recording an outcome
    also requires the token. So however slow the SMTP server, a row is sent by the one sender holding it; the
    lease only has to outlive a single message (a few SMTP commands of ``smtp_timeout_s`` each). A message the
    server accepted is recorded sent at once, so a sender killed later in its batch leaves only the unsent rows to
    the one that takes over; what remains is the instant between the server's answer and that commit, which is
    why the Message-ID is stable.
    """

    def __init__(self, db: Database, settings: Settings, renderer: Renderer, metrics: MailerMetrics) -> None:
        self.db = db
        self.settings = settings
        self.renderer = renderer
        self.metrics = metrics
        self._wake = asyncio.Event()
        self._last_gauges = 0.0
        self._client: aiosmtplib.SMTP | None = None
        self._last_used = 0.0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        try:
            while True:
                sent = await self.send_due()
                await self._refresh_gauges()
                if sent:
                    continue
                if self._client is not None and self._loop_time() - self._last_used > self.settings.smtp_idle_close_s:
                    await self._disconnect()
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.settings.email_poll_interval_s)
                except TimeoutError:
                    continue
                # Let the e-mails of a burst of events pile up a little: one claim and one SMTP session for many.
                await asyncio.sleep(self.settings.email_linger_s)
        finally:
            await self._disconnect()

    def _loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    async def _connected(self) -> aiosmtplib.SMTP:
        """The SMTP session, opened on first use and kept while e-mails keep coming."""
        if self._client is not None and self._client.is_connected:
            return self._client
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            use_tls=s.smtp_tls == "tls",
            start_tls=s.smtp_tls == "starttls",
            timeout=s.smtp_timeout_s,
        )
        await client.connect()
        if s.smtp_username:
            await client.login(s.smtp_username, s.smtp_password)
        self._client = client
        return client

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, *_CONNECTION_ERRORS):
            client.close()

    async def send_due(self) -> int:
        """Send one batch of due e-mails; returns how many were claimed."""
        token = secrets.token_hex(16)
        rows = await self._claim(token)
        if not rows:
            return 0
        outcomes = await self._send(rows, token)
        await self._record(rows, outcomes, token)
        return len(rows)

    async def _renew(self, email_ids: Sequence[str], token: str) -> set[str]:
        """Extend the lease of the rows this claim still holds; returns their ids (the others were taken over)."""
        if not email_ids:
            return set()
        lease = utcnow() + timedelta(seconds=self.settings.email_claim_lease_s)
        async with self.db.transaction() as tx:
            result = await tx.conn.execute(
                emails.update()
                .where(
                    emails.c.email_id.in_(list(email_ids)),
                    emails.c.claim_token == token,
                    emails.c.status == "pending",
                )
                .values(claimed_until=lease)
                .returning(emails.c.email_id)
            )
            return {r.email_id for r in result}

    async def _claim(self, token: str) -> list[Any]:
        now = utcnow()
        lease = now + timedelta(seconds=self.settings.email_claim_lease_s)
        due = sa.and_(
            emails.c.status == "pending",
            emails.c.next_attempt_at <= now,
            sa.or_(emails.c.claimed_until.is_(None), emails.c.claimed_until < now),
        )
        # Picked once, in a materialized CTE: as an ``IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)`` subquery
        # PostgreSQL may run the pick again for other rows while a replica claims alongside, and one claim then
        # took the whole queue (24 rows for a limit of 10, measured) instead of a small batch.
        picked = (
            sa.select(emails.c.email_id)
            .where(due)
            .order_by(emails.c.created_at)
            .limit(self.settings.email_batch_size)
            .with_for_update(skip_locked=True)
            .cte("picked")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        async with self.db.transaction() as tx:
            # Replicas race for rows; the repeated condition makes a row go to exactly one of them.
            result = await tx.conn.execute(
                emails.update()
                .where(emails.c.email_id.in_(sa.select(picked.c.email_id)), due)
                .values(claimed_until=lease, claim_token=token)
                .returning(*emails.c)
            )
            rows = list(result)
            # The rest of each claimed e-mail's group (same person, same order and its parts) goes with it, even
            # if still inside its window. Rows another sender holds or is claiming are skipped, never waited for.
            for user_id, key in sorted({(r.user_id, r.group_key) for r in rows if r.group_key}):
                free = sa.and_(
                    emails.c.user_id == user_id,
                    emails.c.group_key == key,
                    emails.c.status == "pending",
                    sa.or_(emails.c.claimed_until.is_(None), emails.c.claimed_until < now),
                )
                companions = (
                    sa.select(emails.c.email_id)
                    .where(free)
                    .with_for_update(skip_locked=True)
                    .cte("companions")
                    .prefix_with("MATERIALIZED", dialect="postgresql")
                )
                more = await tx.conn.execute(
                    emails.update()
                    .where(emails.c.email_id.in_(sa.select(companions.c.email_id)), free)
                    .values(claimed_until=lease, claim_token=token)
                    .returning(*emails.c)
                )
                rows += list(more)
        rows.sort(key=lambda r: r.created_at)
        return rows

    def _messages(self, members: list[Prepared]) -> list[tuple[list[Prepared], EmailMessage]]:
        """The message of a group of e-mails to one person (one each if the group's layout cannot be rendered)."""
        if len(members) > 1:
            try:
                rendered, context = self.renderer.render_group(members[0].row.locale, members)
            except TemplateFailure as exc:
                log.warning("e-mails %s sent one by one: %s", [m.row.email_id for m in members], exc)
            else:
                msg = build_message(members[0].row, rendered, self.settings, context)
                msg.replace_header("X-OMS-Kind", ",".join(dict.fromkeys(m.row.kind for m in members)))
                return [(members, msg)]
        return [([m], build_message(m.row, m.rendered, self.settings, m.context)) for m in members]

    async def _send(self, rows: Sequence[Any], token: str) -> list[Outcome]:
        outcomes: list[Outcome] = []
        groups: dict[tuple[str, ...], list[Prepared]] = {}
        for row in rows:
            try:
                context = json.loads(row.context)
                rendered = self.renderer.render(row.kind, row.locale, context)
            except TemplateFailure as exc:
                log.error("e-mail %s cannot be rendered: %s", row.email_id, exc)
                outcomes.append(Outcome(row.email_id, error=str(exc), permanent=True, reason="template"))
                continue
            except (ValueError, KeyError, TypeError) as exc:
                outcomes.append(Outcome(row.email_id, error=f"message: {exc}", permanent=True, reason="message"))
                continue
            key = (row.user_id, row.to_address, row.group_key) if row.group_key else (row.email_id,)
            groups.setdefault(key, []).append(Prepared(row, context, rendered))
        messages: list[tuple[list[Prepared], EmailMessage]] = []
        for members in groups.values():
            try:
                messages += self._messages(members)
            except (ValueError, KeyError, TypeError) as exc:
                error = f"message: {exc}"
                outcomes += [Outcome(m.row.email_id, error=error, permanent=True, reason="message") for m in members]
        if not messages:
            return outcomes
        s = self.settings
        try:
            client = await self._connected()
        except (aiosmtplib.SMTPException, *_CONNECTION_ERRORS) as exc:
            await self._disconnect()
            error = f"smtp connect {s.smtp_host}:{s.smtp_port}: {exc}"
            log.warning("%s; %d e-mails will be retried", error, len(rows))
            outcomes += [Outcome(m.row.email_id, error=error, reason="connect") for ms, _ in messages for m in ms]
            return outcomes
        held = {row.email_id for row in rows}
        sender = parseaddr(s.mail_from)[1]
        for index, (members, msg) in enumerate(messages):
            # Renew the lease of every row of the batch still ours (sent ones wait to be recorded) and make sure
            # these still are: if the lease ran out and another sender took one, that sender sends it.
            held = await self._renew(sorted(held), token)
            mine = [m for m in members if m.row.email_id in held]
            if len(mine) < len(members):
                log.warning(
                    "e-mails %s were taken over by another sender; not sending them here",
                    [m.row.email_id for m in members if m not in mine],
                )
                if not mine:
                    continue
                # The rest is sent as its own message (any other part of a split-up group waits for its lease).
                members, msg = self._messages(mine)[0]
            ids = [m.row.email_id for m in members]
            try:
                await client.sendmail(sender, [members[0].row.to_address], message_bytes(msg))
            except aiosmtplib.SMTPRecipientsRefused as exc:
                codes = [r.code for r in exc.recipients]
                detail = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
                permanent = all(is_permanent_smtp_code(c) for c in codes)
                outcomes += [Outcome(i, f"refused: {detail}", permanent, "refused") for i in ids]
                await _reset(client)
            except _CONNECTION_ERRORS as exc:
                # The session is gone: this and every later message of the batch wait for a retry.
                await self._disconnect()
                error = f"smtp connection lost: {exc}"
                outcomes += [
                    Outcome(m.row.email_id, error=error, reason="connect") for ms, _ in messages[index:] for m in ms
                ]
                break
            except aiosmtplib.SMTPResponseException as exc:
                # Only a recipient the server refuses for good (5xx at RCPT, above) fails an e-mail; any other
                # answer (a sender or message refused, an overloaded server) is retried with backoff until an
                # operator fixes it: the backlog alert tells them.
                outcomes += [Outcome(i, f"smtp {exc.code}: {exc.message}", False, "smtp") for i in ids]
                await _reset(client)
            else:
                # Recorded at once, not with the batch: a process that dies later in the batch must not leave an
                # accepted message unrecorded, or the sender taking over its claim would send it again.
                await self._record_accepted(rows, ids, token)
        self._last_used = self._loop_time()
        return outcomes

    async def _record_accepted(self, rows: Sequence[Any], ids: Sequence[str], token: str) -> None:
        """Record what the SMTP server accepted; while the database is unreachable, keep it and try again.

        Given up on, the claim would run out during the outage and the message be sent a second time once the
        database is back (seen with PostgreSQL restarted for 30 s under load). Only this process knows the
        message went out, so it waits here, the loop with it: nothing else can be claimed meanwhile anyway."""
        delay = 0.1
        while True:
            try:
                await self._record(rows, [Outcome(i) for i in ids], token)
                return
            except Exception as exc:
                if transient_kind(exc) is None:
                    raise
                log.warning(
                    "e-mails %s were accepted by the SMTP server; the database is unavailable to record it (%s), "
                    "trying again in %.1f s",
                    list(ids),
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _record(self, rows: Sequence[Any], outcomes: Sequence[Outcome], token: str) -> None:
        by_id = {r.email_id: r for r in rows}
        now = utcnow()
        s = self.settings
        async with self.db.transaction() as tx:
            for outcome in outcomes:
                row = by_id[outcome.email_id]
                attempts = row.attempts + 1
                if outcome.ok:
                    values: dict[str, Any] = {"status": "sent", "sent_at": now, "last_error": ""}
                else:
                    state = next_email_state(outcome.permanent)
                    delay = retry_delay_s(attempts, s.email_retry_base_s, s.email_retry_max_s)
                    values = {
                        "status": state,
                        "last_error": outcome.error[:4000],
                        "next_attempt_at": now + timedelta(seconds=delay),
                    }
                recorded = await tx.conn.execute(
                    emails.update()
                    .where(emails.c.email_id == row.email_id, emails.c.claim_token == token)
                    .values(attempts=attempts, claimed_until=None, claim_token=None, **values)
                )
                if recorded.rowcount != 1:
                    log.error(
                        "e-mail %s: the claim was lost before its outcome (%s) was recorded; its new holder decides",
                        row.email_id,
                        "sent" if outcome.ok else outcome.error[:200],
                    )
                    continue
                if outcome.ok:
                    self.metrics.sent.inc()
                elif values["status"] == "failed":
                    self.metrics.failed.labels(outcome.reason or "error").inc()
                else:
                    self.metrics.retried.inc()
                if outcome.ok or values["status"] == "failed":
                    await tx.publish(
                        make_event(
                            NotificationDeliveredV1,
                            tenant_id=uuid.UUID(row.tenant_id),
                            aggregate_id=row.user_id,
                            producer="notifications",
                            causation_id=row.source_event_id,
                            data=NotificationDeliveredData(
                                notification_id=uuid.UUID(row.notification_id),
                                source_event_id=uuid.UUID(row.source_event_id),
                                recipient_user_id=uuid.UUID(row.user_id),
                                channel="email",
                                outcome="delivered" if outcome.ok else "failed",
                                error=outcome.error[:1000],
                            ),
                        )
                    )

    async def _refresh_gauges(self) -> None:
        loop_now = asyncio.get_running_loop().time()
        if loop_now - self._last_gauges < 1.0:
            return
        self._last_gauges = loop_now
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(sa.func.count(), sa.func.min(emails.c.created_at)).where(emails.c.status == "pending")
                )
            ).one()
            failed = await conn.scalar(sa.select(sa.func.count()).where(emails.c.status == "failed"))
        depth, oldest = row
        self.metrics.queue_depth.set(depth or 0)
        self.metrics.failed_now.set(failed or 0)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        self.metrics.oldest_age.set((utcnow() - oldest).total_seconds() if oldest else 0.0)


async def _reset(client: aiosmtplib.SMTP) -> None:
    """Clear the SMTP transaction after a refusal so the next message starts clean."""
    try:
        await client.rset()
    except (aiosmtplib.SMTPException, *_CONNECTION_ERRORS):
        pass
