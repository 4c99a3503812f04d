"""What one action causes reaches each person as one e-mail that says what changed."""

from __future__ import annotations

from pathlib import Path

import httpx

from oms_devstack.mailcatcher import CaughtMessage, MailCatcher
from oms_notifications.app import create_app
from oms_shared.contracts import LineChange, OrderStatus
from tests.integration.notifications.support import Person, World, processed, publisher
from tests.integration.notifications.test_thin_slice import settings
from tests.support.services import WAIT_SCALE, eventually, running_service


def _to(mails: list[CaughtMessage], person: Person) -> list[CaughtMessage]:
    return [m for m in mails if m.envelope_to == (person.email,)]


async def _sent(client: httpx.AsyncClient, owner: dict[str, str], count: int) -> bool:
    body = (await client.get("/api/v1/emails", params={"status": "sent", "limit": 500}, headers=owner)).json()
    return bool(body["total"] >= count)


async def test_a_move_and_an_edit_each_reach_a_person_as_one_e_mail_saying_what_changed(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-NT-2, R-NT-3: a move of lines into a new part (an event for the order and one for the part) reaches each
    person as one e-mail naming the line and the parts it went from and to; an edit (status "Editing" and the
    changed lines) as one e-mail with both; every queued e-mail is recorded sent, none twice."""
    private = keys[0]
    world = World()
    owner = world.owner.headers(private)
    with MailCatcher(tmp_path / "mail") as catcher:
        assert catcher.port is not None
        app = create_app(settings(database_url, service_env, catcher.port, email_coalesce_window_s=3.0))
        async with running_service(app) as client, publisher(kafka) as send:
            for event in world.setup_events():
                await send(event)
            await eventually(lambda: _at_least(client, "buyer.updated", 2))
            await eventually(lambda: _at_least(client, "account.updated", 2))
            placed = world.order_placed(number="1024")
            line = placed.data.lines[0]
            await send(placed)
            # owner, full and the buyer's manager hear of the new order (the buyer placed it)
            await catcher.wait_for_messages(3, timeout_s=20 * WAIT_SCALE)

            # The owner moves SKU-1 into a new part: the part is placed, and both orders tell of the move.
            part = world.order_placed(
                number="1024-2", parent_order_id=placed.data.order_id, placed_by_user_id=world.owner.user_id
            )
            moved = [LineChange(line_id=line.line_id, sku="SKU-1", field="moved", new="1024-2")]
            on_order = world.changed(placed, "split", world.owner, line_changes=moved)
            on_order = on_order.model_copy(
                update={"data": on_order.data.model_copy(update={"related_order_ids": [part.data.order_id]})}
            )
            on_part = world.changed(part, "split", world.owner, line_changes=moved)
            on_part = on_part.model_copy(
                update={"data": on_part.data.model_copy(update={"related_order_ids": [placed.data.order_id]})}
            )
            for event in (part, on_order, on_part):
                await send(event)
            # full, manager, buyer1 and buyer2: 2 e-mails each (one per order), sent as one message each
            await eventually(lambda: _sent(client, owner, 3 + 8), timeout=30)
            mails = catcher.messages()
            assert len(mails) == 3 + 4
            for person, expected in (
                (world.manager, "SKU-1: перенесена № 1024 → № 1024-2"),
                (world.buyer1, "SKU-1: перенесена № 1024 → № 1024-2"),
                (world.full, "SKU-1: moved No. 1024 → No. 1024-2"),
                (world.buyer2, "SKU-1: moved No. 1024 → No. 1024-2"),
            ):
                about_move = [m for m in _to(mails, person) if "перенесены" in m.subject or "moved" in m.subject]
                assert len(about_move) == 1, [m.subject for m in _to(mails, person)]
                body = about_move[0].body_text()
                assert expected in body and body.count(expected) == 1, body

            # The buyer edits the order: its status becomes "Editing" and a quantity changes.
            catcher.clear()
            edited = [LineChange(line_id=line.line_id, sku="SKU-2", field="quantity", old="4", new="3")]
            await send(world.status_changed(placed, OrderStatus.EDITING, by=world.buyer1))
            await send(world.changed(placed, "lines_edited", world.buyer1, line_changes=edited))
            await eventually(lambda: _sent(client, owner, 3 + 8 + 8), timeout=30)
            mails = catcher.messages()
            assert sorted(m.envelope_to[0] for m in mails) == sorted(
                p.email for p in (world.owner, world.full, world.manager, world.buyer2)
            )
            manager = _to(mails, world.manager)[0]
            assert "Редактируется" in manager.subject and "Изменения в заказе № 1024" in manager.subject
            assert "SKU-2: количество 4 → 3" in manager.body_text() and "Редактируется" in manager.body_text()
            english = _to(mails, world.full)[0]
            assert "Editing" in english.body_text() and "SKU-2: quantity 4 → 3" in english.body_text()
            failed = (await client.get("/api/v1/emails", params={"status": "failed"}, headers=owner)).json()
            assert failed["total"] == 0


async def _at_least(client: httpx.AsyncClient, event_type: str, count: int) -> bool:
    return await processed(client, event_type) >= count
