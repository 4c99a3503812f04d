"""The success answers of the main order routes, for the OpenAPI document: schema and example.

The routes return plain dicts built by the handlers (``handlers.orders.order_body``, ``handlers.listing``,
``handlers.identity``); these schemas list exactly the properties those builders write."""

from __future__ import annotations

from typing import Any

from oms_shared.openapi import (
    BOOLEAN,
    DATE,
    DATETIME,
    DECIMAL,
    INTEGER,
    STRING,
    array,
    nullable,
    obj,
    success,
)

ID: dict[str, Any] = {"type": "string", "format": "uuid"}
VAT_MODE: dict[str, Any] = {"type": "string", "enum": ["included", "on_top"]}

TOKEN = obj(
    {
        "access_token": {**STRING, "description": "a JWT for the Authorization: Bearer header"},
        "token_type": {"type": "string", "enum": ["bearer"]},
        "expires_in": {**INTEGER, "description": "seconds the access token lives"},
        "refresh_token": {**STRING, "description": "for POST /api/v1/auth/refresh"},
        "refresh_expires_in": {**INTEGER, "description": "seconds the refresh token lives"},
        "user_id": ID,
        "account_id": ID,
        "account_kind": {"type": "string", "enum": ["supplier", "buyer"]},
    }
)
TOKEN_EXAMPLE = {
    "access_token": "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI…",
    "token_type": "bearer",
    "expires_in": 900,
    "refresh_token": "6f1c2d3e-0a4b-4c5d-8e9f-1a2b3c4d5e6f.kq3…",
    "refresh_expires_in": 2592000,
    "user_id": "0b7e6c1a-3f2d-4e5a-9b8c-7d6e5f4a3b2c",
    "account_id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
    "account_kind": "buyer",
}

