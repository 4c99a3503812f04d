"""R-UI-3: the order lists ("customer orders" for the supplier's people, "orders to suppliers" for buyers).

Every filter, the sort and the page live in the URL (shareable, back button works); the Excel export takes the
same query. The filters are the orders API's (``GET /api/v1/orders``); the console checks their form first so
a mistyped date or amount is said next to its field, in the user's language, and the API is not called.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from oms_console.auth import User
from oms_console.cache import NameCache
from oms_console.clients import Api, ServiceError
from oms_console.i18n import _
from oms_console.rendering import is_htmx, render
from oms_console.views.common import CurrentUser, Services, flash_from, form_errors, user_and
from oms_console.views.listexport import orders_workbook

router = APIRouter()

STATUSES = ("new", "editing", "awaiting_approval", "agreed", "confirmed", "shipped", "rejected", "cancelled")
SORT_KEYS = (
    "number",
    "created_at",
    "buyer",
    "price_list",
    "status",
    "shipment_date",
    "updated_at",
    "total",
    "paid_amount",
)
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_SORT = "-created_at"
MAX_OFFSET = 10_000
DATE_FIELDS = ("created_from", "created_to", "shipment_from", "shipment_to", "updated_from", "updated_to")
AMOUNT_FIELDS = ("total_min", "total_max", "paid_min", "paid_max")
TEXT_FIELDS = ("search", "number")
ID_FIELDS = ("buyer_id", "price_list_id")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class ListQuery:
    """The list's query as the URL carries it (what the user typed is kept, even when it is wrong)."""

    values: dict[str, str] = field(default_factory=dict)
    statuses: list[str] = field(default_factory=list)
    sort: str = DEFAULT_SORT
    page: int = 1
    per_page: int = 50
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_request(cls, request: Request) -> ListQuery:
        params = request.query_params
        q = cls()
        for name in (*TEXT_FIELDS, *ID_FIELDS, *DATE_FIELDS, *AMOUNT_FIELDS, "overdue"):
            value = (params.get(name) or "").strip()
            if value:
                q.values[name] = value[:200]
        for raw in params.getlist("status"):
            for status in raw.split(","):
                if status in STATUSES and status not in q.statuses:
                    q.statuses.append(status)
        sort = params.get("sort") or DEFAULT_SORT
        q.sort = sort if sort.lstrip("-") in SORT_KEYS else DEFAULT_SORT
        q.page = _positive_int(params.get("page"), 1)
        per_page = _positive_int(params.get("per_page"), 50)
        q.per_page = per_page if per_page in PAGE_SIZES else 50
        q.validate()
        return q

    def validate(self) -> None:
        for name in DATE_FIELDS:
            if name in self.values:
                try:
                    date.fromisoformat(self.values[name])
                except ValueError:
                    self.errors[name] = _("Enter a date.")
        for name in AMOUNT_FIELDS:
            if name in self.values:
                try:
                    amount = Decimal(self.values[name].replace(" ", "").replace(",", "."))
                except InvalidOperation:
                    self.errors[name] = _("Enter an amount.")
                else:
                    if not amount.is_finite() or amount < 0:
                        self.errors[name] = _("Enter an amount.")
                    else:
                        self.values[name] = str(amount)
        for low, high in (
            ("created_from", "created_to"),
            ("shipment_from", "shipment_to"),
            ("updated_from", "updated_to"),
        ):
            if low in self.values and high in self.values and not (self.errors.get(low) or self.errors.get(high)):
                if self.values[low] > self.values[high]:
                    self.errors[high] = _("The end is before the start.")
        if self.values.get("overdue") not in (None, "true", "false"):
            self.values.pop("overdue")
        if self.offset > MAX_OFFSET:
            self.errors["page"] = _("This page is too far; narrow the filters.")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def api_params(self) -> dict[str, Any]:
        """The orders API's query for this list (without paging)."""
        params: dict[str, Any] = dict(self.values)
        if self.statuses:
            params["status"] = ",".join(self.statuses)
        params["sort"] = self.sort
        return params

    def url(self, **changes: Any) -> str:
        """This list's URL with some parts changed (``page=2``, ``sort="-total"``); a new filter restarts at
        page 1."""
        pairs: list[tuple[str, str]] = [(k, v) for k, v in self.values.items()]
        pairs += [("status", s) for s in self.statuses]
        sort = changes.get("sort", self.sort)
        if sort != DEFAULT_SORT:
            pairs.append(("sort", sort))
        per_page = changes.get("per_page", self.per_page)
        if per_page != 50:
            pairs.append(("per_page", str(per_page)))
        page = changes.get("page", 1 if "sort" in changes else self.page)
        if page != 1:
            pairs.append(("page", str(page)))
        path = str(changes.get("path", "/orders"))
        return path + ("?" + urlencode(pairs) if pairs else "")

    @property
    def filtered(self) -> bool:
        return bool(self.values or self.statuses)


def _positive_int(raw: str | None, default: int) -> int:
    try:
        value = int(raw or "")
    except ValueError:
        return default
    return value if value >= 1 else default


def payment_state(order: dict[str, Any]) -> str:
    """unpaid / partial / paid, from what the order says was paid against its total."""
    try:
        paid, total = Decimal(str(order.get("paid_amount") or 0)), Decimal(str(order.get("total") or 0))
    except InvalidOperation:
        return "unpaid"
    if paid <= 0:
        return "unpaid"
    if paid < total:
        return "partial"
    return "paid"


