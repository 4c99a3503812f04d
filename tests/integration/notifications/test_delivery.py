"""E-mail delivery that survives faults: SMTP down, refused addresses, retries, and the owner's outbox API."""

from __future__ import annotations

import uuid
from pathlib import Path

from oms_devstack.mailcatcher import MailCatcher
from oms_devstack.procs import free_port
from oms_notifications.app import create_app
from tests.integration.notifications.support import World, inbox, metric, processed, publisher
from tests.integration.notifications.test_thin_slice import settings
from tests.support.services import WAIT_SCALE, eventually, running_service


async def test_mail_survives_smtp_outage_and_refused_address_is_failed_then_retried(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-NT-4: with the SMTP server down every e-mail waits and is retried with backoff, never given up on; when it
    comes back each
    arrives exactly once; an address the server refuses is marked failed (API and metric) without holding up the
    others, and the owner can retry it."""
    private = keys[0]
    world = World()
    port = free_port("127.0.0.1")
    app = create_app(
        settings(
            database_url,
            service_env,
            port,
            email_retry_base_s=0.2,
            email_retry_max_s=0.8,
            smtp_idle_close_s=60,  # keep the session open so the outage hits it
        )
    )
    async with running_service(app) as client, publisher(kafka) as send:
        for event in world.setup_events():
            await send(event)
        await eventually(lambda: _at_least(client, "buyer.updated", 2))
        await eventually(lambda: _at_least(client, "account.updated", 2))
        placed = world.order_placed(number="2048")
        await send(placed)

        owner = world.owner.headers(private)

        async def waiting_after_failed_attempts() -> bool:
            body = (await client.get("/api/v1/emails", params={"status": "pending"}, headers=owner)).json()
            return body["total"] == 3 and all(
                i["attempts"] >= 7 and "connect" in i["last_error"] for i in body["items"]
            )

        # More attempts than any give-up limit would allow, and none is failed: an outage only delays mail.
        await eventually(waiting_after_failed_attempts, timeout=20)
        assert (await client.get("/api/v1/emails", params={"status": "failed"}, headers=owner)).json()["total"] == 0
        assert await metric(client, "oms_notifications_emails_retried_total") >= 6
        await eventually(lambda: _metric_at_least(client, "oms_notifications_email_queue_depth", 3))
        assert await metric(client, "oms_notifications_email_oldest_pending_age_seconds") > 0

        # The server comes back, refusing one address.
        with MailCatcher(tmp_path / "mail", port=port, refuse=[world.full.email]) as catcher:
            mails = await catcher.wait_for_messages(2, timeout_s=10 * WAIT_SCALE)
            failed = await eventually(lambda: _emails(client, owner, "failed", 1), timeout=10)
            item = failed["items"][0]
            assert item["to"] == world.full.email
            assert "550" in item["last_error"]
            assert await metric(client, "oms_notifications_emails_failed_total") == 1
            await eventually(lambda: _metric_at_least(client, "oms_notifications_emails_failed_current", 1))
            await eventually(lambda: _emails(client, owner, "sent", 2), timeout=10)
            mails = catcher.messages()
            assert sorted(m.envelope_to[0] for m in mails) == sorted([world.owner.email, world.manager.email])

            # Only the owner of the same account may look at or retry it.
            other = World()
            assert (await client.get("/api/v1/emails", headers=world.full.headers(private))).json()["error"][
                "code"
            ] == "owner_only"
            assert (await client.get("/api/v1/emails", headers=world.buyer1.headers(private))).status_code == 403
            foreign = await client.post(
                f"/api/v1/emails/{item['email_id']}/retry", headers=other.owner.headers(private)
            )
            assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "email_not_found"
            missing = await client.post(f"/api/v1/emails/{uuid.uuid4()}/retry", headers=owner)
            assert missing.status_code == 404
            bad = await client.post("/api/v1/emails/not-a-uuid/retry", headers=owner)
            assert bad.status_code == 422
            bad_status = await client.get("/api/v1/emails", params={"status": "lost"}, headers=owner)
            assert bad_status.status_code == 422

            # The address is fixed; the owner retries; it arrives once.
            catcher.refuse.clear()
            retried = await client.post(f"/api/v1/emails/{item['email_id']}/retry", headers=owner)
            assert retried.status_code == 200 and retried.json()["status"] == "pending"
            await catcher.wait_for_messages(3, timeout_s=10 * WAIT_SCALE)
            await eventually(lambda: _emails(client, owner, "sent", 3), timeout=10)
            again = await client.post(f"/api/v1/emails/{item['email_id']}/retry", headers=owner)
            assert again.status_code == 409 and again.json()["error"]["code"] == "email_sent"
            assert sorted(m.envelope_to[0] for m in catcher.messages()) == sorted(
                [world.owner.email, world.manager.email, world.full.email]
            )
            assert (await inbox(client, world.full, private))["total"] == 1

        # The server goes away under an open SMTP session, then comes back: the next order's mails arrive once.
        await send(world.order_placed(number="2049"))

        async def retried_after_lost_session() -> bool:
            body = (await client.get("/api/v1/emails", params={"status": "pending"}, headers=owner)).json()
            return body["total"] == 3 and all(i["attempts"] >= 1 for i in body["items"])

        await eventually(retried_after_lost_session, timeout=15)
        with MailCatcher(tmp_path / "mail-2", port=port) as catcher:
            mails = await catcher.wait_for_messages(3, timeout_s=10 * WAIT_SCALE)
            await eventually(lambda: _emails(client, owner, "sent", 6), timeout=10)
            assert sorted(m.envelope_to[0] for m in catcher.messages()) == sorted(
                [world.owner.email, world.manager.email, world.full.email]
            )
            assert all("2049" in m.subject for m in mails)


async def test_inbox_is_private_and_rejects_bad_input(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-ACC-4: a user sees and marks only their own notifications; bad input gets a 4xx with a code."""
    private = keys[0]
    world = World()
    with MailCatcher(tmp_path / "mail") as catcher:
        assert catcher.port is not None
        app = create_app(settings(database_url, service_env, catcher.port))
        async with running_service(app) as client, publisher(kafka) as send:
            for event in world.setup_events():
                await send(event)
            await eventually(lambda: _at_least(client, "buyer.updated", 2))
            await eventually(lambda: _at_least(client, "account.updated", 2))
            await send(world.order_placed(number="1"))
            await send(world.order_placed(number="2"))
            await eventually(lambda: _inbox_total(client, world.owner, private, 2))
            await eventually(lambda: _inbox_total(client, world.full, private, 2))
            mine = (await inbox(client, world.owner, private, limit=1))["items"]
            assert len(mine) == 1
            page2 = await inbox(client, world.owner, private, limit=1, offset=1, sort="created_at")
            assert page2["total"] == 2 and page2["limit"] == 1 and page2["offset"] == 1
            theirs = (await inbox(client, world.full, private))["items"][0]["notification_id"]
            other = World()

            async def mark(who_headers: dict[str, str], body: object) -> tuple[int, str]:
                r = await client.post("/api/v1/notifications/read", json=body, headers=who_headers)
                return r.status_code, (r.json().get("error") or {}).get("code", "")

            owner = world.owner.headers(private)
            stranger = other.owner.headers(private)  # another account's id is answered as an unknown one
            assert await mark(stranger, {"notification_ids": [theirs]}) == (404, "notification_not_found")
            assert await mark(owner, {"notification_ids": [theirs]}) == (403, "not_your_notification")
            assert await mark(owner, {"notification_ids": [str(uuid.uuid4())]}) == (404, "notification_not_found")
            assert await mark(owner, {}) == (422, "invalid_read_selector")
            assert await mark(owner, {"all": True, "order_id": str(uuid.uuid4())}) == (422, "invalid_read_selector")
            assert await mark(owner, {"notification_ids": ["nope"]}) == (422, "validation_error")
            assert (await inbox(client, world.full, private))["unread"] == 2  # nothing changed
            r = await client.get("/api/v1/notifications", params={"limit": 0}, headers=owner)
            assert r.status_code == 422
            r = await client.get("/api/v1/notifications")
            assert r.status_code == 401
            r = await client.put("/api/v1/preferences", json={"email": {"gossip": False}}, headers=owner)
            assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_kind"
            assert (await inbox(client, other.owner, private))["total"] == 0


async def _at_least(client: object, event_type: str, count: int) -> bool:
    return await processed(client, event_type) >= count  # type: ignore[arg-type]


async def _metric_at_least(client: object, name: str, value: float) -> bool:
    return await metric(client, name) >= value  # type: ignore[arg-type]


async def _emails(client: object, headers: dict[str, str], status: str, count: int) -> dict[str, object] | bool:
    body = (await client.get("/api/v1/emails", params={"status": status}, headers=headers)).json()  # type: ignore[attr-defined]
    return body if body["total"] == count else False


async def _inbox_total(client: object, who: object, private: Path, count: int) -> bool:
    return (await inbox(client, who, private))["total"] == count  # type: ignore[arg-type]
