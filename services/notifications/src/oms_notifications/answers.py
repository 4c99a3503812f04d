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
