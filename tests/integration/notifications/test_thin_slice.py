"""Thin slice: order events reach the right people in-app and by e-mail, once, through the real broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oms_devstack.mailcatcher import MailCatcher
from oms_notifications.app import create_app
from oms_notifications.settings import Settings
from oms_shared.contracts import OrderStatus
from tests.integration.notifications.support import World, dead_letters, inbox, processed, publisher
from tests.support.services import WAIT_SCALE, eventually, running_service


def settings(database_url: str, service_env: dict[str, object], smtp_port: int, **over: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "smtp_port": smtp_port,
        "email_retry_base_s": 0.1,
        "email_poll_interval_s": 0.1,
        # One e-mail per event here; the coalescing of e-mails has its own tests.
        "email_coalesce_window_s": 0,
        "public_base_url": "http://oms.test",
        **service_env,
    }
    values.update(over)
    return Settings(**values)


async def test_new_order_and_confirmation_reach_the_right_people_once(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-NT-1, R-NT-2, R-NT-4: a new order tells the supplier's owner, full-access staff and the buyer's manager
    (not a read-only employee, not a manager restricted to another buyer, not the buyer who placed it) in-app and
    by e-mail; its confirmation tells the buyer's users; a redelivered event sends no second e-mail."""
    private = keys[0]
    world = World()
    with MailCatcher(tmp_path / "mail") as catcher:
        assert catcher.port is not None
        app = create_app(settings(database_url, service_env, catcher.port))
        async with running_service(app) as client, publisher(kafka) as send:
            for event in world.setup_events():
                await send(event)
            await eventually(lambda: _at_least(client, "account.updated", 2))
            await eventually(lambda: _at_least(client, "buyer.updated", 2))

            placed = world.order_placed(number="1024")
            await send(placed)
            told = [world.owner, world.full, world.manager]
            for person in told:
                await eventually(lambda p=person: _has_items(client, p, private, 1))
            for person in (world.reader, world.other_manager, world.buyer1, world.buyer2):
                assert (await inbox(client, person, private))["total"] == 0

            owner_box = await inbox(client, world.owner, private)
            item = owner_box["items"][0]
            assert item["order_number"] == "1024"
            assert item["kind"] == "new_order"
            assert item["read"] is False
            assert "1024" in item["title"]
            assert owner_box["unread"] == 1 and owner_box["unread_orders"] == 1

            mails = await catcher.wait_for_messages(3, timeout_s=10 * WAIT_SCALE)
            by_rcpt = {m.envelope_to[0]: m for m in mails}
            assert set(by_rcpt) == {p.email for p in told}
            owner_mail = by_rcpt[world.owner.email]
            assert "1024" in owner_mail.subject
            assert owner_mail.subject.startswith("Новый заказ")
            assert by_rcpt[world.full.email].subject.startswith("New order")  # the employee's locale is English
            msg = owner_mail.message
            assert msg.is_multipart()
            assert msg.get_body(preferencelist=("plain",)) is not None
            assert msg.get_body(preferencelist=("html",)) is not None
            assert "http://oms.test/orders/" + str(placed.data.order_id) in owner_mail.body_text()
            assert msg["Message-ID"] and msg["Date"] and msg["List-Unsubscribe"]

            # The supplier confirms: the buyer's users hear of it, the confirming manager does not.
            confirmed = world.status_changed(placed, OrderStatus.CONFIRMED, by=world.manager)
            await send(confirmed)
            await send(confirmed)  # redelivered
            for person in (world.buyer1, world.buyer2):
                await eventually(lambda p=person: _has_items(client, p, private, 1))
            buyer_item = (await inbox(client, world.buyer1, private))["items"][0]
            assert buyer_item["kind"] == "status_changed"
            assert "Подтверждён" in buyer_item["title"]
            assert (await inbox(client, world.manager, private))["total"] == 1  # only the new order
            mails = await catcher.wait_for_messages(3 + 4, timeout_s=10 * WAIT_SCALE)  # buyer1, buyer2, owner, full
            # Both copies were handled (the second one deduped, or wrongly applied again), and anything they
            # queued was sent.
            await eventually(lambda: _handled(client, "order.status_changed", 2))
            await _settle(client, world.owner, private)
            mails = catcher.messages()
            assert len(mails) == 7
            confirm_mails = [m for m in mails if "Подтверждён" in m.subject or "Confirmed" in m.subject]
            assert sorted(m.envelope_to[0] for m in confirm_mails) == sorted(
                p.email for p in (world.buyer1, world.buyer2, world.owner, world.full)
            )

            # Mark read: one item, then the whole order, then all.
            owner_item = (await inbox(client, world.owner, private, order_id=str(placed.data.order_id)))["items"]
            response = await client.post(
                "/api/v1/notifications/read",
                json={"notification_ids": [owner_item[0]["notification_id"]]},
                headers=world.owner.headers(private),
            )
            assert response.json() == {"marked": 1, "unread": 1, "unread_orders": 1}  # the badge after it
            box = await inbox(client, world.owner, private, unread="true")
            assert box["total"] == 1 and box["unread"] == 1
            response = await client.post(
                "/api/v1/notifications/read",
                json={"order_id": str(placed.data.order_id)},
                headers=world.owner.headers(private),
            )
            assert response.json() == {"marked": 1, "unread": 0, "unread_orders": 0}
            box = await inbox(client, world.owner, private)
            assert box["unread"] == 0 and box["unread_orders"] == 0 and box["total"] == 2
            response = await client.post(
                "/api/v1/notifications/read", json={"all": True}, headers=world.buyer2.headers(private)
            )
            assert response.json() == {"marked": 1, "unread": 0, "unread_orders": 0}

            # The owner sees the e-mail outbox.
            response = await client.get(
                "/api/v1/emails", params={"status": "sent"}, headers=world.owner.headers(private)
            )
            assert response.status_code == 200
            assert response.json()["total"] == 7


