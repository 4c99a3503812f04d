"""Composition root of the ERP bridge: replicas from events, the 1C endpoint, the JSON ERP API."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI

from oms_erp_bridge import catalog_api, replicas, sale_api
from oms_erp_bridge.api import build_router
from oms_erp_bridge.db import exchange_log, files, metadata, sessions
from oms_erp_bridge.erp_auth import ErpAuth
from oms_erp_bridge.exchange import build_exchange_router, sweep_sessions
from oms_erp_bridge.settings import Settings
from oms_shared.contracts import (
    BuyerUpdatedV1,
    ErpOrderChangedV1,
    ErpStockImportedV1,
    OrderChangedV1,
    OrderPlacedV1,
    OrderStatusChangedV1,
    WarehouseUpdatedV1,
)
from oms_shared.http import MULTIPART_OVERHEAD, BodyLimit
from oms_shared.retention import RetentionRule
from oms_shared.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, metadata, MIGRATIONS, title="OMS ERP bridge")
    runtime.consumer.on(OrderPlacedV1, replicas.on_order_placed)
    runtime.consumer.on(OrderStatusChangedV1, replicas.on_order_status_changed)
    runtime.consumer.on(OrderChangedV1, replicas.on_order_changed)
    runtime.consumer.on(BuyerUpdatedV1, replicas.on_buyer_updated)
    runtime.consumer.on(WarehouseUpdatedV1, replicas.on_warehouse_updated)
    runtime.produces += [ErpOrderChangedV1, ErpStockImportedV1]
    runtime.routers.append(build_exchange_router(runtime.db, settings))
    runtime.routers.append(build_router(runtime.db))
    # The ERP's own credential (ADR 012), with its cache of checked passwords and its throttle of wrong ones.
    erp_auth = ErpAuth(
        runtime.db, settings.api_auth_cache_s, settings.api_auth_max_failures, settings.api_auth_failure_window_s
    )
    runtime.routers.append(sale_api.build_router(runtime.db, erp_auth))
    runtime.routers.append(catalog_api.build_router(runtime.db, settings, erp_auth))

    async def sweep_loop() -> None:
        """Delete the files of exchange sessions that ended or were abandoned."""
        while True:
            await sweep_sessions(runtime.db, settings)
            await asyncio.sleep(settings.session_sweep_interval_s)

    runtime.background.append(sweep_loop)

    runtime.body_limits += [
        # mode=file: one piece of at most file_limit_bytes, as told to 1C in mode=init.
        BodyLimit("/exchange/1c", settings.file_limit_bytes + MULTIPART_OVERHEAD),
        BodyLimit("/api/v1/erp/stock", settings.max_api_body_bytes),
        BodyLimit("/api/v1/erp/orders/{order_id}/changes", settings.max_api_body_bytes),
    ]
    runtime.retention += [
        RetentionRule(exchange_log, "started_at", settings.exchange_log_retention_s),
        RetentionRule(sessions, "last_seen_at", settings.exchange_session_retention_s),
        RetentionRule(files, "received_at", settings.exchange_session_retention_s),
    ]
    return runtime.build_app()
