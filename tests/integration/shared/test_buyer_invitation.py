"""Inviting a buyer company by e-mail: orders issues a one-time link, notifications sends it, through the broker;
registering or accepting through it links the supplier's buyer record to the account."""

from __future__ import annotations

import re
import uuid
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

from oms_devstack.mailcatcher import MailCatcher
from oms_notifications.app import create_app as notifications_app
from oms_notifications.settings import Settings as NotificationsSettings
from oms_orders.app import create_app as orders_app
from oms_orders.db import buyer_invitations
from oms_orders.handlers.identity import purge_expired
from oms_orders.settings import Settings as OrdersSettings
from oms_shared.db import utcnow
from tests.integration.orders.helpers import catalogue
from tests.integration.shared.test_password_reset import PASSWORD, settings_env, sign_in
from tests.support.services import WAIT_SCALE, bearer, running_service


async def _account(client: httpx.AsyncClient, kind: str, name: str, **extra: str) -> tuple[dict[str, str], str]:
    email = f"{kind}.{uuid.uuid4().hex[:6]}@example.com"
    r = await client.post(
        "/api/v1/accounts",
        json={"kind": kind, "name": name, **extra, "owner": {"email": email, "password": PASSWORD}},
    )
    assert r.status_code == 201, r.text
    return r.json(), email


