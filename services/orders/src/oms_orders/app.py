"""Composition root of the orders service."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from oms_orders import domain
from oms_orders.api import Deps, build_router
from oms_orders.db import metadata
from oms_orders.handlers.catalog import apply_warehouse
from oms_orders.handlers.changes import scan_overdue
from oms_orders.handlers.erp import apply_erp_change
from oms_orders.handlers.preview import apply_stock
from oms_orders.handlers.reserves import apply_reserve
from oms_orders.settings import Settings
from oms_orders.storage import LocalFileStorage
from oms_shared.auth import generate_keypair
from oms_shared.contracts import (
    AccountUpdatedV1,
    BuyerUpdatedV1,
    ErpOrderChangedV1,
    OrderChangedV1,
    OrderDeletedV1,
    OrderPlacedV1,
    OrderStatusChangedV1,
    PriceListUpdatedV1,
    ReserveUpdatedV1,
    StockUpdatedV1,
    WarehouseUpdatedV1,
)
from oms_shared.http import MULTIPART_OVERHEAD, BodyLimit, error_body
from oms_shared.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"

# Domain refusals by HTTP status; anything else the domain refuses is a conflict with the order's state.
UNPROCESSABLE = {"invalid_lines", "bad_file_name", "invalid_time_limits", "invalid_import"}


def ensure_keys(settings: Settings) -> bytes:
    """Dev convenience: make the token key pair if it does not exist yet; return the private PEM."""
    private = Path(settings.jwt_private_key_file)
    public = Path(settings.jwt_public_key_file)
    if not private.exists():
        made_private, made_public = generate_keypair(private.parent)
        if made_private != private:
            private.write_bytes(made_private.read_bytes())
        if not public.exists():
            public.parent.mkdir(parents=True, exist_ok=True)
            public.write_bytes(made_public.read_bytes())
    pem = private.read_bytes()
    if not public.exists():
        key = serialization.load_pem_private_key(pem, password=None)
        public.parent.mkdir(parents=True, exist_ok=True)
        public.write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    return pem


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    private_pem = ensure_keys(settings)
    runtime = ServiceRuntime(settings, metadata, MIGRATIONS, title="OMS orders")
    runtime.consumer.on(ReserveUpdatedV1, apply_reserve)
    runtime.consumer.on(WarehouseUpdatedV1, apply_warehouse)
    runtime.consumer.on(StockUpdatedV1, apply_stock)
    runtime.consumer.on(ErpOrderChangedV1, apply_erp_change)
    runtime.produces += [
        AccountUpdatedV1,
        BuyerUpdatedV1,
        PriceListUpdatedV1,
        OrderPlacedV1,
        OrderStatusChangedV1,
        OrderChangedV1,
        OrderDeletedV1,
    ]
    deps = Deps(
        runtime.db,
        private_pem,
        settings.token_ttl_s,
        LocalFileStorage(Path(settings.files_dir)),
        settings.max_file_bytes,
        settings.max_import_bytes,
        settings.max_import_rows,
        settings.list_count_cap,
    )
    runtime.routers.append(build_router(deps))
    runtime.body_limits += [
        BodyLimit("/api/v1/orders/import", settings.max_import_bytes + MULTIPART_OVERHEAD),
        BodyLimit("/api/v1/orders/{order_id}/documents", settings.max_file_bytes + MULTIPART_OVERHEAD),
        BodyLimit("/api/v1/price-lists", settings.max_price_list_body_bytes),
        BodyLimit("/api/v1/price-lists/{price_list_id}", settings.max_price_list_body_bytes),
    ]

    async def overdue_loop() -> None:
        """R-ST-4: flag orders past their status's time limit, then look again after a while."""
        while True:
            await scan_overdue(runtime.db)
            await asyncio.sleep(settings.overdue_scan_interval_s)

    runtime.background.append(overdue_loop)
    app = runtime.build_app()

    @app.exception_handler(domain.DomainError)
    async def _domain_error(_request: Request, exc: domain.DomainError) -> JSONResponse:
        status = 422 if exc.code in UNPROCESSABLE else 409
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=status)

    @app.exception_handler(IntegrityError)
    async def _integrity_error(_request: Request, _exc: IntegrityError) -> JSONResponse:
        # Two requests raced for the same unique value (e-mail, number); the loser gets a clear conflict.
        return JSONResponse(error_body("conflict", "this conflicts with a concurrent change; retry"), status_code=409)

    return app
