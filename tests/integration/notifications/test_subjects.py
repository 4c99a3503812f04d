"""Subjects arrive as written: every kind, Russian and English, long company names, through a real SMTP server."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

import aiosmtplib

from oms_devstack.mailcatcher import MailCatcher
from oms_notifications.domain import LOCALES, Kind
from oms_notifications.mailer import PACKAGED_TEMPLATES, Prepared, Renderer, build_message, message_bytes
from oms_notifications.settings import Settings
from tests.support.services import WAIT_SCALE
from tests.unit.notifications.test_templates import a_context

# Long names, padded so that the header folder's cut lands on every position around a space at least once.
NAMES = [
    "ООО «Рога & Копыта»",
    *(
        "ООО «" + "Я" * pad + " Рога и Копыта Строительные Материалы и Оборудование Северо-Запад»"
        for pad in range(0, 12)
    ),
    "Horns & Hooves Limited Liability Company of Very Long Name Industries (North-West Division)",
]


async def test_every_subject_of_every_kind_decodes_to_what_was_written(tmp_path: Path) -> None:
    """R-NT-2: a mail client shows the subject with every space (RFC 2047 encoded words never split at a space),
    for every kind of e-mail in both languages, whatever the length of the buyer's name."""
    renderer = Renderer(PACKAGED_TEMPLATES)
    settings = Settings(mail_from="OMS <noreply@oms.test>")
    expected: dict[str, str] = {}
    with MailCatcher(tmp_path / "mail") as catcher:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=catcher.port, timeout=10)
        await client.connect()
        try:
            for locale in LOCALES:
                for kind in [*(k.value for k in Kind), "password_reset"]:
                    for name in NAMES:
                        context = a_context(
                            locale,
                            buyer_name=name,
                            comment=name,
                            document=name + ".pdf",
                            reset_url="http://oms.test/reset?token=t",
                            expires_at="03.12.2026 15:00 UTC",
                        )
                        rendered = renderer.render(kind, locale, context)
                        row = SimpleNamespace(
                            email_id=str(uuid.uuid4()),
                            to_address=f"{kind}-{locale}@example.test",
                            order_id="o-1",
                            kind=kind,
                        )
                        msg = build_message(row, rendered, settings, context)
                        expected[row.email_id] = rendered.subject
                        await client.sendmail("noreply@oms.test", [row.to_address], message_bytes(msg))
                # Several e-mails to one person sent as one: their subjects joined, or counted.
                for name in NAMES:
                    for kinds in (["new_order", "comment"], ["new_order", "status_changed", "document"]):
                        members = []
                        for kind in kinds:
                            context = a_context(locale, buyer_name=name, comment=name)
                            row = SimpleNamespace(
                                email_id=str(uuid.uuid4()),
                                to_address=f"digest-{locale}@example.test",
                                order_id="o-1",
                                kind=kind,
                                locale=locale,
                            )
                            members.append(Prepared(row, context, renderer.render(kind, locale, context)))
                        rendered, context = renderer.render_group(locale, members)
                        msg = build_message(members[0].row, rendered, settings, context)
                        expected[members[0].row.email_id] = rendered.subject
                        await client.sendmail("noreply@oms.test", [members[0].row.to_address], message_bytes(msg))
        finally:
            await client.quit()
        mails = await catcher.wait_for_messages(len(expected), timeout_s=20 * WAIT_SCALE)
    assert len(mails) == len(expected)
    got = {str(m.message["Message-ID"]).strip("<>").split("@")[0]: m.subject for m in mails}
    wrong = {expected[k]: got[k] for k in expected if got[k] != expected[k]}
    assert not wrong
    assert any("от ООО «Рога & Копыта»" in s for s in got.values())
    assert any(s.startswith("Новый заказ № 1024 от ООО «Рога & Копыта»; ") for s in got.values())
