"""Routers per screen family; ``ROUTERS`` is what the app includes, in order."""

from __future__ import annotations

from fastapi import APIRouter

from oms_console.views import (
    account_settings,
    accounts,
    analytics,
    auth,
    buyers,
    catalogue,
    editing,
    imports,
    inbox,
    join,
    order,
    orders,
    parts,
    price_lists,
    printing,
    products,
    settings,
    signup,
    stock,
)

# ``imports`` before ``order``: /orders/import is not an order's page.
ROUTERS: list[APIRouter] = [
    auth.router,
    orders.router,
    imports.router,
    order.router,
    catalogue.router,
    join.router,
    accounts.router,
    inbox.router,
    stock.router,
    analytics.router,
    account_settings.router,
    settings.router,
    products.router,
    buyers.router,
    price_lists.router,
    signup.router,
]
ROUTERS += [editing.router, parts.router, printing.router]  # R-UI-5, R-UI-6, R-UI-12
# Routes that take uploads (larger bodies than a form): the app gives them the upload limit.
UPLOAD_PATHS: list[str] = ["/orders/{order_id}/documents", "/orders/import", "/stock/upload"]
