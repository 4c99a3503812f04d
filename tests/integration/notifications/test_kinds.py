"""Every event of R-NT-3 reaches the right people with the right content; opt-outs and template errors."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from oms_devstack.mailcatcher import MailCatcher
from oms_notifications.app import create_app
from oms_notifications.mailer import PACKAGED_TEMPLATES
from oms_shared.contracts import LineChange, OrderStatus
from tests.integration.notifications.support import World, inbox, processed, publisher
from tests.integration.notifications.test_thin_slice import settings
from tests.support.services import WAIT_SCALE, eventually, running_service


async def test_every_order_event_kind_tells_the_right_people_and_respects_opt_outs(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-NT-3, R-NT-2, R-NT-1: new order, comment, document, shipment date, lines moved, line edits, overdue,
    ERP conflict and rejection each notify their audience in-app and by e-mail in the user's language, with
    per-line markers; a user's e-mail opt-out for a kind is honoured; a broken template keeps the e-mail as
    failed with the reason while the in-app notification stands."""
    private = keys[0]
    world = World()
    templates = tmp_path / "templates"
    shutil.copytree(PACKAGED_TEMPLATES, templates)
    (templates / "ru" / "document.j2").write_text(
        '{% extends "ru/base.j2" %}{% block text %}{{ no_such_value }}{% endblock %}'
    )
    with MailCatcher(tmp_path / "mail") as catcher:
        assert catcher.port is not None
        app = create_app(settings(database_url, service_env, catcher.port, templates_dir=str(templates)))
        async with running_service(app) as client, publisher(kafka) as send:
            r = await client.put(
                "/api/v1/preferences", json={"email": {"comment": False}}, headers=world.buyer1.headers(private)
            )
            assert r.status_code == 200 and r.json()["email"]["comment"] is False and r.json()["email"]["document"]
            for event in world.setup_events():
                await send(event)
            await eventually(lambda: _at_least(client, "buyer.updated", 2))
            await eventually(lambda: _at_least(client, "account.updated", 2))

            placed = world.order_placed(number="1024")
            line = placed.data.lines[0]
            part_id = uuid.uuid4()
            await send(placed)
            await send(world.order_placed(number="1024-2", order_id=part_id, parent_order_id=placed.data.order_id))
            await eventually(lambda: _at_least(client, "order.placed", 2))
            events = [
                world.changed(placed, "comment", world.buyer2, text="Можно быстрее?"),
                world.changed(placed, "document", world.owner, file_name="invoice.pdf"),
                world.changed(placed, "shipment_date", world.manager, shipment_date="2026-12-01"),
                world.changed(
                    placed,
                    "split",
                    world.manager,
                    line_changes=[LineChange(line_id=line.line_id, sku="SKU-1", field="moved")],
                ),
                world.changed(
                    placed,
                    "lines_edited",
                    world.manager,
                    line_changes=[LineChange(line_id=line.line_id, sku="SKU-1", field="quantity", old="10", new="7")],
                ),
                world.changed(placed, "overdue", None),
                world.changed(placed, "erp_conflict", None, detail="1С изменила количество"),
                world.changed(placed, "payment", world.manager, paid="10.00"),  # not an R-NT-3 event
                world.status_changed(placed, OrderStatus.REJECTED, by=world.manager, comment="Нет на складе"),
            ]
            # The split event names the new part; make it related so the e-mail can name it.
            events[3] = events[3].model_copy(
                update={"data": events[3].data.model_copy(update={"related_order_ids": [part_id]})}
            )
            for event in events:
                await send(event)
            await eventually(lambda: _at_least(client, "order.status_changed", 1), timeout=15)
            await eventually(lambda: _at_least(client, "order.changed", 8), timeout=15)

            async def kinds_of(person: object) -> list[str]:
                return sorted(i["kind"] for i in (await inbox(client, person, private, limit=100))["items"])  # type: ignore[arg-type]

            owner_kinds = [
                "comment",
                "erp_conflict",
                "lines_edited",
                "lines_moved",
                "new_order",
                "overdue",
                "rejected",
                "shipment_date",
            ]
            assert await kinds_of(world.owner) == owner_kinds
            assert await kinds_of(world.manager) == ["comment", "document", "erp_conflict", "new_order", "overdue"]
            assert await kinds_of(world.buyer1) == [
                "comment",
                "document",
                "lines_edited",
                "lines_moved",
                "rejected",
                "shipment_date",
            ]
            assert await kinds_of(world.buyer2) == [
                "document",
                "lines_edited",
                "lines_moved",
                "rejected",
                "shipment_date",
            ]
            assert await kinds_of(world.reader) == []
            assert await kinds_of(world.other_manager) == []

            # Per-line markers and the count of orders with unseen changes.
            markers = (await client.get("/api/v1/notifications/unread", headers=world.buyer2.headers(private))).json()
            assert markers["unread_orders"] == 1 and markers["unread"] == 5
            assert markers["orders"][0]["changed_line_ids"] == [str(line.line_id)]
            edited = await inbox(client, world.buyer2, private, kind="lines_edited")
            assert edited["items"][0]["changed_line_ids"] == [str(line.line_id)]

            # E-mails: 3 new order + 3 comment (buyer1 opted out) + 2 document (2 Russian ones fail the broken
            # template) + 4 shipment date + 4 moved + 4 edited + 3 overdue + 3 ERP conflict + 4 rejected.
            mails = await catcher.wait_for_messages(30, timeout_s=15 * WAIT_SCALE)
            subjects: dict[str, list[str]] = {}
            for m in mails:
                subjects.setdefault(m.envelope_to[0], []).append(m.subject)
            assert not any("комментарий" in s for s in subjects[world.buyer1.email])
            assert "New comment on order No. 1024" in subjects[world.full.email]
            assert "Новый комментарий к заказу № 1024" in subjects[world.owner.email]
            assert "Shipment date of order No. 1024: Dec 1, 2026" in subjects[world.buyer2.email]
            assert "Order No. 1024: lines moved to another part" in subjects[world.buyer2.email]
            assert "Changes in order No. 1024" in subjects[world.buyer2.email]
            assert "Order No. 1024 was rejected" in subjects[world.buyer2.email]
            assert "Заказ № 1024 отклонён" in subjects[world.buyer1.email]
            assert "Заказ № 1024 просрочен" in subjects[world.owner.email]
            assert "Конфликт с учётной системой по заказу № 1024" in subjects[world.manager.email]
            assert "New document in order No. 1024" in subjects[world.buyer2.email]
            edited_mail = next(m for m in mails if m.subject == "Changes in order No. 1024")
            assert "SKU-1: quantity 10 → 7" in edited_mail.body_text()
            moved_mail = next(m for m in mails if m.subject == "Order No. 1024: lines moved to another part")
            assert "1024-2" in moved_mail.body_text()

            failed = (
                await client.get("/api/v1/emails", params={"status": "failed"}, headers=world.owner.headers(private))
            ).json()
            assert sorted(i["to"] for i in failed["items"]) == sorted([world.manager.email, world.buyer1.email])
            assert all(
                "ru/document.j2" in i["last_error"] and "no_such_value" in i["last_error"] for i in failed["items"]
            )
            assert len(catcher.messages()) == 30


async def _at_least(client: object, event_type: str, count: int) -> bool:
    return await processed(client, event_type) >= count  # type: ignore[arg-type]
