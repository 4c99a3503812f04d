"""Every service's OpenAPI document tells the truth: the bearer scheme, the real error model, the statuses its
routes answer, required If-Match, fixed values as enums, consistent titles and tags.

What each route really answers is checked against these documents by every in-process service test
(``tests.support.services.running_service``: an answer the document lacks fails the test)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from oms_analytics.app import create_app as analytics_app
from oms_analytics.settings import Settings as AnalyticsSettings
from oms_erp_bridge.app import create_app as erp_app
from oms_erp_bridge.settings import Settings as ErpSettings
from oms_inventory.app import create_app as inventory_app
from oms_inventory.settings import Settings as InventorySettings
from oms_notifications.app import create_app as notifications_app
from oms_notifications.settings import Settings as NotificationsSettings
from oms_orders.app import create_app as orders_app
from oms_orders.settings import Settings as OrdersSettings

APPS = {
    "orders": (orders_app, OrdersSettings),
    "inventory": (inventory_app, InventorySettings),
    "notifications": (notifications_app, NotificationsSettings),
    "erp-bridge": (erp_app, ErpSettings),
    "analytics": (analytics_app, AnalyticsSettings),
}
WRITES = {"post", "put", "patch", "delete"}


def document(service: str, tmp_path: Path) -> dict[str, Any]:
    create, settings = APPS[service]
    app = create(settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"))
    doc: dict[str, Any] = app.openapi()
    return doc


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in doc["paths"].items() for method, op in item.items()]


@pytest.mark.parametrize("service", sorted(APPS))
def test_the_document_declares_security_errors_and_every_status(service: str, tmp_path: Path) -> None:
    doc = document(service, tmp_path)
    assert doc["info"]["title"] == f"OMS {service} API"
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and {"Error", "FieldErrors", "RowErrors", "LineErrors"} <= set(schemas)
    assert all(t["name"] == t["name"].lower() and "-" not in t["name"] for t in doc["tags"])
    secured = 0
    for method, path, op in operations(doc):
        where = f"{method.upper()} {path}"
        responses = op["responses"]
        assert op.get("tags"), where
        for status, response in responses.items():
            if status.startswith("4"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (where, status)
        declared = {int(s) for s in responses if s.isdigit()}
        params = op.get("parameters", [])
        if op.get("security"):
            secured += 1
            assert {401, 403} <= declared, where
        if any(p["in"] == "path" for p in params):
            assert 404 in declared, where
        if method in WRITES:
            assert {409, 413, 422} <= declared, where
            assert any(p["name"] == "Idempotency-Key" for p in params), where
        if any(p["name"] == "If-Match" for p in params):
            assert {412, 428} <= declared, where
    assert secured, "no route declares the bearer scheme"


def test_if_match_is_required_where_its_absence_is_refused(tmp_path: Path) -> None:
    """R-ED-4: edits, profile changes and moves always need If-Match (428 without it); transitions and delete
    need it on the supplier's side only, so there it is optional and says so."""
    doc = document("orders", tmp_path)

    def if_match(path: str, method: str) -> dict[str, Any]:
        params = doc["paths"][path][method]["parameters"]
        found: dict[str, Any] = next(p for p in params if p["name"] == "If-Match")
        return found

    for path, method in (
        ("/api/v1/orders/{order_id}/lines", "post"),
        ("/api/v1/orders/{order_id}/profile", "patch"),
        ("/api/v1/orders/{order_id}/parts", "post"),
    ):
        assert if_match(path, method)["required"] is True, path
    assert if_match("/api/v1/orders/{order_id}/transitions", "post")["required"] is False
    signin = doc["paths"]["/api/v1/auth/token"]["post"]
    assert {"401", "429"} <= set(signin["responses"]) and "security" not in signin


def test_fixed_values_are_enums_and_row_bodies_have_fields(tmp_path: Path) -> None:
    analytics = document("analytics", tmp_path / "a")
    params = {p["name"]: p["schema"] for p in analytics["paths"]["/api/v1/summary/details"]["get"]["parameters"]}
    assert params["interval"]["enum"] == ["day", "week", "month"]
    assert "shipped" in params["figure"]["enum"] and "-total" in params["sort"]["enum"]
    summary = {p["name"]: p["schema"] for p in analytics["paths"]["/api/v1/summary"]["get"]["parameters"]}
    assert summary["group_by"]["enum"] == ["none", "buyer", "manager"]

    inventory = document("inventory", tmp_path / "i")
    for path, method, field in (("/api/v1/stock", "put", "on_hand"), ("/api/v1/incoming", "post", "expected_date")):
        schema = inventory["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        row = schema["properties"]["items"]["items"]
        assert {"sku", field} <= set(row["required"]) and "warehouse_code" in row["properties"], path


MAIN_OPERATIONS = {
    "orders": [
        ("post", "/api/v1/orders", "201"),
        ("get", "/api/v1/orders/{order_id}", "200"),
        ("get", "/api/v1/orders", "200"),
        ("post", "/api/v1/auth/token", "200"),
    ],
    "inventory": [("get", "/api/v1/stock", "200"), ("get", "/api/v1/price-lists/{price_list_id}/availability", "200")],
    "analytics": [("get", "/api/v1/summary", "200")],
    "notifications": [("get", "/api/v1/notifications", "200")],
}
JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": type(None),
}


