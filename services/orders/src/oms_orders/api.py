"""HTTP API of the orders service (``/api/v1``): requests in, use cases called, JSON out; no rules here."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Header, Path, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from oms_orders import answers, schemas
from oms_orders.handlers import (
    account,
    catalog,
    changes,
    communication,
    employees,
    export,
    identity,
    imports,
    invitations,
    links,
    listing,
    parts,
    preview,
)
from oms_orders.handlers import orders as order_cases
from oms_orders.metrics import OrdersMetrics
from oms_orders.storage import FileStorage
from oms_shared.auth import CurrentPrincipal, Principal
from oms_shared.db import Database, declare_outcome
from oms_shared.openapi import IF_MATCH_REQUIRED, THROTTLED, UNAVAILABLE
from oms_shared.throttle import AttemptGuard, RateLimiter

IfMatch = Annotated[str | None, Header(alias="If-Match")]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


def order_response(body: dict[str, Any], status_code: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, headers={"ETag": f'"{body["version"]}"'})


class Deps:
    """What the routes need, built once by the composition root."""

    def __init__(
        self,
        db: Database,
        private_key_pem: bytes,
        token_ttl_s: int,
        storage: FileStorage,
        max_file_bytes: int,
        max_import_bytes: int,
        max_import_rows: int,
        list_count_cap: int = listing.COUNT_CAP,
        signin_guard: AttemptGuard | None = None,
        session_ttl_s: int = 12 * 3600,
        password_reset_ttl_s: int = 3600,
        invitation_ttl_s: int = 7 * 24 * 3600,
        link_buyers_by_inn: bool = True,
        metrics: OrdersMetrics | None = None,
    ) -> None:
        self.db = db
        self.metrics = metrics
        self.private_key_pem = private_key_pem
        self.token_ttl_s = token_ttl_s
        self.storage = storage
        self.max_file_bytes = max_file_bytes
        self.max_import_bytes = max_import_bytes
        self.max_import_rows = max_import_rows
        self.list_count_cap = list_count_cap
        self.tokens = identity.TokenPolicy(
            private_key_pem,
            access_ttl_s=token_ttl_s,
            session_ttl_s=session_ttl_s,
            password_reset_ttl_s=password_reset_ttl_s,
            invitation_ttl_s=invitation_ttl_s,
            link_buyers_by_inn=link_buyers_by_inn,
        )
        self.signin_guard = signin_guard or AttemptGuard(RateLimiter(50, 30), RateLimiter(10, 5))


def order_filters(
    status: Annotated[str, Query(description="Comma-separated statuses")] = "",
    buyer_id: uuid.UUID | None = None,
    price_list_id: uuid.UUID | None = None,
    supplier_id: Annotated[uuid.UUID | None, Query(description="The supplier (a buyer's list)")] = None,
    responsible_user_id: Annotated[uuid.UUID | None, Query(description="The responsible employee")] = None,
    number: str | None = None,
    search: Annotated[str, Query(max_length=200, description="Buyer name or order number")] = "",
    created_from: date | None = None,
    created_to: date | None = None,
    shipment_from: date | None = None,
    shipment_to: date | None = None,
    updated_from: date | None = None,
    updated_to: date | None = None,
    total_min: Decimal | None = None,
    total_max: Decimal | None = None,
    paid_min: Decimal | None = None,
    paid_max: Decimal | None = None,
    overdue: bool | None = None,
    sort: Annotated[str, Query(description=f"One of {', '.join(listing.SORTS)}; a leading - sorts down")] = (
        "-created_at"
    ),
) -> listing.OrderQuery:
    """The order list's filters and sort (R-LS-1), the same for a page and for the export."""
    return listing.OrderQuery(
        statuses=[s for s in status.split(",") if s],
        buyer_id=str(buyer_id) if buyer_id else None,
        price_list_id=str(price_list_id) if price_list_id else None,
        supplier_id=str(supplier_id) if supplier_id else None,
        responsible_user_id=str(responsible_user_id) if responsible_user_id else None,
        number=number,
        search=search,
        created_from=created_from,
        created_to=created_to,
        shipment_from=shipment_from,
        shipment_to=shipment_to,
        updated_from=updated_from,
        updated_to=updated_to,
        total_min=total_min,
        total_max=total_max,
        paid_min=paid_min,
        paid_max=paid_max,
        overdue=overdue,
        sort=sort,
    )


