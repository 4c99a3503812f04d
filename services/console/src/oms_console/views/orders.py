"""R-UI-3: the order lists ("orders to suppliers" for buyers, "customer orders" for the supplier's people)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from oms_console.rendering import is_htmx, render
from oms_console.views.common import CurrentUser, Services

router = APIRouter()


@router.get("/orders")
async def order_list(request: Request, user: CurrentUser, api: Services) -> Response:
    page = await api.orders.list_orders({"limit": 50})
    return render(request, "orders/list.html", {"page": page}, block="results" if is_htmx(request) else None)
