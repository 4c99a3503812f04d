"""Token keys: only orders holds the private key (0600); the others verify with its published JWKS; keys rotate."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from oms_orders.app import create_app as create_orders_app
from oms_orders.app import ensure_keys, token_verifier
from oms_orders.settings import Settings as OrdersSettings
from oms_shared.auth import JWKS_PATH, Principal, generate_keypair, issue_token, public_jwk
from oms_shared.errors import Unauthorized
from tests.integration.shared.test_service_runtime import build_app
from tests.support.services import bearer, eventually, running_service


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_private_key_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """A key made by orders is 0600, wherever it is configured; one found world-readable is tightened."""
    private, public = generate_keypair(tmp_path / "made")
    assert (mode(private), mode(public)) == (0o600, 0o644)

    settings = OrdersSettings(
        jwt_private_key_file=str(tmp_path / "secret" / "orders.pem"),
        jwt_public_key_file=str(tmp_path / "public" / "orders.pub"),
    )
    ensure_keys(settings)
    assert mode(Path(settings.jwt_private_key_file)) == 0o600
    assert mode(Path(settings.jwt_public_key_file)) == 0o644

    Path(settings.jwt_private_key_file).chmod(0o644)
    ensure_keys(settings)
    assert mode(Path(settings.jwt_private_key_file)) == 0o600


class Switch:
    """An ASGI app that forwards to whichever orders app is current (orders restarted with a new key)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def orders_with(tmp_path: Path, database_url: str, private: Path, previous: list[Path] | None = None) -> Any:
    return create_orders_app(
        OrdersSettings(
            database_url=database_url,
            jwt_private_key_file=str(private),
            jwt_public_key_file=str(tmp_path / f"{uuid.uuid4().hex}.pub"),
            jwt_previous_public_key_files=",".join(str(p) for p in previous or []),
        )
    )


async def test_services_verify_with_the_published_keys_refuse_unknown_ones_and_follow_a_rotation(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    """Orders publishes its public keys (JWKS, with kid); another service fetches and caches them, refuses a
    token signed by a key nobody published (fetching again at most once per interval however many arrive),
    picks up a new key after a rotation, and keeps accepting tokens of the previous key while it is published."""
    key1 = keys[0]
    key2, _ = generate_keypair(tmp_path / "key2")
    key3, _ = generate_keypair(tmp_path / "key3")
    orders = Switch(orders_with(tmp_path, database_url, key1))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=orders), base_url="http://orders") as client:
        document = (await client.get(JWKS_PATH)).json()
    assert [k["kid"] for k in document["keys"]] == [public_jwk(keys[1].read_bytes())["kid"]]
    assert "d" not in document["keys"][0]  # public parts only

    env = {k: v for k, v in service_env.items() if k != "jwt_public_key_file"}
    env.update(jwks_url=f"http://orders{JWKS_PATH}", jwks_min_refresh_interval_s=0.5)
    runtime = build_app(database_url, env)
    app = runtime.build_app()
    verifier = runtime.token_verifier
    assert verifier is not None and verifier.jwks_url
    verifier.transport = httpx.ASGITransport(app=orders)

    supplier = Principal(uuid.uuid4(), uuid.uuid4(), "supplier", is_owner=True)
    token1 = issue_token(key1.read_bytes(), supplier)
    token2 = issue_token(key2.read_bytes(), supplier)
    forged = issue_token(key3.read_bytes(), supplier)
    async with running_service(app) as svc:

        async def status(token: str) -> int:
            return (await svc.post("/things", json={"n": 1}, headers=bearer(token))).status_code

        assert await eventually(lambda: status(token1)) == 200
        # A key nobody published: refused, and a burst of such tokens fetches the keys at most once more.
        fetches = verifier.fetches
        for _ in range(20):
            r = await svc.post("/things", json={"n": 1}, headers=bearer(forged))
            assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
        assert verifier.fetches - fetches <= 1
        assert await status(token2) == 401  # not published yet

        # Rotation: orders restarts with key 2 and still publishes key 1's public part.
        orders.app = orders_with(tmp_path, database_url, key2, previous=[keys[1]])

        async def new_key_accepted() -> bool:
            return await status(token2) == 200

        await eventually(new_key_accepted, timeout=10)
        assert await status(token1) == 200  # issued before the rotation: valid until it expires

        # Once the previous key is no longer published, its tokens stop being accepted.
        orders.app = orders_with(tmp_path, database_url, key2)
        await verifier.refresh(force=True)
        assert await status(token1) == 401
        assert await status(token2) == 200


def test_orders_accepts_its_current_and_previous_keys(keys: tuple[Path, Path], tmp_path: Path) -> None:
    """During a rotation orders itself accepts tokens of the previous key, and none of an unknown key."""
    key2, _ = generate_keypair(tmp_path / "key2")
    key3, _ = generate_keypair(tmp_path / "key3")
    settings = OrdersSettings(
        jwt_private_key_file=str(key2),
        jwt_public_key_file=str(tmp_path / "key2" / "jwt-public.pem"),
        jwt_previous_public_key_files=str(keys[1]),
    )
    verifier = token_verifier(settings, key2.read_bytes())
    someone = Principal(uuid.uuid4(), uuid.uuid4(), "supplier")
    for key in (keys[0], key2):
        assert verifier.verify(issue_token(key.read_bytes(), someone)).user_id == someone.user_id
    with pytest.raises(Unauthorized):
        verifier.verify(issue_token(key3.read_bytes(), someone))
