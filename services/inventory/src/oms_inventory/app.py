"""Composition root of the inventory service."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from oms_inventory import access
from oms_inventory.api import build_router
from oms_inventory.db import metadata
from oms_inventory.handlers import Inventory, InventoryMetrics
from oms_inventory.settings import Settings
from oms_shared.contracts import (
    BuyerUpdatedV1,
    ErpStockImportedV1,
    OrderChangedV1,
    OrderStatusChangedV1,
    PriceListUpdatedV1,
    ProductUpdatedV1,
    ReserveUpdatedV1,
    StockUpdatedV1,
    WarehouseUpdatedV1,
)
from oms_shared.db import utcnow
from oms_shared.http import BodyLimit
from oms_shared.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, metadata, MIGRATIONS, title="OMS inventory")
    inventory = Inventory(runtime.db, InventoryMetrics(runtime.registry))
    # Each order's buyer is noted on the way in; with buyer.updated it scopes a restricted manager (R-ACC-1).
    runtime.consumer.on(OrderStatusChangedV1, access.remembering_buyer(inventory.on_order_status_changed))
    runtime.consumer.on(OrderChangedV1, access.remembering_buyer(inventory.on_order_changed))
    runtime.consumer.on(BuyerUpdatedV1, access.on_buyer_updated)
    runtime.consumer.on(PriceListUpdatedV1, inventory.on_price_list_updated)
    runtime.consumer.on(ErpStockImportedV1, inventory.on_erp_stock_imported)
    runtime.routers.append(build_router(runtime.db, inventory))
    runtime.body_limits += [
        BodyLimit("/api/v1/stock/upload", settings.max_upload_body_bytes),
        BodyLimit("/api/v1/stock", settings.max_rows_body_bytes),
        BodyLimit("/api/v1/products", settings.max_rows_body_bytes),
    ]

    async def reconciler() -> None:
        while True:
            await inventory.reconcile()
            await inventory.expire_erp_snapshots(utcnow() - timedelta(seconds=settings.erp_snapshot_ttl_s))
            await asyncio.sleep(settings.reconcile_interval_s)

    runtime.background.append(reconciler)
    runtime.produces += [ReserveUpdatedV1, StockUpdatedV1, WarehouseUpdatedV1, ProductUpdatedV1]
    app = runtime.build_app()
    app.state.inventory = inventory
    return app
