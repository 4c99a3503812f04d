"""The success answer of the inbox list for the OpenAPI document: schema and example.

The route returns what ``inbox.list_notifications`` builds (``inbox._notification_item`` per row and the
unread counts); this schema lists exactly the properties it writes."""

from __future__ import annotations

from typing import Any

from oms_notifications.domain import Kind
from oms_shared.openapi import BOOLEAN, DATETIME, INTEGER, STRING, array, obj, success

ID: dict[str, Any] = {"type": "string", "format": "uuid"}

NOTIFICATION = obj(
    {
        "notification_id": ID,
        "order_id": ID,
        "order_number": STRING,
        "buyer_name": {**STRING, "description": "the order's buyer; empty while the order is not known here yet"},
        "supplier_name": {**STRING, "description": "the order's supplier; empty while not known here yet"},
        "kind": {"type": "string", "enum": [k.value for k in Kind]},
        "title": STRING,
        "body": STRING,
        "changed_line_ids": {**array(ID), "description": "the order's lines the change touched"},
        "created_at": DATETIME,
        "read": BOOLEAN,
    }
)
INBOX = obj(
    {
        "items": {**array(NOTIFICATION), "description": "newest first unless sort says otherwise"},
        "total": INTEGER,
        "limit": INTEGER,
        "offset": INTEGER,
        "unread": {**INTEGER, "description": "the caller's unread notifications, whatever the filters"},
        "unread_orders": {**INTEGER, "description": "orders with unread notifications"},
    }
)
INBOX_EXAMPLE = {
    "items": [
        {
            "notification_id": "8a7b6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d",
            "order_id": "9d3c2b1a-8f7e-4d6c-b5a4-3e2d1c0b9a8f",
            "order_number": "42",
            "buyer_name": "ИП Покупатель",
            "supplier_name": "ООО «Поставщик»",
            "kind": "status_changed",
            "title": "Order 42: confirmed",
            "body": "The supplier confirmed order 42.",
            "changed_line_ids": [],
            "created_at": "2026-03-02T10:00:00+00:00",
            "read": False,
        }
    ],
    "total": 1,
    "limit": 50,
    "offset": 0,
    "unread": 1,
    "unread_orders": 1,
}

INBOX_LIST = success("A page of the caller's notifications and the unread counts", INBOX, INBOX_EXAMPLE)

COUNTS: dict[str, dict[str, Any]] = {
    "unread": {**INTEGER, "description": "the caller's unread notifications (the badge)"},
    "unread_orders": {**INTEGER, "description": "the caller's orders with unread notifications"},
}
ORDER_MARKERS = obj(
    {
        "order_id": ID,
        "order_number": STRING,
        "buyer_name": STRING,
        "supplier_name": STRING,
        "unread": {**INTEGER, "description": "unread notifications of this order"},
        "kinds": {**array(STRING), "description": "what changed, as notification kinds, oldest first"},
        "changed_line_ids": {**array(ID), "description": "the lines changed since the caller last looked"},
    }
)
MARKERS = obj({**COUNTS, "orders": array(ORDER_MARKERS)})
MARKERS_EXAMPLE = {
    "unread": 2,
    "unread_orders": 1,
    "orders": [
        {
            "order_id": "9d3c2b1a-8f7e-4d6c-b5a4-3e2d1c0b9a8f",
            "order_number": "42",
            "buyer_name": "ИП Покупатель",
            "supplier_name": "ООО «Поставщик»",
            "unread": 2,
            "kinds": ["lines_edited", "comment"],
            "changed_line_ids": ["3c4d5e6f-7a8b-4c9d-8e1f-2a3b4c5d6e7f"],
        }
    ],
}
MARKED = obj({"marked": {**INTEGER, "description": "notifications marked read by this call"}, **COUNTS})

UNREAD_MARKERS = success("Unseen changes per order and line, and the caller's counts", MARKERS, MARKERS_EXAMPLE)
MARKED_READ = success(
    "How many were marked, and the counts after", MARKED, {"marked": 2, "unread": 0, "unread_orders": 0}
)
