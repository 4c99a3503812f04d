"""Every service's OpenAPI document tells the truth: the bearer scheme, the real error model, the statuses its
routes answer, required If-Match, fixed values as enums, consistent titles and tags.

What each route really answers is checked against these documents by every in-process service test
(``tests.support.services.running_service``: an answer the document lacks fails the test)."""

from __future__ import annotations

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
