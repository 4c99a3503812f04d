"""An employee invitation travels from orders through the broker to notifications, which e-mails the link in the
chosen language; the link's page sets the password and the user is in with the access chosen."""

from __future__ import annotations

import re
import uuid
from contextlib import AsyncExitStack
from pathlib import Path

from oms_devstack.mailcatcher import MailCatcher
from oms_notifications.app import create_app as notifications_app
from oms_notifications.settings import Settings as NotificationsSettings
from oms_orders.app import create_app as orders_app
from oms_orders.settings import Settings as OrdersSettings
from tests.integration.shared.test_buyer_invitation import _account
from tests.integration.shared.test_password_reset import PASSWORD, settings_env, sign_in
from tests.support.services import WAIT_SCALE, bearer, running_service


async def test_an_invited_employee_gets_the_link_by_e_mail_and_joins_with_the_chosen_access(
    service_env: dict[str, object], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    """R-ACC-1: the owner invites an employee (in English); the e-mail names the company and carries the link to
    the console's /join-team page; through it the employee sets a password and signs in with the access chosen."""
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
            owner = bearer((await sign_in(o, supplier_email)).json()["access_token"])
            email = f"oleg.{uuid.uuid4().hex[:6]}@example.com"
            grant = {"access_buyers": "read", "access_orders": "change", "restricted_to_own_buyers": True}
            r = await o.post(
                "/api/v1/users/invitations",
                headers=owner,
                json={"email": email, "name": "Oleg", "locale": "en", **grant},
            )
            assert r.status_code == 201, r.text
            [mail] = await catcher.wait_for_messages(1, timeout_s=30 * WAIT_SCALE)
            assert mail.envelope_to == (email,)
            assert mail.subject == "ООО «Поставщик» invites you to work in OMS"
            token = re.findall(r"http://oms\.test/join-team\?token=([A-Za-z0-9_\-]+)", mail.body_text())[0]

            r = await o.post(f"/api/v1/employee-invitations/{token}/accept", json={"password": PASSWORD})
            assert r.status_code == 201, r.text
            me = (await o.get("/api/v1/me", headers=bearer((await sign_in(o, email)).json()["access_token"]))).json()
            assert me["account"]["account_id"] == supplier["account_id"]
            assert me["access"] == {"buyers": "read", "orders": "change"}
            assert me["user"]["restricted_to_own_buyers"] is True and me["user"]["locale"] == "en"
