"""HTTP API of the ERP bridge (the CommerceML exchange and the JSON ERP API come with the ERP issue)."""

from __future__ import annotations

from fastapi import APIRouter

from oms_erp_bridge.handlers import pending_orders
from oms_shared.auth import CurrentPrincipal
from oms_shared.db import Database


def build_router(db: Database) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["erp"])

    @router.get("/erp/pending-orders", summary="Orders waiting for the next ERP exchange")
    async def list_pending(principal: CurrentPrincipal) -> dict[str, object]:
        principal.require("orders", "read")
        async with db.read() as conn:
            items = await pending_orders(conn, str(principal.account_id))
        return {"items": items, "total": len(items)}

    return router
