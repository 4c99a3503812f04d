"""Who may manage users: the owner, or an employee given the right to; never above one's own level."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.integration.orders.helpers import orders_app, register, sign_in
from tests.support.services import running_service

FULL = {"access_buyers": "full", "access_orders": "full", "restricted_to_own_buyers": False}

# The staff of one supplier, created by its owner: name → (access granted, may manage users).
STAFF: dict[str, dict[str, Any]] = {
    "buyers_full": {"access_buyers": "full", "access_orders": "change", "manage_users": False},
    "admin": {"access_buyers": "full", "access_orders": "change", "manage_users": True},
    "restricted_admin": {
        "access_buyers": "change",
        "access_orders": "read",
        "restricted_to_own_buyers": True,
        "manage_users": True,
    },
    "clerk": {"access_buyers": "read", "access_orders": "read"},
    "senior": {"access_buyers": "full", "access_orders": "full"},
}

# (actor, action, target, body, expected status, expected error code). Targets name a staff member.
CASES: list[tuple[str, str, str, dict[str, Any], int, str | None]] = [
    # Full access to Buyers alone gives no right over users (the defect: it did).
    ("buyers_full", "patch", "buyers_full", FULL, 403, "own_access"),
    ("buyers_full", "create", "", {"access_buyers": "full"}, 403, "access_denied"),
    ("buyers_full", "patch", "clerk", {"access_orders": "change"}, 403, "access_denied"),
    # Nobody changes their own access — not the owner, not an admin; one's own name is fine.
    ("admin", "patch", "admin", {"access_orders": "full"}, 403, "own_access"),
    ("admin", "patch", "admin", {"manage_users": False}, 403, "own_access"),
    ("admin", "patch", "admin", {"active": False}, 403, "own_access"),
    ("owner", "patch", "owner", {"access_orders": "read"}, 403, "own_access"),
    ("clerk", "patch", "clerk", {"name": "Clerk Renamed"}, 200, None),
    # An admin grants up to their own level, not above it.
    ("admin", "create", "", {"access_buyers": "full", "access_orders": "change"}, 201, None),
    ("admin", "create", "", {"access_orders": "full"}, 403, "above_own_level"),
    ("admin", "patch", "clerk", {"access_buyers": "full", "access_orders": "change"}, 200, None),
    ("admin", "patch", "clerk", {"access_orders": "full"}, 403, "above_own_level"),
    ("admin", "patch", "clerk", {"manage_users": True}, 200, None),
    ("admin", "patch", "clerk", {"active": False}, 200, None),
    # ... and does not touch someone who has more, nor the owner.
    ("admin", "patch", "senior", {"access_orders": "read"}, 403, "above_own_level"),
    ("admin", "patch", "senior", {"active": False}, 403, "above_own_level"),
    ("admin", "patch", "owner", {"name": "x"}, 403, "access_denied"),
    # A restricted admin grants only restricted access.
    ("restricted_admin", "create", "", {"access_buyers": "read", "restricted_to_own_buyers": True}, 201, None),
    ("restricted_admin", "create", "", {"access_buyers": "read"}, 403, "above_own_level"),
    ("restricted_admin", "patch", "clerk", {"access_buyers": "read"}, 403, "above_own_level"),
    # Plain employees manage nobody; the owner manages everyone but cannot change the owner's access.
    ("clerk", "create", "", {}, 403, "access_denied"),
    ("clerk", "patch", "admin", {"active": False}, 403, "access_denied"),
    ("owner", "create", "", {**FULL, "manage_users": True}, 201, None),
    ("owner", "patch", "senior", {"access_orders": "read", "manage_users": True}, 200, None),
    ("owner", "patch", "admin", {"active": False}, 200, None),
    # Bad input is a clear 4xx, never a half-applied change.
    ("owner", "patch", "clerk", {"access_orders": None}, 422, None),
    ("owner", "patch", "clerk", {"access_orders": "god"}, 422, None),
]


async def _staff(client: httpx.AsyncClient, owner_h: dict[str, str]) -> dict[str, dict[str, str]]:
    people: dict[str, dict[str, str]] = {}
    for name, grant in STAFF.items():
        email = f"{name}.{uuid.uuid4().hex[:6]}@example.com"
        body = {"email": email, "password": "secret-pass-1", "name": name, **grant}
        r = await client.post("/api/v1/users", headers=owner_h, json=body)
        assert r.status_code == 201, r.text
        people[name] = {"user_id": r.json()["user_id"], "email": email}
    return people


async def test_only_the_owner_or_a_user_admin_manages_users_and_never_above_their_own_level(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-ACC-1: the owner (or an employee allowed to manage users) manages users; nobody changes their own
    access; nobody grants above their own level. Each case runs on a fresh supplier, so cases do not interact."""
    app = orders_app(database_url, service_env, keys, signin_per_ip_burst=1000)
    async with running_service(app) as client:
        for actor, action, target, body, status, code in CASES:
            supplier = await register(client, "supplier", "Supplier Co")
            owner_h = await sign_in(client, supplier["email"])
            people = await _staff(client, owner_h)
            people["owner"] = {"user_id": supplier["user_id"], "email": supplier["email"]}
            headers = await sign_in(client, people[actor]["email"])
            before = (await client.get("/api/v1/users", headers=owner_h)).json()["items"]
            if action == "create":
                new = {"email": f"new.{uuid.uuid4().hex[:6]}@example.com", "password": "secret-pass-1", **body}
                r = await client.post("/api/v1/users", headers=headers, json=new)
            else:
                r = await client.patch(f"/api/v1/users/{people[target]['user_id']}", headers=headers, json=body)
            case = (actor, action, target, body)
            assert r.status_code == status, (case, r.text)
            if code is not None:
                assert r.json()["error"]["code"] == code, (case, r.text)
            after = (await client.get("/api/v1/users", headers=owner_h)).json()["items"]
            if status >= 400:
                assert after == before, case  # a refusal changes nothing
            elif action == "patch":
                changed = next(u for u in after if u["user_id"] == people[target]["user_id"])
                assert {k: changed[k] for k in body} == body, case


async def test_a_user_of_another_tenant_is_not_found(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-ACC-4: another supplier's owner cannot change (or learn of) this supplier's users."""
    app = orders_app(database_url, service_env, keys)
    async with running_service(app) as client:
        supplier = await register(client, "supplier", "Supplier Co")
        other = await register(client, "supplier", "Other Co")
        other_h = await sign_in(client, other["email"])
        r = await client.patch(f"/api/v1/users/{supplier['user_id']}", headers=other_h, json={"active": False})
        assert r.status_code == 404 and r.json()["error"]["code"] == "user_not_found", r.text