LINE = obj(
    {
        "line_id": ID,
        "sku": STRING,
        "name": STRING,
        "unit": STRING,
        "warehouse_id": nullable(ID),
        "warehouse_name": {**STRING, "description": "empty while the warehouse is not known here yet"},
        "quantity": DECIMAL,
        "price": DECIMAL,
        "vat_rate": {**DECIMAL, "description": "percent"},
        "amount": DECIMAL,
        "vat_amount": DECIMAL,
        "net_amount": {**DECIMAL, "description": "without VAT"},
        "gross_amount": {**DECIMAL, "description": "with VAT"},
        "additional": BOOLEAN,
        "reserved": DECIMAL,
        "shortage": DECIMAL,
        "shipped": {**DECIMAL, "description": "what the ERP has shipped of the line so far"},
    }
)
HISTORY = obj(
    {
        "from": nullable(STRING),
        "to": STRING,
        "by_user_id": nullable(ID),
        "by_user_name": STRING,
        "by_side": STRING,
        "at": DATETIME,
        "comment": STRING,
    }
)
TRANSITION = obj(
    {
        "to": STRING,
        "label": {**STRING, "description": "the status as a person reads it"},
        "comment_required": {**BOOLEAN, "description": "the move needs a comment (a reason)"},
    }
)
PART = obj({"order_id": ID, "number": STRING, "status": STRING, "total": DECIMAL, "currency": STRING})
ACTIONS = obj(
    {
        "edit_lines": {**BOOLEAN, "description": "POST .../lines (R-ED-1)"},
        "move_lines": {**BOOLEAN, "description": "POST .../parts (R-ED-2)"},
        "edit_profile": {**BOOLEAN, "description": "PATCH .../profile (R-PF-2, R-PF-3)"},
        "comment": {**BOOLEAN, "description": "POST .../comments (R-ACC-2)"},
        "attach_document": {**BOOLEAN, "description": "POST .../documents"},
        "delete": {**BOOLEAN, "description": "DELETE the order from one's own list (R-LS-2)"},
    }
)
_COMMON: dict[str, dict[str, Any]] = {
    "order_id": ID,
    "number": STRING,
    "status": STRING,
    "version": {**INTEGER, "description": "also the ETag; send it as If-Match to change the order"},
    "supplier_id": ID,
    "supplier_name": nullable(STRING),
    "buyer_id": ID,
}
ORDER = obj(
    {
        **_COMMON,
        "buyer_account_id": nullable(ID),
        "buyer_name": STRING,
        "price_list_id": nullable(ID),
        "price_list_name": STRING,
        "created_at": DATETIME,
        "updated_at": DATETIME,
        "status_changed_at": DATETIME,
        "desired_shipment_date": nullable(DATE),
        "shipment_date": nullable(DATE),
        "comment": STRING,
        "one_shipment": BOOLEAN,
        "responsible_user_id": nullable(ID),
        "responsible_user_name": {**STRING, "description": "empty when nobody is responsible"},
        "paid_amount": DECIMAL,
        "total": {**DECIMAL, "description": "what the buyer pays (the gross total)"},
        "overdue": BOOLEAN,
        "rejected": BOOLEAN,
        "lines": array(LINE),
        "vat_amount": DECIMAL,
        "currency": STRING,
        "vat_mode": VAT_MODE,
        "net_total": DECIMAL,
        "gross_total": DECIMAL,
        "reserve_status": STRING,
        "parent_order_id": nullable(ID),
        "parent_order_number": {**nullable(STRING), "description": "the number of the order this part belongs to"},
        "part_ids": array(ID),
        "parts": {**array(PART), "description": "the order's parts (R-SPL-1), each as its list row names it"},
        "history": array(HISTORY),
        "next_statuses": {**array(STRING), "description": "the statuses the caller may move the order to"},
        "allowed_actions": {
            **ACTIONS,
            "description": "what else this caller may do to the order now (offer only these)",
        },
        "allowed_transitions": {
            **array(TRANSITION),
            "description": (
                "the moves the status matrix allows this caller now (none without change access), each with "
                "its label and whether a comment is required: offer exactly these"
            ),
        },
    }
)
ORDER_EXAMPLE: dict[str, Any] = {
    "order_id": "9d3c2b1a-8f7e-4d6c-b5a4-3e2d1c0b9a8f",
    "number": "42",
    "status": "new",
    "version": 1,
    "supplier_id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
    "supplier_name": "ООО «Поставщик»",
    "buyer_id": "7e6d5c4b-3a2f-4e1d-9c8b-a7f6e5d4c3b2",
    "buyer_account_id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
    "buyer_name": "ИП Покупатель",
    "price_list_id": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
    "price_list_name": "Опт",
    "created_at": "2026-03-02T09:15:00+00:00",
    "updated_at": "2026-03-02T09:15:00+00:00",
    "status_changed_at": "2026-03-02T09:15:00+00:00",
    "desired_shipment_date": "2026-03-10",
    "shipment_date": None,
    "comment": "",
    "one_shipment": False,
    "responsible_user_id": None,
    "responsible_user_name": "",
    "paid_amount": "0",
    "total": "1200",
    "overdue": False,
    "rejected": False,
    "lines": [
        {
            "line_id": "3c4d5e6f-7a8b-4c9d-8e1f-2a3b4c5d6e7f",
            "sku": "A-100",
            "name": "Bolt M8",
            "unit": "pcs",
            "warehouse_id": "4d5e6f7a-8b9c-4d0e-9f2a-3b4c5d6e7f8a",
            "warehouse_name": "Main warehouse",
            "quantity": "10",
            "price": "120",
            "vat_rate": "20",
            "amount": "1200",
            "vat_amount": "200",
            "net_amount": "1000",
            "gross_amount": "1200",
            "additional": False,
            "reserved": "0",
            "shortage": "0",
            "shipped": "0",
        }
    ],
    "vat_amount": "200",
    "currency": "RUB",
    "vat_mode": "included",
    "net_total": "1000",
    "gross_total": "1200",
    "reserve_status": "none",
    "parent_order_id": None,
    "parent_order_number": None,
    "part_ids": [],
    "parts": [],
    "history": [
        {
            "from": None,
            "to": "new",
            "by_user_id": "0b7e6c1a-3f2d-4e5a-9b8c-7d6e5f4a3b2c",
            "by_user_name": "Ivan Petrov",
            "by_side": "buyer",
            "at": "2026-03-02T09:15:00+00:00",
            "comment": "",
        }
    ],
    "next_statuses": ["cancelled"],
    "allowed_transitions": [{"to": "cancelled", "label": "Cancelled", "comment_required": False}],
    "allowed_actions": {
        "edit_lines": False,
        "move_lines": False,
        "edit_profile": False,
        "comment": True,
        "attach_document": True,
        "delete": False,
    },
}

