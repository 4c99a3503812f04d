"""The 1C exchange login: sessions end when the connection's password changes; checkauth is throttled."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import httpx

from tests.integration.erp_bridge.support import SALE_PASSWORD, SaleOneC, sale_app, sale_connect
from tests.support.services import bearer, running_service, token_for


def basic(login: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


async def checkauth(client: httpx.AsyncClient, login: str, password: str) -> httpx.Response:
    return await client.get(
        "/exchange/1c", params={"type": "sale", "mode": "checkauth"}, headers=basic(login, password)
    )


async def test_an_exchange_session_ends_when_the_exchange_password_changes(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    """R-ERP-1: a 1C session opened with the old password stops working once the supplier sets a new one;
    the old password no longer logs in, the new one does."""
    token = token_for(keys[0], account_id=uuid.uuid4())
    async with running_service(sale_app(database_url, tmp_path, service_env)) as client:
        login = await sale_connect(client, token)
        onec = SaleOneC(client, login)
        await onec.start()
        assert (await onec.call("query"))[0] != "failure"

        body = {"login": login, "password": "a-new-s3cret-pass", "encoding": "utf-8", "status_map": {}}
        r = await client.put("/api/v1/erp/connection", json=body, headers=bearer(token))
        assert r.status_code == 200, r.text
        answer = await onec.call("query")
        assert answer[0] == "failure" and "checkauth" in answer[1], answer
        assert (await checkauth(client, login, SALE_PASSWORD)).text.startswith("failure")
        fresh = SaleOneC(client, login, "a-new-s3cret-pass")
        await fresh.start()
        assert (await fresh.call("query"))[0] != "failure"


async def test_checkauth_is_throttled_per_login_and_per_address(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    """Guessing the exchange password: after a burst a login gets 429 with Retry-After (the right password
    too, until it may try again); one address trying many logins runs out as well; others are unaffected."""
    token = token_for(keys[0], account_id=uuid.uuid4())
    other_token = token_for(keys[0], account_id=uuid.uuid4())
    app = sale_app(
        database_url,
        tmp_path,
        service_env,
        checkauth_per_login_burst=3,
        checkauth_per_login_per_minute=1,
        checkauth_per_ip_burst=5,
        checkauth_per_ip_per_minute=1,
    )
    async with running_service(app) as client:
        login = await sale_connect(client, token)
        answers = [await checkauth(client, login, "guess") for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert all(a.text.startswith("failure") for a in answers)
        assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
        assert (await checkauth(client, login, SALE_PASSWORD)).status_code == 429

        for n in range(3):  # the address: two more attempts, then refused whatever the login
            r = await checkauth(client, f"nobody-{n}", "guess")
            assert r.status_code == (200 if n < 2 else 429), (n, r.text)

        other_login = await sale_connect(client, other_token)
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as elsewhere:
            r = await checkauth(elsewhere, other_login, SALE_PASSWORD)
            assert r.status_code == 200 and r.text.startswith("success"), r.text
