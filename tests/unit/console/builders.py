"""Builders of the orders service's answers, with defaults; a test states only what matters to it."""

from __future__ import annotations

from typing import Any

ORDER_ID = "9d3c2b1a-8f7e-4d6c-b5a4-3e2d1c0b9a8f"
PART_ID = "1d3c2b1a-8f7e-4d6c-b5a4-3e2d1c0b9a81"
BUYER_ID = "7e6d5c4b-3a2f-4e1d-9c8b-a7f6e5d4c3b2"
PRICE_LIST_ID = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"
WAREHOUSE_ID = "4d5e6f7a-8b9c-4d0e-9f2a-3b4c5d6e7f8a"
MANAGER_ID = "0b7e6c1a-3f2d-4e5a-9b8c-7d6e5f4a3b2c"


def a_line(**overrides: Any) -> dict[str, Any]:
    return {
        "line_id": "3c4d5e6f-7a8b-4c9d-8e1f-2a3b4c5d6e7f",
        "sku": "A-100",
        "name": "Болт М8",
        "unit": "шт",
        "warehouse_id": WAREHOUSE_ID,
        "quantity": "10",
        "price": "120",
        "vat_rate": "20",
        "amount": "1200",
        "vat_amount": "200",
        "net_amount": "1000",
        "gross_amount": "1200",
        "additional": False,
        "reserved": "10",
        "shortage": "0",
        "shipped": "0",
        **overrides,
    }


def an_order(**overrides: Any) -> dict[str, Any]:
    return {
        "order_id": ORDER_ID,
        "number": "42",
        "status": "new",
        "version": 3,
        "supplier_id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
        "supplier_name": "ООО Ромашка",
        "buyer_id": BUYER_ID,
        "buyer_account_id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
        "buyer_name": "ИП Смирнов",
        "price_list_id": PRICE_LIST_ID,
        "price_list_name": "Опт",
        "created_at": "2026-12-01T09:15:00+00:00",
        "updated_at": "2026-12-02T10:00:00+00:00",
        "status_changed_at": "2026-12-01T09:15:00+00:00",
        "desired_shipment_date": "2026-12-22",
        "shipment_date": None,
        "comment": "",
        "one_shipment": False,
        "responsible_user_id": MANAGER_ID,
        "paid_amount": "0",
        "total": "1200",
        "overdue": False,
        "rejected": False,
        "lines": [a_line()],
        "vat_amount": "200",
        "currency": "RUB",
        "vat_mode": "included",
        "net_total": "1000",
        "gross_total": "1200",
        "reserve_status": "none",
        "parent_order_id": None,
        "part_ids": [],
        "history": [
            {
                "from": None,
                "to": "new",
                "by_user_id": "u-9",
                "by_user_name": "Иван Смирнов",
                "by_side": "buyer",
                "at": "2026-12-01T09:15:00+00:00",
                "comment": "",
            }
        ],
        "next_statuses": ["confirmed", "rejected"],
        **overrides,
    }


SUMMARY_KEYS = (
    "order_id number status version supplier_id supplier_name buyer_id buyer_name price_list_id price_list_name "
    "created_at updated_at desired_shipment_date shipment_date responsible_user_id total paid_amount overdue rejected "
    "reserve_status parent_order_id currency vat_mode gross_total vat_amount net_total"
).split()


def a_summary(**overrides: Any) -> dict[str, Any]:
    order = an_order(**overrides)
    return {k: order[k] for k in SUMMARY_KEYS}


def a_page(*items: dict[str, Any], total: int | None = None, next_cursor: str | None = None) -> dict[str, Any]:
    return {
        "items": list(items),
        "total": len(items) if total is None else total,
        "total_exact": True,
        "limit": 50,
        "offset": 0,
        "next_cursor": next_cursor,
    }


def names_answers(services: Any) -> None:
    """Buyers, price lists (with their warehouses) and people, as the filters and columns name them."""
    services.orders.get("/api/v1/buyers").respond(
        200, json={"items": [{"buyer_id": BUYER_ID, "name": "ИП Смирнов", "deleted": False}], "total": 1}
    )
    services.orders.get("/api/v1/price-lists").respond(
        200,
        json={
            "items": [
                {
                    "price_list_id": PRICE_LIST_ID,
                    "name": "Опт",
                    "warehouses": [{"warehouse_id": WAREHOUSE_ID, "name": "Склад Москва"}],
                }
            ],
            "total": 1,
        },
    )
    services.orders.get("/api/v1/users").respond(
        200, json={"items": [{"user_id": MANAGER_ID, "name": "Мария Менеджер", "email": "m@example.com"}]}
    )