ORDER_SUMMARY = obj(
    {
        **_COMMON,
        "buyer_name": STRING,
        "price_list_id": nullable(ID),
        "price_list_name": STRING,
        "created_at": DATETIME,
        "updated_at": DATETIME,
        "desired_shipment_date": nullable(DATE),
        "shipment_date": nullable(DATE),
        "responsible_user_id": nullable(ID),
        "responsible_user_name": {**STRING, "description": "empty when nobody is responsible"},
        "total": DECIMAL,
        "paid_amount": DECIMAL,
        "overdue": BOOLEAN,
        "rejected": BOOLEAN,
        "reserve_status": STRING,
        "parent_order_id": nullable(ID),
        "currency": STRING,
        "vat_mode": VAT_MODE,
        "gross_total": DECIMAL,
        "vat_amount": DECIMAL,
        "net_total": DECIMAL,
    },
    optional=("vat_amount", "net_total"),
)
ORDER_LIST = obj(
    {
        "items": array(ORDER_SUMMARY),
        "total": {**INTEGER, "description": "matching orders, counted up to a cap"},
        "total_exact": {**BOOLEAN, "description": "false when the count stopped at the cap"},
        "sums": {
            **nullable(array(obj({"currency": STRING, "total": DECIMAL, "paid_amount": DECIMAL}))),
            "description": "total and paid summed over every matching order, per currency; null past the count cap",
        },
        "limit": INTEGER,
        "offset": INTEGER,
        "next_cursor": {**nullable(STRING), "description": "pass as cursor for the next page; null on the last"},
    }
)
_SUMMARY_KEYS = set(ORDER_SUMMARY["properties"])
ORDER_LIST_EXAMPLE = {
    "items": [{k: v for k, v in ORDER_EXAMPLE.items() if k in _SUMMARY_KEYS}],
    "total": 1,
    "total_exact": True,
    "sums": [{"currency": "RUB", "total": "1200", "paid_amount": "0"}],
    "limit": 50,
    "offset": 0,
    "next_cursor": None,
}

SIGNED_IN = success("Signed in: an access token and a refresh token", TOKEN, TOKEN_EXAMPLE)
PLACED = success("The order as placed (ETag: its version)", ORDER, ORDER_EXAMPLE, status=201)
ONE_ORDER = success("The order (ETag: its version)", ORDER, ORDER_EXAMPLE)
ORDER_PAGE = success("A page of orders", ORDER_LIST, ORDER_LIST_EXAMPLE)

PRICE_LIST_LINE = obj(
    {
        "sku": STRING,
        "name": STRING,
        "unit": STRING,
        "price": DECIMAL,
        "vat_rate": {**DECIMAL, "description": "percent"},
    }
)
PRICE_LIST_ITEMS = obj(
    {
        "price_list_id": ID,
        "name": STRING,
        "supplier_id": ID,
        "supplier_name": nullable(STRING),
        "currency": STRING,
        "vat_mode": VAT_MODE,
        "vat_included": {**BOOLEAN, "description": "prices include VAT (else VAT comes on top)"},
        "warehouses": array(obj({"warehouse_id": ID, "name": STRING})),
        "items": array(PRICE_LIST_LINE),
        "total": {**INTEGER, "description": "lines matching q (all lines without it)"},
        "limit": INTEGER,
        "offset": INTEGER,
    }
)
PRICE_LIST_ITEMS_EXAMPLE = {
    "price_list_id": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
    "name": "Опт",
    "supplier_id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
    "supplier_name": "ООО «Поставщик»",
    "currency": "RUB",
    "vat_mode": "included",
    "vat_included": True,
    "warehouses": [{"warehouse_id": "4d5e6f7a-8b9c-4d0e-9f2a-3b4c5d6e7f8a", "name": "Main warehouse"}],
    "items": [{"sku": "A-100", "name": "Bolt M8", "unit": "pcs", "price": "120", "vat_rate": "20"}],
    "total": 1,
    "limit": 50,
    "offset": 0,
}
PRICE_LIST_PAGE = success("A page of the price list's lines", PRICE_LIST_ITEMS, PRICE_LIST_ITEMS_EXAMPLE)