async def test_an_invited_buyer_registers_or_accepts_through_the_e_mailed_link_and_its_record_is_linked(
    service_env: dict[str, object], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    """R-IN-2: the supplier invites a buyer record's company by e-mail; notifications sends the link in the
    chosen language; registering through it creates the buyer account and fills the record's buyer_account_id,
    so the new buyer sees the price lists open to that record at once; a buyer with an account already accepts
    instead; a link works once, not after it expires, and a record that has its account is not invited again."""
    with MailCatcher(tmp_path / "mail") as catcher:
        assert catcher.port is not None
        orders = orders_app(
            OrdersSettings(jwt_private_key_file=str(keys[0]), **settings_env(service_env, "orders", tmp_path))
        )
        notifications = notifications_app(
            NotificationsSettings(
                smtp_port=catcher.port,
                email_poll_interval_s=0.1,
                public_base_url="http://oms.test",
                **settings_env(service_env, "notifications", tmp_path),
            )
        )
        async with AsyncExitStack() as stack:
            o = await stack.enter_async_context(running_service(orders))
            await stack.enter_async_context(running_service(notifications))
            supplier, supplier_email = await _account(o, "supplier", "ООО «Поставщик»")
            await catalogue(o, supplier["account_id"], [("A-1", "Болт", "шт")])
            sup = bearer((await sign_in(o, supplier_email)).json()["access_token"])
            r = await o.post(
                "/api/v1/buyers", headers=sup, json={"name": "ООО «Ромашка»", "inn": "7701000001", "kpp": "770101001"}
            )
            romashka = r.json()["buyer_id"]
            r = await o.post(
                "/api/v1/price-lists",
                headers=sup,
                json={"name": "Опт", "items": [{"sku": "A-1", "price": "10"}], "buyer_ids": [romashka]},
            )
            assert r.status_code == 201, r.text

            invited = "Zakupki@Romashka.example"
            r = await o.post(f"/api/v1/buyers/{romashka}/invitations", headers=sup, json={"email": invited})
            assert r.status_code == 201, r.text
            assert r.json()["email"] == invited.lower() and "token" not in r.json()
            mails = await catcher.wait_for_messages(1, timeout_s=30 * WAIT_SCALE)
            assert [m.envelope_to[0] for m in mails] == [invited.lower()]
            assert mails[0].subject == "ООО «Поставщик» приглашает ООО «Ромашка» заказывать в OMS"
            token = re.findall(r"http://oms\.test/invitation\?token=([A-Za-z0-9_\-]+)", mails[0].body_text())[0]

            shown = await o.get(f"/api/v1/invitations/{token}")
            assert shown.status_code == 200, shown.text
            assert (shown.json()["supplier_name"], shown.json()["buyer_name"]) == ("ООО «Поставщик»", "ООО «Ромашка»")
            assert (await o.get("/api/v1/invitations/forged")).status_code == 404
            r = await o.post(
                f"/api/v1/invitations/{token}/register",
                json={"email": invited, "password": PASSWORD, "name": "Ирина"},
            )
            assert r.status_code == 201, r.text
            account_id = r.json()["account_id"]
            assert r.json()["buyer_id"] == romashka
            record = (await o.get(f"/api/v1/buyers/{romashka}", headers=sup)).json()
            assert record["buyer_account_id"] == account_id
            buyer = bearer((await sign_in(o, invited)).json()["access_token"])
            assert (await o.get("/api/v1/price-lists", headers=buyer)).json()["total"] == 1
            r = await o.post(
                f"/api/v1/invitations/{token}/register",
                json={"email": "second@romashka.example", "password": PASSWORD},
            )
            assert r.status_code == 404 and r.json()["error"]["code"] == "invitation_not_found"  # once only
            r = await o.post(f"/api/v1/buyers/{romashka}/invitations", headers=sup, json={"email": invited})
            assert r.status_code == 409 and r.json()["error"]["code"] == "buyer_already_linked"

            # A buyer company with an account already accepts (in English this time).
            _, lily_email = await _account(o, "buyer", "Lily Ltd")
            lily = bearer((await sign_in(o, lily_email)).json()["access_token"])
            r = await o.post("/api/v1/buyers", headers=sup, json={"name": "Lily Ltd"})
            lily_record = r.json()["buyer_id"]
            r = await o.post(
                f"/api/v1/buyers/{lily_record}/invitations", headers=sup, json={"email": lily_email, "locale": "en"}
            )
            assert r.status_code == 201, r.text
            mails = await catcher.wait_for_messages(2, timeout_s=30 * WAIT_SCALE)
            assert mails[-1].subject == "ООО «Поставщик» invites Lily Ltd to order in OMS"
            token = re.findall(r"token=([A-Za-z0-9_\-]+)", mails[-1].body_text())[0]
            assert (await o.post(f"/api/v1/invitations/{token}/accept", headers=sup)).status_code == 403
            r = await o.post(f"/api/v1/invitations/{token}/accept", headers=lily)
            assert r.status_code == 200, r.text
            lily_account = (await o.get(f"/api/v1/buyers/{lily_record}", headers=sup)).json()["buyer_account_id"]
            assert lily_account == r.json()["account_id"]

            # A link past its time does nothing.
            r = await o.post("/api/v1/buyers", headers=sup, json={"name": "Late LLC"})
            late_record = r.json()["buyer_id"]
            r = await o.post(f"/api/v1/buyers/{late_record}/invitations", headers=sup, json={"email": "l@late.example"})
            assert r.status_code == 201
            mails = await catcher.wait_for_messages(3, timeout_s=30 * WAIT_SCALE)
            late = re.findall(r"token=([A-Za-z0-9_\-]+)", mails[-1].body_text())[0]
            async with orders.state.runtime.db.transaction() as tx:
                await tx.conn.execute(buyer_invitations.update().values(expires_at=utcnow() - timedelta(seconds=1)))
            r = await o.post(
                f"/api/v1/invitations/{late}/register", json={"email": "l@late.example", "password": PASSWORD}
            )
            assert r.status_code == 404
            assert (await o.get(f"/api/v1/buyers/{late_record}", headers=sup)).json()["buyer_account_id"] is None

            # A day past expiry an unused invitation is forgotten; accepted ones stay (how a record got its account).
            async with orders.state.runtime.db.transaction() as tx:
                await tx.conn.execute(buyer_invitations.update().values(expires_at=utcnow() - timedelta(days=2)))
            assert await purge_expired(orders.state.runtime.db) == 1
            async with orders.state.runtime.db.read() as conn:
                left = (await conn.execute(sa.select(buyer_invitations.c.buyer_id))).scalars().all()
            assert sorted(left) == sorted([romashka, lily_record])
