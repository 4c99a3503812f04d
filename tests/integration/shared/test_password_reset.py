"""Password reset by e-mail: orders issues a one-time link, notifications sends it, through the real broker."""

from __future__ import annotations

import re
import uuid
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from oms_devstack.mailcatcher import MailCatcher
from oms_notifications.app import create_app as notifications_app
from oms_notifications.settings import Settings as NotificationsSettings
from oms_orders.app import create_app as orders_app
from oms_orders.db import password_resets
from oms_orders.settings import Settings as OrdersSettings
from oms_shared.db import utcnow
from tests.support.services import WAIT_SCALE, running_service

PASSWORD = "secret-pass-1"


def settings_env(service_env: dict[str, object], name: str, tmp_path: Path) -> dict[str, Any]:
    env = dict(service_env)
    env["consumer_group"] = f"{env['consumer_group']}-{name}"
    env["database_url"] = f"sqlite+aiosqlite:///{tmp_path / name}.db"
    return env


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/auth/token", json={"email": email, "password": password})


async def test_a_reset_link_arrives_by_e_mail_works_once_ends_every_session_and_expires(
    service_env: dict[str, object], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    """R-ACC-1: a user who forgot their password asks for a link (the answer does not tell whether the address
    exists); notifications e-mails it in the user's language, pointing at the web UI's /reset page; the link
    sets a new password once, ends every session, and a link past its time does nothing."""
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
            email = f"owner.{uuid.uuid4().hex[:6]}@example.com"
            r = await o.post(
                "/api/v1/accounts",
                json={
                    "kind": "supplier",
                    "name": "Supplier Co",
                    "owner": {"email": email, "password": PASSWORD, "name": "Анна", "locale": "ru"},
                },
            )
            assert r.status_code == 201, r.text
            sessions = [(await sign_in(o, email)).json() for _ in range(2)]

            unknown = await o.post("/api/v1/auth/password-reset", json={"email": "nobody@example.com"})
            known = await o.post("/api/v1/auth/password-reset", json={"email": email.upper()})
            assert unknown.status_code == known.status_code == 202
            assert unknown.json() == known.json()

            mails = await catcher.wait_for_messages(1, timeout_s=30 * WAIT_SCALE)
            assert [m.envelope_to[0] for m in mails] == [email]
            mail = mails[0]
            assert mail.subject == "Сброс пароля OMS"
            assert "List-Unsubscribe" not in mail.message
            links = re.findall(r"http://oms\.test/reset\?token=([A-Za-z0-9_\-]+)", mail.body_text())
            assert links, mail.body_text()
            token = links[0]

            r = await o.post("/api/v1/auth/password-reset/confirm", json={"token": "forged", "new_password": "x" * 9})
            assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_reset_token"
            r = await o.post("/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": "short"})
            assert r.status_code == 422
            r = await o.post(
                "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": "n3w-pass-42"}
            )
            assert r.status_code == 204, r.text
            r = await o.post(
                "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": "an0ther-pass"}
            )
            assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_reset_token"  # used once only
            for pair in sessions:
                r = await o.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
                assert r.status_code == 401 and r.json()["error"]["code"] == "session_ended"
            assert (await sign_in(o, email)).status_code == 401
            assert (await sign_in(o, email, "n3w-pass-42")).status_code == 200

            # A link past its time: refused, and the password stays.
            assert (await o.post("/api/v1/auth/password-reset", json={"email": email})).status_code == 202
            mails = await catcher.wait_for_messages(2, timeout_s=30 * WAIT_SCALE)
            late = re.findall(r"token=([A-Za-z0-9_\-]+)", mails[-1].body_text())[0]
            async with orders.state.runtime.db.transaction() as tx:
                await tx.conn.execute(password_resets.update().values(expires_at=utcnow() - timedelta(seconds=1)))
            r = await o.post(
                "/api/v1/auth/password-reset/confirm", json={"token": late, "new_password": "an0ther-pass"}
            )
            assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_reset_token"
            assert (await sign_in(o, email, "n3w-pass-42")).status_code == 200


async def test_one_client_using_up_its_reset_attempts_does_not_block_anyone_elses_link(
    service_env: dict[str, object], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    """R-ACC-1: reset confirmations are throttled per address and per link: guesses with made-up links are
    refused (400, then 429 for the address), and one link tried too often is refused (429) without costing
    other links their tries."""
    orders = orders_app(
        OrdersSettings(
            jwt_private_key_file=str(keys[0]),
            signin_per_login_burst=2,
            signin_per_login_per_minute=0.001,
            signin_per_ip_burst=5,
            signin_per_ip_per_minute=0.001,
            **settings_env(service_env, "orders", tmp_path),
        )
    )
    async with running_service(orders) as o:

        async def confirm(token: str) -> int:
            r = await o.post("/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": "x" * 9})
            return r.status_code

        # Three different links: each its own budget (a shared one would refuse the third).
        assert [await confirm(t) for t in ("made-up-a", "made-up-b", "made-up-c")] == [400, 400, 400]
        # One link tried a third time: refused for that link only; another link still gets its answer.
        assert await confirm("made-up-a") == 400
        assert await confirm("made-up-a") == 429
        assert await confirm("made-up-d") == 400
        # The address has used its five tries: refused whatever the link.
        assert await confirm("made-up-e") == 429
