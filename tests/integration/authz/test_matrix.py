"""The authorization matrix: every route of every service, called as every role of two tenants (R-ACC-1..4).

The expected answers are the table in ``matrix.py`` — the documentation of who may do what. A route without a
row fails ``test_every_route_has_a_row``; a row whose route is gone fails it too. How a route is called (its body,
query, fresh objects) is in ``REQUESTS`` below; a route that needs nothing special needs no entry.

``OMS_AUTHZ_SURVEY=1`` prints what every role gets on every route, in the table's format (to write new rows).
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from oms_devstack.tansu import TansuBroker
from oms_shared.kafka import ensure_topics
from oms_shared.topics import all_topics_with_dlq
from tests.integration.authz.harness import (
    ERP_PASSWORD,
    PASSWORD,
    Stack,
    period,
    routes_of,
    running_stack,
    unique,
    xlsx,
)
from tests.integration.authz.matrix import COLUMNS, ROLES, TABLE, Row, status_class
from tests.support.services import eventually

Factory = Callable[[Stack], dict[str, Any] | Awaitable[dict[str, Any]]]


def _csv(s: Stack) -> dict[str, Any]:
    return {"files": {"file": ("stock.csv", b"warehouse_code,sku,on_hand\nMAIN,A-1,1000\n", "text/csv")}}


def _import(s: Stack) -> dict[str, Any]:
    content = xlsx([["SKU", "Warehouse", "Quantity"], ["A-1", "MAIN", 1]])
    return {
        "files": {"file": ("order.xlsx", content, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")},
        "data": {"buyer_id": s.ids["buyer_id"], "price_list_id": s.ids["price_list_id"]},
    }


def _order(s: Stack) -> dict[str, Any]:
    line = {"sku": "A-1", "warehouse_id": s.ids["warehouse_id"], "quantity": "1"}
    return {"json": {"price_list_id": s.ids["price_list_id"], "lines": [line]}}


async def _refresh(s: Stack) -> dict[str, Any]:
    """A refresh token of a session opened for the call (the token is the credential, not the bearer header)."""
    return {"json": {"refresh_token": (await s.new_session("buyer"))["refresh_token"]}}


def _spare_list(s: Stack) -> dict[str, str]:
    # Switching a link off or regenerating it is done on a second list: the first one's link is called later.
    return {"price_list_id": s.ids["spare_price_list_id"]}


# How each route is called when it needs more than its path: a JSON body, a file, a query, other path ids
# ("ids"); built per call (a coroutine when it has to call a service first).
REQUESTS: dict[tuple[str, str], Factory] = {
    ("POST", "/api/v1/accounts"): lambda s: {
        "json": {
            "kind": "buyer",
            "name": "Newcomer",
            "owner": {"email": f"{unique('new')}@example.com", "password": PASSWORD},
        }
    },
    ("POST", "/api/v1/auth/token"): lambda s: {"json": {"email": s.data["b1_account"]["email"], "password": PASSWORD}},
    ("POST", "/api/v1/auth/refresh"): _refresh,
    # The caller's own password, to the same value: only who may change it is under test.
    ("POST", "/api/v1/auth/password"): lambda s: {"json": {"old_password": PASSWORD, "new_password": PASSWORD}},
    ("POST", "/api/v1/auth/password-reset"): lambda s: {"json": {"email": s.data["b1_account"]["email"]}},
    ("POST", "/api/v1/auth/password-reset/confirm"): lambda s: {
        "json": {"token": "not-a-reset-token", "new_password": "n3w-pass-42"}
    },
    ("POST", "/api/v1/price-lists/{price_list_id}/link"): lambda s: {
        "ids": _spare_list(s),
        "params": {"regenerate": "true"},
    },
    ("DELETE", "/api/v1/price-lists/{price_list_id}/link"): lambda s: {"ids": _spare_list(s)},
    ("PUT", "/api/v1/warehouses/{warehouse_id}/stock-source"): lambda s: {"json": {"erp_fed": False}},
    ("POST", "/api/v1/users"): lambda s: {"json": {"email": f"{unique('u')}@example.com", "password": PASSWORD}},
    # The read-only manager's access, set to what it is: nobody changes their own access (ADR 011).
    ("PATCH", "/api/v1/users/{user_id}"): lambda s: {"json": {"access_orders": "read"}},
    ("POST", "/api/v1/buyers"): lambda s: {"json": {"name": unique("buyer")}},
    ("PATCH", "/api/v1/buyers/{buyer_id}"): lambda s: {"json": {"contacts": "+7 495 000-00-00"}},
    ("POST", "/api/v1/price-lists"): lambda s: {"json": {**s.data["price_list_body"], "name": unique("list")}},
    ("PUT", "/api/v1/price-lists/{price_list_id}"): lambda s: {"json": s.data["price_list_body"]},
    ("PATCH", "/api/v1/price-lists/{price_list_id}/buyers"): lambda s: {"json": {"add": [], "remove": []}},
    ("POST", "/api/v1/buyers/{buyer_id}/invitations"): lambda s: {"json": {"email": f"{unique('inv')}@example.com"}},
    ("POST", "/api/v1/users/invitations"): lambda s: {"json": {"email": f"{unique('emp')}@example.com"}},
    ("POST", "/api/v1/employee-invitations/{token}/accept"): lambda s: {"json": {"password": PASSWORD}},
    ("POST", "/api/v1/invitations/{token}/register"): lambda s: {
        "json": {"email": f"{unique('inv')}@example.com", "password": PASSWORD}
    },
    ("POST", "/api/v1/orders"): _order,
    ("POST", "/api/v1/orders/{order_id}/transitions"): lambda s: {"json": {"to": "confirmed"}},
    ("POST", "/api/v1/orders/{order_id}/lines"): lambda s: {
        "json": {"edit": [{"line_id": s.ids["line_id"], "quantity": "3"}]}
    },
    ("PATCH", "/api/v1/orders/{order_id}/profile"): lambda s: {"json": {"paid_amount": "0"}},
    ("POST", "/api/v1/orders/{order_id}/parts"): lambda s: {"json": {"line_ids": [s.ids["line_id"]], "copy": True}},
    ("POST", "/api/v1/orders/{order_id}/comments"): lambda s: {"json": {"text": "Please hurry"}},
    ("POST", "/api/v1/orders/{order_id}/documents"): lambda s: {"files": {"file": ("note.txt", b"note")}},
    ("PUT", "/api/v1/settings/time-limits"): lambda s: {"json": {"limits": {"new": 24}}},
    ("PATCH", "/api/v1/account"): lambda s: {"json": {"address": "Москва, ул. Вавилова, 19"}},
    ("POST", "/api/v1/orders/import"): _import,
    ("POST", "/api/v1/links/{token}/register"): lambda s: {
        "json": {"company_name": unique("Co"), "email": f"{unique('l')}@example.com", "password": PASSWORD}
    },
    ("POST", "/api/v1/warehouses"): lambda s: {"json": {"code": unique("W"), "name": "Second"}},
    ("POST", "/api/v1/products"): lambda s: {"json": {"items": [{"sku": "A-1", "name": "Bolt", "unit": "pcs"}]}},
    ("PUT", "/api/v1/stock"): lambda s: {
        "json": {"items": [{"warehouse_id": s.ids["warehouse_id"], "sku": "A-1", "on_hand": "1000"}]}
    },
    ("POST", "/api/v1/stock/upload"): _csv,
    ("GET", "/api/v1/stock/reserves"): lambda s: {"params": {"warehouse_id": s.ids["warehouse_id"], "sku": "A-1"}},
    ("PUT", "/api/v1/manual-reserves"): lambda s: {
        "json": {"warehouse_id": s.ids["warehouse_id"], "sku": "B-2", "quantity": "0"}
    },
    ("DELETE", "/api/v1/manual-reserves"): lambda s: {"params": {"warehouse_id": s.ids["warehouse_id"], "sku": "B-2"}},
    ("POST", "/api/v1/incoming"): lambda s: {
        "json": {"items": [{"warehouse_id": s.ids["warehouse_id"], "sku": "B-2", "quantity": "1"}]}
    },
    # B1's notification: marking it read is B1's alone; to every other account it is unknown.
    ("POST", "/api/v1/notifications/read"): lambda s: {"json": {"notification_ids": [s.ids["notification_id"]]}},
    ("PUT", "/api/v1/preferences"): lambda s: {"json": {"email": {"comment": True}}},
    ("GET", "/exchange/1c"): lambda s: {"params": {"type": "sale", "mode": "checkauth"}},
    ("POST", "/exchange/1c"): lambda s: {"params": {"type": "sale", "mode": "file", "filename": "orders.xml"}},
    ("PUT", "/api/v1/erp/connection"): lambda s: {"json": {"login": s.data["erp_login"], "password": ERP_PASSWORD}},
    ("POST", "/api/v1/erp/orders/ack"): lambda s: {"json": {"orders": [{"order_id": s.ids["order_id"], "version": 1}]}},
    ("POST", "/api/v1/erp/orders/{order_id}/changes"): lambda s: {"json": {"erp_document_id": "ZK-1"}},
    ("PUT", "/api/v1/erp/warehouses/{warehouse_id}"): lambda s: {"json": {"erp_id": None}},
    ("POST", "/api/v1/erp/stock"): lambda s: {
        "json": {"mode": "changes", "items": [{"warehouse_id": s.ids["warehouse_id"], "sku": "A-1", "on_hand": "1000"}]}
    },
}


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    external = os.environ.get("OMS_TEST_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    tansu = TansuBroker(die_with_parent=True)
    tansu.start()
    try:
        asyncio.run(ensure_topics(tansu.bootstrap, all_topics_with_dlq()))
        yield tansu.bootstrap
    finally:
        tansu.stop()


@pytest.fixture(scope="module")
async def stack(broker: str, keys: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(broker, keys, tmp_path_factory.mktemp("authz")) as s:
        yield s


def _path(template: str, ids: dict[str, str]) -> str:
    out = template
    for name, value in ids.items():
        out = out.replace("{" + name + "}", value)
    assert "{" not in out, f"no id for {template}: add it to the harness's ids"
    return out


# Routes called in a session of their own (signing out ends the session it is called in).
OWN_SESSION = {("POST", "/api/v1/auth/logout")}


async def call(s: Stack, row: Row, role: str) -> httpx.Response:
    await s.renew()
    factory = REQUESTS.get((row.method, row.path))
    made = factory(s) if factory else {}
    extra = await made if inspect.isawaitable(made) else made
    ids = {**s.ids, **extra.pop("ids", {})}
    own = (row.method, row.path) in OWN_SESSION and role in s.emails
    headers = {**(await s.sign_in(role) if own else s.headers[role]), **extra.pop("headers", {})}
    if row.service == "analytics" and row.path.startswith("/api/v1/summary"):
        extra["params"] = {**period(), **extra.get("params", {})}
    if row.service == "orders" and row.path.startswith("/api/v1/orders/{order_id}") and row.method != "GET":
        # Order writes need the version the caller saw: the current one, so only access decides.
        current = await s.clients["orders"].get(_path("/api/v1/orders/{order_id}", s.ids), headers=s.headers["owner"])
        headers["If-Match"] = current.headers["ETag"]
    if (
        row.service == "orders"
        and row.path.startswith("/api/v1/price-lists/{price_list_id}")
        and row.method
        in {
            "PUT",
            "PATCH",
        }
    ):
        # So is a change of a price list: the current version, so only access decides.
        path = _path("/api/v1/price-lists/{price_list_id}", s.ids)
        headers["If-Match"] = (await s.clients["orders"].get(path, headers=s.headers["owner"])).headers["ETag"]
    if row.service == "orders" and row.path == "/api/v1/account" and row.method == "PATCH":
        # The caller's own company, at its current version (a role refused reading it gets no ETag).
        own_profile = await s.clients["orders"].get("/api/v1/account", headers=headers)
        headers["If-Match"] = own_profile.headers.get("ETag", '"0"')
    client = s.clients[row.service]
    if row.path == "/drained":
        # Whether work is left is not a matter of access: wait until there is none, so every role sees the same.
        async def is_drained() -> bool:
            return (await client.get("/drained")).status_code == 200

        await eventually(is_drained, timeout=30)
    return await client.request(row.method, _path(row.path, ids), headers=headers, **extra)


def test_every_route_has_a_row(stack: Stack) -> None:
    """Every route of every service is in the table, and every row names a route that exists."""
    served = {(name, m, p) for name, app in stack.apps.items() for m, p in routes_of(app)}
    rows = {(r.service, r.method, r.path) for r in TABLE}
    assert len(rows) == len(TABLE), "a route has two rows"
    missing = sorted(served - rows)
    assert not missing, "routes without a row in tests/integration/authz/matrix.py:\n" + "\n".join(map(str, missing))
    stale = sorted(rows - served)
    assert not stale, "rows without a route:\n" + "\n".join(map(str, stale))


@pytest.mark.parametrize("row", TABLE, ids=[f"{r.service} {r.method} {r.path}" for r in TABLE])
async def test_every_role_gets_the_answer_the_table_gives(stack: Stack, row: Row) -> None:
    """R-ACC-1, R-ACC-2, R-ACC-3, R-ACC-4: each role's answer class on this route is the table's."""
    got: dict[str, str] = {}
    for role in ROLES:  # refused roles first, the owner last: an allowed write changes nothing the others need
        response = await call(stack, row, role)
        assert response.status_code < 500, (role, response.text)
        got[role] = status_class(response.status_code)
    expected = row.expected()
    wrong = {role: (expected[role], got[role]) for role in ROLES if expected[role] != got[role]}
    assert not wrong, f"{row.rule} {row.method} {row.path}: (expected, got) per role: {wrong}"


async def test_survey(stack: Stack) -> None:
    """Prints every route's answers per role, in the table's format (only with OMS_AUTHZ_SURVEY=1)."""
    if os.environ.get("OMS_AUTHZ_SURVEY") != "1":
        pytest.skip("set OMS_AUTHZ_SURVEY=1 to print the survey")
    served = sorted((name, m, p) for name, app in stack.apps.items() for m, p in routes_of(app))
    known = {(r.service, r.method, r.path): r for r in TABLE}
    lines = []
    for service, method, path in served:
        row = known.get((service, method, path)) or Row(service, method, path, "R-ACC-?", "")
        got = {role: status_class((await call(stack, row, role)).status_code) for role in ROLES}
        answers = " ".join(got[role] for role in COLUMNS)
        anonymous = {got[role] for role in ("anonymous", "expired", "forged")}
        tail = "" if anonymous == {"401"} else f", anonymous={'/'.join(sorted(anonymous))!r}"
        lines.append(f'    R("{service}", "{method}", "{path}", "{row.rule}", "{answers}"{tail}),')
    print("\n" + "\n".join(lines))


def test_a_route_added_later_is_enumerated() -> None:
    """A route in a router included in another (as every service builds its app) is found, so it needs a row."""
    inner = APIRouter(prefix="/api/v1")

    @inner.post("/new-things/{thing_id}")
    async def new_thing(thing_id: str) -> dict[str, str]:
        return {"thing_id": thing_id}

    outer = APIRouter()
    outer.include_router(inner)
    app = FastAPI()
    app.include_router(outer)
    assert ("POST", "/api/v1/new-things/{thing_id}") in routes_of(app)


async def test_nobody_else_reads_the_order_of_a_buyer_in_any_answer(stack: Stack) -> None:
    """R-ACC-1, R-ACC-4: the order of buyer B1 (its id, its line's id) is in no answer of any reading route to a
    manager restricted to other buyers, to another buyer or to another tenant — lists and drill-downs included —
    while the owner finds it in the lists of every service that keeps orders."""
    secrets = {stack.ids["order_id"], stack.ids["line_id"]}
    leaks, shown_to_owner = [], set()
    for row in TABLE:
        if row.method != "GET" or row.rule in ("R-OPS", "public"):
            continue
        for role in ("owner", "restricted", "other_buyer", "stranger"):
            response = await call(stack, row, role)
            if response.status_code != 200 or "json" not in response.headers.get("content-type", ""):
                continue
            if any(s in response.text for s in secrets):
                if role == "owner":
                    shown_to_owner.add((row.service, row.path))
                else:
                    leaks.append((role, row.service, row.path))
    assert {
        ("orders", "/api/v1/orders"),
        ("inventory", "/api/v1/stock/reserves"),
        ("erp-bridge", "/api/v1/erp/orders"),
        ("analytics", "/api/v1/summary/details"),
    } <= shown_to_owner, shown_to_owner
    assert not leaks, f"B1's order shows to those who may not see it: {leaks}"


async def test_the_erp_calls_its_api_with_its_exchange_login_for_its_supplier_only(stack: Stack) -> None:
    """R-ACC-1, R-ACC-4 (ADR 012): the ERP's own credential — the exchange login of the supplier's connection, as
    HTTP Basic — lists and changes that supplier's orders and feeds its stock; another supplier's ERP finds none
    of them (404, as an unknown id); a wrong password and the people's configuration routes answer 401."""
    erp = stack.clients["erp-bridge"]
    own = httpx.BasicAuth(stack.data["erp_login"], ERP_PASSWORD)
    other = httpx.BasicAuth(stack.data["stranger_erp_login"], ERP_PASSWORD)
    order_id = stack.ids["order_id"]
    orders_path, changes_path = "/api/v1/erp/orders", f"/api/v1/erp/orders/{order_id}/changes"

    r = await erp.get(orders_path, params={"pending": "false"}, auth=own)
    assert r.status_code == 200 and order_id in r.text, r.text
    r = await erp.post(changes_path, json={"erp_document_id": "ZK-1"}, auth=own)
    assert r.status_code == 202, r.text
    stock = {"mode": "changes", "items": [{"warehouse_id": stack.ids["warehouse_id"], "sku": "A-1", "on_hand": "1000"}]}
    r = await erp.post("/api/v1/erp/stock", json=stock, auth=own)
    assert r.status_code in (200, 202), r.text

    r = await erp.get(orders_path, params={"pending": "false"}, auth=other)
    assert r.status_code == 200 and r.json()["total"] == 0 and order_id not in r.text, r.text
    r = await erp.post(changes_path, json={"erp_document_id": "ZK-9"}, auth=other)
    assert r.status_code == 404, r.text
    r = await erp.post("/api/v1/erp/orders/ack", json={"orders": [{"order_id": order_id, "version": 1}]}, auth=other)
    assert r.status_code == 404, r.text

    wrong = httpx.BasicAuth(stack.data["erp_login"], "not-the-password")
    assert (await erp.get(orders_path, auth=wrong)).status_code == 401
    for method, path in (("GET", "/api/v1/erp/connection"), ("GET", "/api/v1/erp/exchanges")):
        assert (await erp.request(method, path, auth=own)).status_code == 401, path
