"""R-UI-4: the order page (``/orders/{order_id}``; e-mails link here)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from oms_console.rendering import render
from oms_console.views.common import CurrentUser, Services
from oms_console.views.inbox import looked_at

router = APIRouter()


@router.get("/orders/{order_id}")
async def order_page(order_id: str, request: Request, user: CurrentUser, api: Services) -> Response:
    order = await api.orders.order(order_id)
    await looked_at(request, api, order_id)
    return render(request, "orders/page.html", {"order": order.body, "etag": order.etag})
