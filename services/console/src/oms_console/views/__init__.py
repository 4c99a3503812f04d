"""Routers per screen family; ``ROUTERS`` is what the app includes, in order."""

from __future__ import annotations

from fastapi import APIRouter

from oms_console.views import auth, inbox, order, orders

ROUTERS: list[APIRouter] = [auth.router, orders.router, order.router, inbox.router]
# Routes that take uploads (larger bodies than a form): the app gives them the upload limit.
UPLOAD_PATHS: list[str] = ["/orders/{order_id}/documents"]