def conforms(schema: dict[str, Any], value: Any, where: str = "$") -> None:
    """The value fits the schema: the types, every required property, and no property the schema lacks."""
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                conforms(option, value, where)
                return
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError(f"{where}: fits no option: {errors}")
    kind = schema.get("type")
    if kind:
        assert isinstance(value, JSON_TYPES[kind]), (where, kind, value)
        assert kind in ("integer", "number") or not isinstance(value, bool) or kind == "boolean", (where, value)
    if "enum" in schema:
        assert value in schema["enum"], (where, value)
    if kind == "object" and "properties" in schema:
        assert set(schema["required"]) <= set(value), (where, set(schema["required"]) - set(value))
        assert set(value) <= set(schema["properties"]), (where, set(value) - set(schema["properties"]))
        for key, item in value.items():
            conforms(schema["properties"][key], item, f"{where}.{key}")
    if kind == "array":
        for i, item in enumerate(value):
            conforms(schema["items"], item, f"{where}[{i}]")


@pytest.mark.parametrize("service", sorted(MAIN_OPERATIONS))
def test_main_operations_declare_their_success_schema_and_an_example(service: str, tmp_path: Path) -> None:
    """The main operations say what they answer: a schema with its properties, and an example that fits it."""
    doc = document(service, tmp_path)
    found = {(method, path): op for method, path, op in operations(doc)}
    for method, path, status in MAIN_OPERATIONS[service]:
        where = f"{method.upper()} {path}"
        media = found[(method, path)]["responses"][status]["content"]["application/json"]
        schema, example = media["schema"], media["example"]
        assert schema["type"] == "object" and schema["properties"] and schema["required"], where
        assert "additionalProperties" not in schema and "title" not in schema, where
        conforms(schema, example, where)


def test_the_declared_success_schemas_fit_what_the_handlers_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """The schemas are the real answers': the builders the routes answer with write exactly their properties."""
    from datetime import UTC, date, datetime
    from decimal import Decimal
    from types import SimpleNamespace

    from oms_inventory import answers as inventory_answers
    from oms_inventory.queries import _stock_item
    from oms_notifications import answers as notification_answers
    from oms_notifications.inbox import _notification_item
    from oms_orders import answers as order_answers
    from oms_orders.handlers import identity
    from oms_orders.handlers.listing import summary_json
    from oms_orders.handlers.orders import history_json, order_body

    now = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    order = SimpleNamespace(
        id="o1", number="42", status="new", version=1, supplier_id="s1", supplier_name="Supplier", buyer_id="b1",
        buyer_account_id=None, buyer_name="Buyer", price_list_id=None, price_list_name="", created_at=now,
        updated_at=now, status_changed_at=now, desired_shipment_date=date(2026, 3, 10), shipment_date=None,
        comment="", one_shipment=False, responsible_user_id=None, paid_amount=Decimal(0), total=Decimal(1200),
        overdue=False, reserve_status="none", parent_order_id=None, currency="RUB", vat_included=True,
    )  # fmt: skip
    line = SimpleNamespace(
        id="l1", sku="A-100", name="Bolt", unit="pcs", warehouse_id=None, quantity=Decimal(10), price=Decimal(120),
        vat_rate=Decimal(20), additional=False, reserved=Decimal(0), shortage=Decimal(0), shipped_quantity=Decimal(0),
    )  # fmt: skip
    step = SimpleNamespace(from_status=None, to_status="new", by_user_id="u1", by_side="buyer", at=now, comment="")
    buyer = SimpleNamespace(is_supplier=False, is_buyer=True, has=lambda *_: False)
    history = [history_json(step, {})]
    body = order_body(order, supplier_name="S", lines=[line], history=history, part_ids=[], principal=buyer)  # type: ignore[arg-type]
    conforms(order_answers.ORDER, body)
    assert set(body) == set(order_answers.ORDER["properties"])
    conforms(order_answers.ORDER_SUMMARY, summary_json(order, Decimal(200)))  # type: ignore[arg-type]
    conforms(order_answers.ORDER_SUMMARY, summary_json(order))  # type: ignore[arg-type]

    stock = SimpleNamespace(warehouse_id="w1", sku="A-100", name="", unit="", on_hand=5, reserved=0, incoming=None)
    conforms(inventory_answers.STOCK_ITEM, _stock_item(stock))

    note = SimpleNamespace(
        notification_id="n1", order_id="o1", order_number="42", buyer_name="B", supplier_name=None, kind="comment",
        title="t", body="b",
        changed_line_ids="[]", created_at=now, read_at=None,
    )  # fmt: skip
    conforms(notification_answers.NOTIFICATION, _notification_item(note))

    monkeypatch.setattr(identity, "issue_token", lambda *args, **kwargs: "a.jwt.token")
    user = SimpleNamespace(
        id=str(uuid.uuid4()), is_owner=True, access_buyers="full", access_orders="full",
        restricted_to_own_buyers=False, name="Ivan",
    )  # fmt: skip
    account = SimpleNamespace(id=str(uuid.uuid4()), kind="buyer")
    policy = identity.TokenPolicy(private_key_pem=b"")
    answer = identity._token_answer(policy, user, account, "s1", "secret", now)  # type: ignore[arg-type]
    conforms(order_answers.TOKEN, answer)
    assert set(answer) == set(order_answers.TOKEN["properties"])
