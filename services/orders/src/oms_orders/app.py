"""Composition root of the orders service."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from oms_orders import domain, numbering
from oms_orders.api import Deps, build_router
from oms_orders.db import metadata
from oms_orders.handlers import identity
from oms_orders.handlers.catalog import apply_product, apply_warehouse
from oms_orders.handlers.changes import scan_overdue
from oms_orders.handlers.erp import apply_erp_change
from oms_orders.handlers.preview import apply_stock
from oms_orders.handlers.reserves import apply_reserve
from oms_orders.metrics import OrdersMetrics
from oms_orders.settings import Settings
from oms_orders.storage import document_store
from oms_shared.auth import TokenVerifier, generate_keypair, jwks_document, public_pem_of, write_key_file
from oms_shared.contracts import (
    AccountUpdatedV1,
    BuyerInvitedV1,
    BuyerUpdatedV1,
    EmployeeInvitedV1,
    ErpOrderChangedV1,
    OrderChangedV1,
    OrderDeletedV1,
    OrderPlacedV1,
    OrderStatusChangedV1,
    PriceListUpdatedV1,
    ProductUpdatedV1,
    ReserveUpdatedV1,
    StockUpdatedV1,
    UserPasswordResetRequestedV1,
    WarehouseUpdatedV1,
)
from oms_shared.http import MULTIPART_OVERHEAD, BodyLimit, error_body
from oms_shared.service import ServiceRuntime
from oms_shared.throttle import AttemptGuard, RateLimiter

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)

# Domain refusals by HTTP status; anything else the domain refuses is a conflict with the order's state.
UNPROCESSABLE = {"invalid_lines", "bad_file_name", "invalid_time_limits", "invalid_import"}


def ensure_keys(settings: Settings) -> bytes:
    """Make the token key pair if it does not exist yet (the private key readable by its owner only,
    mode 0600); return the private PEM. A private key found with looser permissions is tightened."""
    private = Path(settings.jwt_private_key_file)
    public = Path(settings.jwt_public_key_file)
    if not private.exists():
        made_private, made_public = generate_keypair(private.parent)
        if made_private != private:
            write_key_file(private, made_private.read_bytes(), 0o600)
        if not public.exists():
            write_key_file(public, made_public.read_bytes(), 0o644)
    if private.stat().st_mode & 0o077:
        try:
            private.chmod(0o600)
            log.warning("the token private key %s was readable by others: mode set to 0600", private)
        except OSError:
            log.error("the token private key %s is readable by others; make it mode 0600", private)
    pem = private.read_bytes()
    if not public.exists():
        write_key_file(public, public_pem_of(pem), 0o644)
    return pem


def token_verifier(settings: Settings, private_pem: bytes) -> TokenVerifier:
    """Orders verifies with its own keys: the current one and, during a rotation, the previous one."""
    return TokenVerifier(
        public_pem_of(private_pem),
        extra_public_key_pems=tuple(previous_public_keys(settings)),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )


def previous_public_keys(settings: Settings) -> list[bytes]:
    return [Path(f).read_bytes() for f in settings.jwt_previous_public_key_files.split(",") if f.strip()]


def jwks_router(public_key_pems: list[bytes]) -> APIRouter:
    """``/.well-known/jwks.json``: the public keys other services verify tokens with (current first)."""
    router = APIRouter(tags=["identity"])
    document = jwks_document(public_key_pems)

    @router.get("/.well-known/jwks.json", summary="The public keys tokens are signed with (JWKS)")
    async def jwks() -> dict[str, Any]:
        return document

    return router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    private_pem = ensure_keys(settings)
    runtime = ServiceRuntime(settings, metadata, MIGRATIONS, title="OMS orders")
    runtime.token_verifier = token_verifier(settings, private_pem)
    numbering.use_blocks(runtime.db.engine, settings.order_number_block)
    runtime.routers.append(jwks_router([public_pem_of(private_pem), *previous_public_keys(settings)]))
    runtime.consumer.on(ReserveUpdatedV1, apply_reserve)
    runtime.consumer.on(WarehouseUpdatedV1, apply_warehouse)
    runtime.consumer.on(ProductUpdatedV1, apply_product)
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
        UserPasswordResetRequestedV1,
        BuyerInvitedV1,
        EmployeeInvitedV1,
    ]
    storage = document_store(settings)
    runtime.on_stopping.append(storage.close)
    deps = Deps(
        runtime.db,
        private_pem,
        settings.token_ttl_s,
        storage,
        settings.max_file_bytes,
        settings.max_import_bytes,
        settings.max_import_rows,
        settings.list_count_cap,
        signin_guard=AttemptGuard(
            RateLimiter(settings.signin_per_ip_burst, settings.signin_per_ip_per_minute),
            RateLimiter(settings.signin_per_login_burst, settings.signin_per_login_per_minute),
        ),
        session_ttl_s=settings.session_ttl_s,
        password_reset_ttl_s=settings.password_reset_ttl_s,
        invitation_ttl_s=settings.invitation_ttl_s,
        link_buyers_by_inn=settings.link_buyers_by_inn,
        metrics=OrdersMetrics(runtime.registry),
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

    async def expired_sessions_loop() -> None:
        """Sessions and reset tokens are kept a day past their expiry, then forgotten."""
        while True:
            await identity.purge_expired(runtime.db)
            await asyncio.sleep(3600)

    runtime.background.append(expired_sessions_loop)
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