def build_router(deps: Deps) -> APIRouter:
    db = deps.db
    router = APIRouter(prefix="/api/v1")

    async def order_body(principal: Principal, order_id: str | uuid.UUID) -> dict[str, Any]:
        return await order_cases.get_order(db, principal, uuid.UUID(str(order_id)))

    # ------------------------------------------------------------ identity

    @router.post(
        "/accounts",
        status_code=201,
        tags=["identity"],
        summary="Register a supplier or buyer account",
        description=(
            "Creates the account and its owner and answers their ids; it signs nobody in and returns no token. "
            "To call the API as the owner, sign in with the same e-mail and password: `POST /api/v1/auth/token` "
            '`{"email": "…", "password": "…"}` answers `access_token` (send it as `Authorization: Bearer <token>`) '
            "and `refresh_token` (renew the short-lived access token with `POST /api/v1/auth/refresh`). A buyer "
            "whose INN (and KPP) a supplier already keeps as its buyer is linked to that buyer record here."
        ),
    )
    async def create_account(body: schemas.AccountIn) -> dict[str, Any]:
        return await identity.create_account(db, body, link_by_inn=deps.tokens.link_buyers_by_inn)

    def client_ip(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    @router.post(
        "/auth/token",
        tags=["identity"],
        summary="Sign in: e-mail and password for a token",
        responses={
            **answers.SIGNED_IN,
            **THROTTLED,
            401: {"description": "Wrong e-mail or password, or a disabled user."},
        },
    )
    async def token(body: schemas.TokenIn, request: Request) -> dict[str, Any]:
        deps.signin_guard.check(client_ip(request), identity.normalize_email(body.email))
        return await identity.sign_in(db, body, deps.tokens)

    @router.post(
        "/auth/refresh",
        tags=["identity"],
        summary="A new access token for a refresh token",
        responses={401: {"description": "The refresh token is unknown, expired, reused or its session ended."}},
    )
    async def refresh(body: schemas.RefreshIn) -> dict[str, Any]:
        return await identity.refresh(db, body, deps.tokens)

    @router.post(
        "/auth/password-reset",
        status_code=202,
        tags=["identity"],
        summary="E-mail a password reset link",
        responses=THROTTLED,
    )
    async def request_password_reset(body: schemas.PasswordResetRequestIn, request: Request) -> dict[str, str]:
        deps.signin_guard.check(client_ip(request), identity.normalize_email(body.email))
        await identity.request_password_reset(db, body, deps.tokens)
        return {"status": "if the address belongs to a user, a reset link is on its way"}

    @router.post(
        "/auth/password-reset/confirm",
        status_code=204,
        tags=["identity"],
        summary="Set a new password by reset link",
        responses={**THROTTLED, 400: {"description": "The reset link is unknown, used or expired."}},
    )
    async def reset_password(body: schemas.PasswordResetIn, request: Request) -> Response:
        # Per address and per link: a shared key would let one client use up every user's reset attempts.
        link = hashlib.sha256(body.token.encode()).hexdigest()[:32]
        deps.signin_guard.check(client_ip(request), f"password-reset:{link}")
        await identity.reset_password(db, body)
        return Response(status_code=204)

    @router.post("/auth/logout", status_code=204, tags=["identity"], summary="End the caller's session")
    async def logout(principal: CurrentPrincipal) -> Response:
        await identity.sign_out(db, principal)
        return Response(status_code=204)

    @router.post(
        "/auth/password",
        status_code=204,
        tags=["identity"],
        summary="Change one's password (ends other sessions)",
        responses=THROTTLED,
    )
    async def change_password(
        body: schemas.PasswordChangeIn, request: Request, principal: CurrentPrincipal
    ) -> Response:
        deps.signin_guard.check(client_ip(request), f"user:{principal.user_id}")
        await identity.change_password(db, principal, body)
        return Response(status_code=204)

    @router.get("/me", tags=["identity"], summary="The caller: user, account and access levels")
    async def me(principal: CurrentPrincipal) -> dict[str, Any]:
        return await identity.me(db, principal)

    @router.post("/users", status_code=201, tags=["identity"], summary="Add an employee with access levels")
    async def create_user(body: schemas.UserIn, principal: CurrentPrincipal) -> dict[str, str]:
        return await identity.create_user(db, principal, body)

    @router.get("/users", tags=["identity"], summary="Users of the caller's account")
    async def list_users(principal: CurrentPrincipal) -> dict[str, Any]:
        return await identity.list_users(db, principal)

    @router.patch("/users/{user_id}", tags=["identity"], summary="Change a user's access levels")
    async def update_user(user_id: uuid.UUID, body: schemas.UserPatch, principal: CurrentPrincipal) -> dict[str, Any]:
        return await identity.update_user(db, principal, user_id, body)

    @router.post(
        "/users/invitations",
        status_code=201,
        tags=["identity"],
        summary="Invite an employee by e-mail, with access levels (R-ACC-1)",
        description=(
            "E-mails a one-time link (valid `OMS_ORDERS_INVITATION_TTL_S`, 7 days): the person sets a password "
            "through it (`POST /employee-invitations/{token}/accept`) and is a user of the account with the access "
            "given here. The rules of `POST /users` apply: only the owner or a user manager invites, nobody grants "
            "above their own level (403), and the e-mail must not belong to a user yet (409)."
        ),
        responses={
            403: {"description": "The caller does not manage users, or grants more than they have."},
            409: {"description": "A user with this e-mail exists."},
        },
    )
    async def invite_employee(body: schemas.EmployeeInvitationIn, principal: CurrentPrincipal) -> dict[str, Any]:
        return await employees.invite(db, principal, body, deps.tokens)

    @router.get(
        "/users/invitations",
        tags=["identity"],
        summary="Employee invitations still waiting to be accepted",
        responses={403: {"description": "The caller does not manage users."}},
    )
    async def list_employee_invitations(principal: CurrentPrincipal) -> dict[str, Any]:
        return await employees.list_pending(db, principal)

    @router.get(
        "/employee-invitations/{token}",
        tags=["identity"],
        summary="The employee invitation behind a link (no sign-in)",
        responses={404: {"description": "The link is unknown, used or expired."}},
    )
    async def show_employee_invitation(token: Annotated[str, Path(max_length=100)]) -> dict[str, Any]:
        return await employees.show(db, token)

    @router.post(
        "/employee-invitations/{token}/accept",
        status_code=201,
        tags=["identity"],
        summary="Set a password through an employee invitation: the user is created with the invited access",
        description="Then sign in with the invited e-mail and this password: `POST /api/v1/auth/token`.",
        responses={
            **THROTTLED,
            404: {"description": "The link is unknown, used or expired."},
            409: {"description": "A user with this e-mail exists meanwhile."},
        },
    )
    async def accept_employee_invitation(
        token: Annotated[str, Path(max_length=100)], body: schemas.EmployeeInvitationAcceptIn, request: Request
    ) -> dict[str, str]:
        # Guesses are bounded per address; the link's own attempts per link (not one budget for every company).
        deps.signin_guard.check(client_ip(request), f"employee-invitation:{token}")
        return await employees.accept(db, token, body)

    # ------------------------------------------------------------ buyers

    @router.post("/buyers", status_code=201, tags=["buyers"], summary="Add a buyer (counterparty)")
    async def create_buyer(body: schemas.BuyerIn, principal: CurrentPrincipal) -> dict[str, Any]:
        return await catalog.create_buyer(db, principal, body)

    @router.get("/buyers", tags=["buyers"], summary="The supplier's buyers")
    async def list_buyers(
        principal: CurrentPrincipal, search: str = "", limit: Limit = 50, offset: Offset = 0
    ) -> dict[str, Any]:
        return await catalog.list_buyers(db, principal, search=search, limit=limit, offset=offset)

    @router.get("/buyers/{buyer_id}", tags=["buyers"], summary="One buyer")
    async def get_buyer(buyer_id: uuid.UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        return await catalog.get_buyer(db, principal, buyer_id)

    @router.patch("/buyers/{buyer_id}", tags=["buyers"], summary="Change a buyer")
    async def update_buyer(
        buyer_id: uuid.UUID, body: schemas.BuyerPatch, principal: CurrentPrincipal
    ) -> dict[str, Any]:
        return await catalog.update_buyer(db, principal, buyer_id, body)

    # ------------------------------------------------------------ price lists

    @router.post("/price-lists", status_code=201, tags=["price lists"], summary="Create a price list")
    async def create_price_list(body: schemas.PriceListIn, principal: CurrentPrincipal) -> dict[str, Any]:
        return await catalog.create_price_list(db, principal, body)

    @router.get("/price-lists", tags=["price lists"], summary="Price lists: own (supplier) or open to me (buyer)")
    async def list_price_lists(principal: CurrentPrincipal, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
        return await catalog.list_price_lists(db, principal, limit=limit, offset=offset)

    @router.get(
        "/price-lists/{price_list_id}",
        tags=["price lists"],
        summary="One price list",
        description="The `ETag` header carries its version: send it back as `If-Match` to change the list.",
    )
    async def get_price_list(price_list_id: uuid.UUID, principal: CurrentPrincipal) -> JSONResponse:
        return order_response(await catalog.get_price_list(db, principal, price_list_id))

    @router.get(
        "/price-lists/{price_list_id}/items",
        tags=["price lists"],
        summary="A page of a price list's lines, searched by name or SKU (the buyer's catalogue, R-UI-2)",
        description=(
            "Product name, SKU, unit, price and VAT rate per line in the list's order, with the list's currency, "
            "VAT mode and warehouses by name. `q` finds lines whose name or SKU contains it (any case). For the "
            "availability of the page's lines ask inventory: `GET /api/v1/price-lists/{id}/availability?sku=…`."
        ),
        responses=answers.PRICE_LIST_PAGE,
    )
    async def price_list_items(
        price_list_id: uuid.UUID,
        principal: CurrentPrincipal,
        q: Annotated[str, Query(max_length=200, description="Part of a product name or SKU")] = "",
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        return await catalog.price_list_items_page(db, principal, price_list_id, q=q, limit=limit, offset=offset)

    @router.put(
        "/price-lists/{price_list_id}",
        tags=["price lists"],
        summary="Replace a price list",
        description=(
            "Replaces everything, `buyer_ids` included, so it needs `If-Match` with the version you loaded "
            "(428 without it, 412 if the list changed since, e.g. a buyer joined through the link). To open the "
            "list to a buyer or close it for one without touching the others use `PATCH .../buyers`."
        ),
    )
    async def update_price_list(
        price_list_id: uuid.UUID, body: schemas.PriceListIn, principal: CurrentPrincipal, if_match: IfMatch = None
    ) -> JSONResponse:
        return order_response(await catalog.update_price_list(db, principal, price_list_id, body, if_match))

    @router.patch(
        "/price-lists/{price_list_id}/buyers",
        tags=["price lists"],
        summary="Open a price list to buyers or close it for them",
        description=(
            "`add` and `remove` buyer ids; every other buyer, one who joined through the link meanwhile too, "
            "stays. Needs `If-Match` with the list's version (428 without it, 412 if stale)."
        ),
    )
    async def change_price_list_buyers(
        price_list_id: uuid.UUID,
        body: schemas.PriceListBuyersPatch,
        principal: CurrentPrincipal,
        if_match: IfMatch = None,
    ) -> JSONResponse:
        body_out = await catalog.change_price_list_buyers(db, principal, price_list_id, body, if_match)
        return order_response(body_out)

    # ------------------------------------------------------------ orders

    @router.post(
        "/orders", status_code=201, tags=["orders"], summary="Place an order (buyer)", responses=answers.PLACED
    )
    async def place_order(body: schemas.OrderIn, principal: CurrentPrincipal) -> JSONResponse:
        placed = await order_cases.place_order(db, principal, body)
        if deps.metrics is not None:
            deps.metrics.placed("placed")
        return order_response(placed, 201)

    @router.get(
        "/orders",
        tags=["orders"],
        summary="Order list with filters, search, sort and pages",
        responses=answers.ORDER_PAGE,
    )
    async def list_orders(
        principal: CurrentPrincipal,
        filters: Annotated[listing.OrderQuery, Depends(order_filters)],
        limit: Limit = 50,
        offset: Annotated[int, Query(ge=0, description="At most 10,000; page deeper with the cursor")] = 0,
        cursor: Annotated[
            str | None, Query(max_length=1000, description="next_cursor of the previous page (instead of offset)")
        ] = None,
    ) -> dict[str, Any]:
        query = dataclasses.replace(filters, limit=limit, offset=offset, cursor=cursor)
        return await listing.list_orders(db, principal, query, count_cap=deps.list_count_cap)

    @router.get(
        "/orders/export.xlsx",
        tags=["orders"],
        summary="The order list as an Excel workbook, with the list's filters and sort (R-UI-3)",
        description=(
            f"Every order the list shows with the same query parameters (no pages), one row each; more than "
            f"{listing.EXPORT_MAX_ROWS} matching orders is refused with 422 `export_too_large`: narrow the filters."
        ),
        response_class=Response,
        responses={200: {"description": "The workbook", "content": {imports.XLSX_TYPE: {}}}},
    )
    async def export_orders(
        principal: CurrentPrincipal,
        filters: Annotated[listing.OrderQuery, Depends(order_filters)],
        lang: Annotated[
            Literal["ru", "en"] | None, Query(description="Headers' language; else Accept-Language, else Russian.")
        ] = None,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> Response:
        rows = await listing.export_rows(db, principal, filters)
        content = await asyncio.to_thread(export.workbook, rows, imports.language(lang, None, accept_language))
        return Response(
            content,
            media_type=imports.XLSX_TYPE,
            headers={"Content-Disposition": 'attachment; filename="orders.xlsx"'},
        )

    @router.get(
        "/orders/{order_id}",
        tags=["orders"],
        summary="One order with lines, reserve, parts and history",
        responses=answers.ONE_ORDER,
    )
    async def get_order(order_id: uuid.UUID, principal: CurrentPrincipal) -> JSONResponse:
        return order_response(await order_body(principal, order_id))

    @router.post("/orders/{order_id}/transitions", tags=["orders"], summary="Change the status (status matrix)")
    async def transition(
        order_id: uuid.UUID, body: schemas.TransitionIn, principal: CurrentPrincipal, if_match: IfMatch = None
    ) -> JSONResponse:
        declare_outcome(200, f"/api/v1/orders/{order_id}")  # the answer, should it be lost after the commit
        await order_cases.transition(db, principal, order_id, body, if_match)
        return order_response(await order_body(principal, order_id))

    @router.post(
        "/orders/{order_id}/lines",
        tags=["orders"],
        summary="Edit, delete and add lines (R-ED-1)",
        openapi_extra=IF_MATCH_REQUIRED,
    )
    async def edit_lines(
        order_id: uuid.UUID, body: schemas.LinesEditIn, principal: CurrentPrincipal, if_match: IfMatch = None
    ) -> JSONResponse:
        declare_outcome(200, f"/api/v1/orders/{order_id}")  # the answer, should it be lost after the commit
        await changes.edit_lines(db, principal, order_id, body, if_match)
        return order_response(await order_body(principal, order_id))

    @router.get("/orders/{order_id}/changes", tags=["orders"], summary="Per-line change log (R-ED-3)")
    async def list_changes(order_id: uuid.UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        return await changes.list_changes(db, principal, order_id)

    @router.patch(
        "/orders/{order_id}/profile",
        tags=["orders"],
        summary="Shipment date, payment, responsible",
        openapi_extra=IF_MATCH_REQUIRED,
    )
    async def update_profile(
        order_id: uuid.UUID, body: schemas.ProfileIn, principal: CurrentPrincipal, if_match: IfMatch = None
    ) -> JSONResponse:
        declare_outcome(200, f"/api/v1/orders/{order_id}")  # the answer, should it be lost after the commit
        await changes.update_profile(db, principal, order_id, body, if_match)
        return order_response(await order_body(principal, order_id))

    @router.post(
        "/orders/{order_id}/parts",
        status_code=201,
        tags=["orders"],
        summary="Move or copy lines to a new or existing part (R-ED-2)",
        openapi_extra=IF_MATCH_REQUIRED,
    )
    async def move_lines(
        order_id: uuid.UUID, body: schemas.MoveLinesIn, principal: CurrentPrincipal, if_match: IfMatch = None
    ) -> JSONResponse:
        target = await parts.move_lines(db, principal, order_id, body, if_match)
        return order_response(await order_body(principal, target), 201)

    @router.get(
        "/orders/{order_id}/split-preview",
        tags=["orders"],
        summary="How the order would split if confirmed now (R-SPL-1)",
    )
    async def split_preview(order_id: uuid.UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        return await preview.split_preview(db, principal, order_id)

    @router.delete("/orders/{order_id}", status_code=204, tags=["orders"], summary="Hide a finished order (R-LS-2)")
    async def delete_order(order_id: uuid.UUID, principal: CurrentPrincipal, if_match: IfMatch = None) -> Response:
        await changes.delete_order(db, principal, order_id, if_match)
        return Response(status_code=204)

    @router.post("/orders/{order_id}/comments", status_code=201, tags=["communication"], summary="Comment")
    async def add_comment(order_id: uuid.UUID, body: schemas.CommentIn, principal: CurrentPrincipal) -> dict[str, Any]:
        return await communication.add_comment(db, principal, order_id, body.text)

    @router.get("/orders/{order_id}/comments", tags=["communication"], summary="Comments of an order")
    async def list_comments(order_id: uuid.UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        return await communication.list_comments(db, principal, order_id)

    @router.post(
        "/orders/{order_id}/documents",
        status_code=201,
        tags=["communication"],
        summary="Attach a file",
        responses=UNAVAILABLE,
    )
    async def add_document(
        order_id: uuid.UUID, principal: CurrentPrincipal, file: Annotated[UploadFile, File()]
    ) -> dict[str, Any]:
        content = await file.read(deps.max_file_bytes + 1)
        return await communication.add_document(
            db,
            deps.storage,
            principal,
            order_id,
            file_name=file.filename or "",
            content_type=file.content_type,
            content=content,
            max_bytes=deps.max_file_bytes,
        )

    @router.get("/orders/{order_id}/documents", tags=["communication"], summary="Files of an order")
    async def list_documents(order_id: uuid.UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        return await communication.list_documents(db, principal, order_id)

    @router.get(
        "/orders/{order_id}/documents/{document_id}",
        tags=["communication"],
        summary="Download a file",
        responses=UNAVAILABLE,
    )
    async def download(order_id: uuid.UUID, document_id: uuid.UUID, principal: CurrentPrincipal) -> Response:
        meta, content = await communication.read_document(db, deps.storage, principal, order_id, document_id)
        quoted = quote(meta["file_name"])
        return Response(
            content,
            media_type=meta["content_type"],
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quoted}"},
        )

    @router.get(
        "/account",
        tags=["settings"],
        summary="Your company's profile: name, INN/KPP, address, bank details (owner or user manager)",
        description="The `ETag` header carries its version: send it back as `If-Match` to change the profile.",
    )
    async def get_account(principal: CurrentPrincipal) -> JSONResponse:
        return order_response(await account.get_account(db, principal))

    @router.patch(
        "/account",
        tags=["settings"],
        summary="Change your company's profile (INN, KPP, BIC and account numbers are checked)",
        openapi_extra=IF_MATCH_REQUIRED,
    )
    async def update_account(
        body: schemas.AccountPatch, principal: CurrentPrincipal, if_match: IfMatch = None
    ) -> JSONResponse:
        return order_response(await account.update_account(db, principal, body, if_match))

    @router.get("/settings/time-limits", tags=["settings"], summary="Time limits per status, in hours (R-ST-4)")
    async def get_time_limits(principal: CurrentPrincipal) -> dict[str, Any]:
        return await changes.get_time_limits(db, principal)

    @router.put("/settings/time-limits", tags=["settings"], summary="Set the time limits per status")
    async def set_time_limits(body: schemas.TimeLimitsIn, principal: CurrentPrincipal) -> dict[str, Any]:
        return await changes.set_time_limits(db, principal, body)

    @router.get("/imports/template.xlsx", tags=["import"], summary="The Excel template for importing an order")
    async def import_template(
        lang: Annotated[
            Literal["ru", "en"] | None, Query(description="Headers' language; else Accept-Language.")
        ] = None,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> Response:
        return Response(
            imports.template_bytes(imports.language(lang, None, accept_language)),
            media_type=imports.XLSX_TYPE,
            headers={"Content-Disposition": 'attachment; filename="order-template.xlsx"'},
        )

    @router.get(
        "/price-lists/{price_list_id}/import-template.xlsx",
        tags=["import"],
        summary="The Excel template of a price list: its products, a quantity column per warehouse (R-IN-3)",
    )
    async def price_list_import_template(
        price_list_id: uuid.UUID,
        principal: CurrentPrincipal,
        lang: Annotated[
            Literal["ru", "en"] | None, Query(description="Headers' language; else the user's, else Accept-Language.")
        ] = None,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> Response:
        content, name = await imports.price_list_template(db, principal, price_list_id, lang, accept_language)
        return Response(
            content,
            media_type=imports.XLSX_TYPE,
            headers={
                "Content-Disposition": f"attachment; filename=\"order-template.xlsx\"; filename*=UTF-8''{quote(name)}"
            },
        )

    @router.post("/orders/import", status_code=201, tags=["import"], summary="Create an order from .xlsx (R-IN-3)")
    async def import_order(
        principal: CurrentPrincipal,
        file: Annotated[UploadFile, File()],
        buyer_id: Annotated[uuid.UUID, Form()],
        price_list_id: Annotated[uuid.UUID, Form()],
    ) -> JSONResponse:
        content = await file.read(deps.max_import_bytes + 1)
        order_id = await imports.import_order(
            db,
            principal,
            buyer_id=buyer_id,
            price_list_id=price_list_id,
            content=content,
            max_bytes=deps.max_import_bytes,
            max_rows=deps.max_import_rows,
        )
        if deps.metrics is not None:
            deps.metrics.placed("imported")
        return order_response(await order_body(principal, order_id), 201)

    @router.post("/price-lists/{price_list_id}/link", tags=["links"], summary="Open a price list by link (R-IN-2)")
    async def create_link(
        price_list_id: uuid.UUID, principal: CurrentPrincipal, regenerate: bool = False
    ) -> dict[str, str]:
        return await links.create_link(db, principal, price_list_id, regenerate=regenerate)

    @router.delete(
        "/price-lists/{price_list_id}/link", status_code=204, tags=["links"], summary="Switch a price list's link off"
    )
    async def delete_link(price_list_id: uuid.UUID, principal: CurrentPrincipal) -> Response:
        await links.delete_link(db, principal, price_list_id)
        return Response(status_code=204)

    @router.get("/links/{token}", tags=["links"], summary="The price list behind a link (no sign-in)")
    async def open_link(token: Annotated[str, Path(max_length=100)]) -> dict[str, Any]:
        return await links.open_link(db, token)

    @router.post(
        "/links/{token}/register",
        status_code=201,
        tags=["links"],
        summary="Short registration form: become a buyer of the supplier",
    )
    async def register_by_link(
        token: Annotated[str, Path(max_length=100)], body: schemas.LinkRegistrationIn
    ) -> dict[str, str]:
        return await links.register_by_link(db, token, body, link_by_inn=deps.tokens.link_buyers_by_inn)

    @router.post(
        "/buyers/{buyer_id}/invitations",
        status_code=201,
        tags=["buyers"],
        summary="Invite the buyer company by e-mail",
        description=(
            "E-mails a one-time link (valid `OMS_ORDERS_INVITATION_TTL_S`, 7 days): the buyer registers through it "
            "(`POST /invitations/{token}/register`) or, signed in with an account already, accepts it "
            "(`POST /invitations/{token}/accept`); either way this buyer record gets the account. 409 if the "
            "record has an account already."
        ),
    )
    async def invite_buyer(
        buyer_id: uuid.UUID, body: schemas.InvitationIn, principal: CurrentPrincipal
    ) -> dict[str, Any]:
        return await invitations.invite(db, principal, buyer_id, body, deps.tokens)

    @router.get("/buyers/{buyer_id}/invitations", tags=["buyers"], summary="Invitations sent to a buyer")
    async def list_invitations(buyer_id: uuid.UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        return await invitations.list_invitations(db, principal, buyer_id)

    @router.get("/invitations/{token}", tags=["buyers"], summary="The invitation behind a link (no sign-in)")
    async def show_invitation(token: Annotated[str, Path(max_length=100)]) -> dict[str, Any]:
        return await invitations.show(db, token)

    @router.post(
        "/invitations/{token}/register",
        status_code=201,
        tags=["buyers"],
        summary="Register a buyer account through an invitation",
        description="Then sign in with `POST /api/v1/auth/token` for a token.",
    )
    async def register_by_invitation(
        token: Annotated[str, Path(max_length=100)], body: schemas.InvitationRegistrationIn
    ) -> dict[str, str]:
        return await invitations.register(db, token, body)

    @router.post("/invitations/{token}/accept", tags=["buyers"], summary="A signed-in buyer accepts an invitation")
    async def accept_invitation(
        token: Annotated[str, Path(max_length=100)], principal: CurrentPrincipal
    ) -> dict[str, str]:
        return await invitations.accept(db, principal, token)

    @router.post("/links/{token}/join", tags=["links"], summary="A signed-in buyer joins through a link")
    async def join_by_link(token: Annotated[str, Path(max_length=100)], principal: CurrentPrincipal) -> dict[str, str]:
        return await links.join_by_link(db, principal, token)

    return router