def sums(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Totals of the money columns of the rows shown, per currency."""
    found: dict[str, dict[str, Decimal]] = {}
    for item in items:
        currency = str(item.get("currency") or "RUB")
        entry = found.setdefault(currency, {"total": Decimal(0), "paid": Decimal(0)})
        for key, column in (("total", "total"), ("paid", "paid_amount")):
            try:
                entry[key] += Decimal(str(item.get(column) or 0))
            except InvalidOperation:
                pass
    return [{"currency": c, **v} for c, v in found.items()]


async def _names(api: Api, user: User) -> dict[str, Any]:
    """Names for the filters and columns: buyers and people (staff), price lists. A refusal (the user may not
    read buyers) only leaves that filter out."""

    async def safe(coro: Any) -> list[dict[str, Any]]:
        try:
            body = await coro
        except ServiceError:
            return []
        return list(body.get("items") or []) if isinstance(body, dict) else []

    if user.is_staff:
        buyers, price_lists, people = await asyncio.gather(
            safe(api.orders.buyers(limit=200)), safe(api.orders.price_lists(limit=200)), safe(api.orders.users())
        )
    else:
        buyers, people = [], []
        price_lists = await safe(api.orders.price_lists(limit=200))
    return {
        "buyers": sorted(
            ({"id": b.get("buyer_id"), "name": b.get("name") or ""} for b in buyers if not b.get("deleted")),
            key=lambda b: str(b["name"]).lower(),
        ),
        "price_lists": sorted(
            ({"id": p.get("price_list_id"), "name": p.get("name") or ""} for p in price_lists),
            key=lambda p: str(p["name"]).lower(),
        ),
        "people": {str(p.get("user_id")): p.get("name") or p.get("email") or "" for p in people},
        "warehouses": {
            str(w.get("warehouse_id")): w.get("name") or ""
            for p in price_lists
            for w in (p.get("warehouses") or [])
            if isinstance(w, dict)
        },
    }


async def list_names(request: Request, api: Api, user: User) -> dict[str, Any]:
    cache: NameCache = request.app.state.names
    result: dict[str, Any] = await cache.get(user.user_id, "order-list", lambda: _names(api, user))
    return result


@router.get("/orders")
async def order_list(request: Request, api: Services) -> Response:
    """R-UI-3: the list with its filters; an htmx request (the filter form) gets only the results."""
    query = ListQuery.from_request(request)
    partial = is_htmx(request) and request.headers.get("HX-Target") == "results"
    errors = dict(query.errors)
    params = {**query.api_params(), "limit": query.per_page, "offset": query.offset}

    async def fetch_page() -> dict[str, Any] | None:
        return None if errors else await api.orders.list_orders(params)

    # The page of orders is asked for with the user (and the badge); the names, per user, are usually cached.
    user, (answer,) = await user_and(request, fetch_page())
    names = await list_names(request, api, user)
    if errors:  # read again: its messages in the user's language, known now
        query = ListQuery.from_request(request)
        errors = dict(query.errors)
    if isinstance(answer, ServiceError) and answer.status in (400, 422):
        errors = form_errors(answer)
        answer = None
    elif isinstance(answer, BaseException):
        raise answer
    page: dict[str, Any] = answer or {"items": [], "total": 0, "total_exact": True, "next_cursor": None}
    status_code = 422 if errors else 200
    items = list(page.get("items") or [])
    total = page.get("total")
    context = {
        "q": query,
        "items": items,
        "total": total,
        "total_exact": page.get("total_exact", True),
        "sums": sums(items),
        "pager": _pager(query, len(items), total, page.get("next_cursor")),
        "errors": errors,
        "names": names,
        "statuses": STATUSES,
        "page_sizes": PAGE_SIZES,
        "payment_state": payment_state,
        "title": _("Customer orders") if user.is_staff else _("Orders to suppliers"),
        "flash": flash_from(request),
    }
    return render(request, "orders/list.html", context, block="results" if partial else None, status_code=status_code)


def _pager(query: ListQuery, shown: int, total: Any, next_cursor: Any) -> dict[str, Any]:
    first = query.offset + 1 if shown else 0
    last = query.offset + shown
    has_next = bool(next_cursor) or (isinstance(total, int) and last < total)
    return {
        "first": first,
        "last": last,
        "total": total,
        "prev": query.url(page=query.page - 1) if query.page > 1 else None,
        "next": query.url(page=query.page + 1) if has_next and query.offset + query.per_page <= MAX_OFFSET else None,
    }


@router.get("/orders/export.xlsx")
async def export_orders(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-3: the list as it is filtered and sorted, as an Excel workbook (at most ``export_max_rows`` rows)."""
    query = ListQuery.from_request(request)
    if query.errors:
        raise ServiceError("console", 422, "invalid_filter", next(iter(query.errors.values())))
    limit = request.app.state.settings.export_max_rows
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    params = query.api_params()
    while len(rows) < limit:
        chunk = min(200, limit - len(rows))
        page = await api.orders.list_orders({**params, "limit": chunk, **({"cursor": cursor} if cursor else {})})
        rows.extend(page.get("items") or [])
        cursor = page.get("next_cursor")
        if not cursor or not page.get("items"):
            break
    names = await list_names(request, api, user)
    truncated = bool(cursor) and len(rows) >= limit
    content = orders_workbook(rows, user=user, people=names["people"], truncated=truncated)
    filename = "orders.xlsx"
    return Response(
        content,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
