"""Orders as the orders service answers them, for the console's view tests."""

from __future__ import annotations

from typing import Any

import httpx

ORDER_ID = "0b6f4c3e-0000-4000-8000-000000000001"
PART_ID = "0b6f4c3e-0000-4000-8000-000000000002"
LINE_1 = "11111111-0000-4000-8000-000000000001"
LINE_2 = "11111111-0000-4000-8000-000000000002"
WAREHOUSE = "22222222-0000-4000-8000-000000000001"
PRICE_LIST = "33333333-0000-4000-8000-000000000001"
BUYER = "44444444-0000-4000-8000-000000000001"


def a_line(line_id: str = LINE_1, **fields: Any) -> dict[str, Any]:
    line = {
        "line_id": line_id,
        "sku": "BOLT-8",
        "name": "Болт М8",
        "unit": "шт",
        "warehouse_id": WAREHOUSE,
        "warehouse_name": "Основной склад",
        "quantity": "10",
        "price": "100.00",
        "vat_rate": "20",
        "amount": "1000.00",
        "vat_amount": "166.67",
        "net_amount": "833.33",
        "gross_amount": "1000.00",
        "additional": False,
        "reserved": "0",
        "shortage": "0",
        "shipped": "0",
    }
    line.update(fields)
    return line


def an_order(status: str = "new", lines: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "order_id": ORDER_ID,
        "number": "1024",
        "status": status,
        "version": 3,
        "supplier_id": "acc-1",
        "supplier_name": "ООО Ромашка",
        "buyer_id": BUYER,
        "buyer_account_id": "acc-2",
        "buyer_name": "ИП Смирнов",
        "price_list_id": PRICE_LIST,
        "price_list_name": "Опт",
        "created_at": "2026-12-01T09:30:00Z",
        "updated_at": "2026-12-01T09:30:00Z",
        "status_changed_at": "2026-12-01T09:30:00Z",
        "desired_shipment_date": "2026-12-20",
        "shipment_date": None,
        "comment": "",
        "one_shipment": False,
        "responsible_user_id": None,
        "responsible_user_name": "",
        "paid_amount": "0.00",
        "total": "1500.00",
        "overdue": False,
        "rejected": False,
        "lines": lines
        if lines is not None
        else [
            a_line(),
            a_line(
                LINE_2,
                sku="NUT-8",
                name="Гайка М8",
                quantity="50",
                price="10.00",
                amount="500.00",
                vat_amount="83.33",
                net_amount="416.67",
                gross_amount="500.00",
            ),
        ],
        "vat_amount": "250.00",
        "currency": "RUB",
        "vat_mode": "included",
        "net_total": "1250.00",
        "gross_total": "1500.00",
        "reserve_status": "none",
        "parent_order_id": None,
        "part_ids": [],
        "history": [{"from": None, "to": status, "by_side": "buyer", "at": "2026-12-01T09:30:00Z", "comment": ""}],
        "allowed_transitions": [],
    }
    order.update(fields)
    return order


def a_price_list() -> dict[str, Any]:
    return {
        "price_list_id": PRICE_LIST,
        "name": "Опт",
        "currency": "RUB",
        "vat_mode": "included",
        "warehouse_ids": [WAREHOUSE],
        "warehouses": [{"warehouse_id": WAREHOUSE, "name": "Основной склад"}],
        "items": [
            {"sku": "BOLT-8", "name": "Болт М8", "unit": "шт", "price": "100.00", "vat_rate": "20"},
            {"sku": "NUT-8", "name": "Гайка М8", "unit": "шт", "price": "10.00", "vat_rate": "20"},
            {"sku": "WASHER-8", "name": "Шайба М8", "unit": "шт", "price": "2.50", "vat_rate": "20"},
        ],
    }


def error(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def price_list_items(request: httpx.Request) -> httpx.Response:
    """``GET /api/v1/price-lists/{id}/items?q=…&limit=…`` answered from ``a_price_list()``."""
    body = a_price_list()
    q = request.url.params.get("q", "").lower()
    limit = int(request.url.params.get("limit", "50"))
    found = [i for i in body["items"] if q in i["sku"].lower() or q in i["name"].lower()]
    return httpx.Response(200, json={**body, "items": found[:limit], "total": len(found), "limit": limit, "offset": 0})
