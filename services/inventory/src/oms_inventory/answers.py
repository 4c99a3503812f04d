"""The success answers of the main inventory routes, for the OpenAPI document: schema and example.

The routes return what ``queries`` builds (``_stock_item`` in a page, the availability JSON text); these
schemas list exactly the properties it writes."""

from __future__ import annotations

from typing import Any

from oms_shared.openapi import DECIMAL, INTEGER, STRING, array, nullable, obj, success

ID: dict[str, Any] = {"type": "string", "format": "uuid"}
QUANTITY: dict[str, Any] = {**DECIMAL, "description": 'a quantity as text, e.g. "5" or "2.5"'}

STOCK_ITEM = obj(
    {
        "warehouse_id": ID,
        "sku": STRING,
        "name": STRING,
        "unit": STRING,
        "on_hand": QUANTITY,
        "reserved": QUANTITY,
        "available": {**QUANTITY, "description": "on hand less reserved"},
        "incoming": {**QUANTITY, "description": "expected deliveries not yet received"},
    }
)
STOCK_PAGE = obj({"items": array(STOCK_ITEM), "total": INTEGER, "limit": INTEGER, "offset": INTEGER})
STOCK_PAGE_EXAMPLE = {
    "items": [
        {
            "warehouse_id": "4d5e6f7a-8b9c-4d0e-9f2a-3b4c5d6e7f8a",
            "sku": "A-100",
            "name": "Bolt M8",
            "unit": "pcs",
            "on_hand": "120",
            "reserved": "10",
            "available": "110",
            "incoming": "50",
        }
    ],
    "total": 1,
    "limit": 100,
    "offset": 0,
}

WAREHOUSE_CELL = obj(
    {"warehouse_id": ID, "on_hand": QUANTITY, "reserved": QUANTITY, "available": QUANTITY},
    optional=("on_hand", "reserved"),
)
WAREHOUSE_CELL["description"] = "on_hand and reserved for the supplier's users only"
AVAILABILITY_LINE = obj(
    {
        "sku": STRING,
        "name": STRING,
        "warehouses": {**array(WAREHOUSE_CELL), "description": "the list's warehouses, in the list's order"},
        "total_available": {**QUANTITY, "description": "over all the supplier's warehouses"},
        "total_available_in_list": {**QUANTITY, "description": "over the list's warehouses"},
    }
)
AVAILABILITY = obj(
    {
        "price_list_id": ID,
        "name": STRING,
        "warehouse_ids": array(ID),
        "warehouses": {
            **array(obj({"warehouse_id": ID, "name": STRING})),
            "description": "the list's warehouses with their names, in the list's order",
        },
        "total": {**INTEGER, "description": "lines in the price list (of those asked for with sku)"},
        "limit": {**nullable(INTEGER), "description": "null: the whole list"},
        "offset": INTEGER,
        "items": array(AVAILABILITY_LINE),
    }
)
AVAILABILITY_EXAMPLE = {
    "price_list_id": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
    "name": "Опт",
    "warehouse_ids": ["4d5e6f7a-8b9c-4d0e-9f2a-3b4c5d6e7f8a"],
    "warehouses": [{"warehouse_id": "4d5e6f7a-8b9c-4d0e-9f2a-3b4c5d6e7f8a", "name": "Main warehouse"}],
    "total": 1,
    "limit": None,
    "offset": 0,
    "items": [
        {
            "sku": "A-100",
            "name": "Bolt M8",
            "warehouses": [
                {
                    "warehouse_id": "4d5e6f7a-8b9c-4d0e-9f2a-3b4c5d6e7f8a",
                    "on_hand": "120",
                    "reserved": "10",
                    "available": "110",
                }
            ],
            "total_available": "110",
            "total_available_in_list": "110",
        }
    ],
}

STOCK_LIST = success("A page of stock rows, one per warehouse item", STOCK_PAGE, STOCK_PAGE_EXAMPLE)
PRICE_LIST_AVAILABILITY = success("Availability of the price list's lines", AVAILABILITY, AVAILABILITY_EXAMPLE)