async def test_event_before_its_account_or_order_waits_for_it_and_unknown_ones_go_to_dead_letter_topic(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """Bad input, R-NT-1: an order event that arrives before the account or order it names (another
    topic, so Kafka does not order them) waits and is delivered once they arrive — nobody misses a
    notification; one whose account or order never arrives goes to the DLQ with the reason after the
    waiting deadline, and the consumer keeps going meanwhile."""
    world = World()
    with MailCatcher(tmp_path / "mail") as catcher:
        assert catcher.port is not None
        # Nothing gives up waiting while the test is still sending what 55 waits for (however slow the runner);
        # the deadline is shortened once 55 is delivered, for the two that never become deliverable.
        app = create_app(
            settings(
                database_url, service_env, catcher.port, consumer_park_backoff_s=0.05, consumer_park_deadline_s=3600
            )
        )
        async with running_service(app) as client, publisher(kafka) as send:
            stranger = World()  # a supplier whose account.updated never arrives
            await send(stranger.order_placed(number="77"))
            never_placed = world.order_placed(number="88")
            await send(world.changed(never_placed, "comment", world.owner, text="hello"))
            await send(world.order_placed(number="55"))  # before its supplier's account.updated
            for event in world.setup_events():
                await send(event)
            await eventually(lambda: _at_least(client, "buyer.updated", 2))
            await send(world.order_placed(number="99"))
            # Both orders reach the owner: 55 once its account arrived, 99 at once.
            await eventually(lambda: _has_items(client, world.owner, keys[0], 2))
            app.state.runtime.consumer.park_deadline_s = 0.5
            dlq = await dead_letters(kafka, "order.placed", "order.changed", timeout=30)
            assert "unknown supplier account" in dlq["order.placed"][0]["dlq_error"]
            assert "unknown order" in dlq["order.changed"][0]["dlq_error"]
            assert len(dlq["order.placed"]) == 1
            numbers = sorted(i["order_number"] for i in (await inbox(client, world.owner, keys[0]))["items"])
            assert numbers == ["55", "99"]
            await catcher.wait_for_messages(3, timeout_s=10 * WAIT_SCALE)


async def _at_least(client: Any, event_type: str, count: int) -> bool:
    return await processed(client, event_type) >= count


async def _handled(client: Any, event_type: str, count: int) -> bool:
    """The consumer has seen ``count`` deliveries of the type: applied, or recognised as duplicates."""
    return await processed(client, event_type) + await processed(client, event_type, "duplicate") >= count


async def _has_items(client: Any, person: Any, private: Path, count: int) -> bool:
    return (await inbox(client, person, private))["total"] >= count


async def _settle(client: Any, owner: Any, private: Path) -> None:
    """Wait until no e-mail is waiting to be sent (the owner's outbox holds every e-mail of this test)."""

    async def nothing_pending() -> None:
        answer = await client.get("/api/v1/emails", params={"status": "pending"}, headers=owner.headers(private))
        assert answer.status_code == 200 and answer.json()["total"] == 0, answer.text

    await eventually(nothing_pending)
