"""Composition root of the ERP bridge."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from oms_erp_bridge.api import build_router
from oms_erp_bridge.db import metadata
from oms_erp_bridge.handlers import queue_order_for_erp
from oms_erp_bridge.settings import Settings
from oms_shared.contracts import OrderStatusChangedV1
from oms_shared.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, metadata, MIGRATIONS, title="OMS ERP bridge")
    runtime.consumer.on(OrderStatusChangedV1, queue_order_for_erp)
    runtime.routers.append(build_router(runtime.db))
    return runtime.build_app()
