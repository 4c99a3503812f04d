"""HTTP API of analytics: summaries, details, charts, Excel export and the read-model rebuild."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Histogram

from oms_analytics.answers import SUMMARY_ANSWER
from oms_analytics.charts import render_chart
from oms_analytics.db import users
from oms_analytics.domain import (
    FIGURES,
    GROUP_BYS,
    INTERVALS,
    SORTS,
    ReportError,
    ReportQuery,
    parse_details_query,
    parse_report_query,
)
from oms_analytics.excel import render_workbook, workbook_language
from oms_analytics.queries import Scope, load_details, load_summary, scope_of
from oms_analytics.rebuild import RebuildRuns
from oms_shared.auth import CurrentPrincipal
from oms_shared.db import Database
from oms_shared.errors import Conflict, Forbidden, Invalid, NotFound

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The parameters as OpenAPI shows them: their allowed values (checked by the domain, which names a bad one).
DateFrom = Annotated[
    str | None,
    Query(
        description="First day, YYYY-MM-DD (required; refused with date_range_missing)",
        json_schema_extra={"format": "date"},
    ),
]
DateTo = Annotated[
    str | None, Query(description="Last day, YYYY-MM-DD (required)", json_schema_extra={"format": "date"})
]
GroupBy = Annotated[str | None, Query(description="Split the summary", json_schema_extra={"enum": list(GROUP_BYS)})]
Interval = Annotated[
    str | None, Query(description="Period of the series (default: day)", json_schema_extra={"enum": list(INTERVALS)})
]
Figure = Annotated[str | None, Query(description="The figure to explain", json_schema_extra={"enum": list(FIGURES)})]
Sort = Annotated[
    str | None,
    Query(
        description="Order of the rows; '-' first for descending",
        json_schema_extra={"enum": [*SORTS, *(f"-{key}" for key in SORTS)]},
    ),
]


def _report(date_from: str | None, date_to: str | None, group_by: str | None, interval: str | None) -> ReportQuery:
    try:
        return parse_report_query(date_from, date_to, group_by, interval)
    except ReportError as exc:
        raise Invalid(exc.message, code=exc.code) from exc


def build_router(db: Database, runs: RebuildRuns, registry: CollectorRegistry) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["analytics"])
    latency = Histogram(
        "oms_analytics_report_seconds",
        "Time to compute a summary, chart or export",
        ["kind"],
        registry=registry,
        buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5),
    )

    async def _load(scope: Scope, query: ReportQuery, kind: str) -> dict[str, Any]:
        with latency.labels(kind).time():
            async with db.read() as conn:
                return await load_summary(conn, scope, query)

    @router.get(
        "/summary",
        summary="Summary of orders for a date range (R-AN-1), optionally by buyer or manager",
        responses=SUMMARY_ANSWER,
    )
    async def get_summary(
        principal: CurrentPrincipal,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        group_by: GroupBy = None,
        interval: Interval = None,
    ) -> dict[str, Any]:
        scope = scope_of(principal)
        return await _load(scope, _report(date_from, date_to, group_by, interval), "summary")

    @router.get("/summary/details", summary="The orders behind a figure of a summary, paginated")
    async def get_details(
        principal: CurrentPrincipal,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        interval: Interval = None,
        figure: Figure = None,
        buyer_id: str | None = None,
        manager_id: str | None = None,
        period: str | None = None,
        sort: Sort = None,
        limit: str | None = None,
        offset: str | None = None,
    ) -> dict[str, Any]:
        scope = scope_of(principal)
        report = _report(date_from, date_to, None, interval)
        try:
            dq = parse_details_query(
                report,
                figure=figure,
                buyer_id=buyer_id,
                manager_id=manager_id,
                period=period,
                sort=sort,
                limit=limit,
                offset=offset,
            )
        except ReportError as exc:
            raise Invalid(exc.message, code=exc.code) from exc
        async with db.read() as conn:
            return await load_details(conn, scope, dq)

    async def _chart(principal: CurrentPrincipal, fmt: str, params: tuple[str | None, ...]) -> Response:
        scope = scope_of(principal)
        body = await _load(scope, _report(*params), "chart")
        image = await asyncio.to_thread(render_chart, body, fmt)
        media = "image/png" if fmt == "png" else "image/svg+xml"
        return Response(image, media_type=media)

    @router.get(
        "/summary/chart.png",
        summary="The summary as a PNG chart",
        response_class=Response,
        responses={200: {"content": {"image/png": {}}}},
    )
    async def chart_png(
        principal: CurrentPrincipal,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        group_by: GroupBy = None,
        interval: Interval = None,
    ) -> Response:
        return await _chart(principal, "png", (date_from, date_to, group_by, interval))

    @router.get(
        "/summary/chart.svg",
        summary="The summary as an SVG chart",
        response_class=Response,
        responses={200: {"content": {"image/svg+xml": {}}}},
    )
    async def chart_svg(
        principal: CurrentPrincipal,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        group_by: GroupBy = None,
        interval: Interval = None,
    ) -> Response:
        return await _chart(principal, "svg", (date_from, date_to, group_by, interval))

    @router.get(
        "/summary/export.xlsx",
        summary="The summary as an Excel workbook with tables and charts (R-AN-2)",
        response_class=Response,
        responses={200: {"content": {XLSX: {}}}},
    )
    async def export_xlsx(
        principal: CurrentPrincipal,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        group_by: GroupBy = None,
        interval: Interval = None,
        lang: Annotated[
            Literal["ru", "en"] | None,
            Query(description="The workbook's language; else the user's (their profile), else Accept-Language."),
        ] = None,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> Response:
        scope = scope_of(principal)
        query = _report(date_from, date_to, group_by, interval)
        body = await _load(scope, query, "export")
        async with db.read() as conn:
            locale = await conn.scalar(
                sa.select(users.c.locale).where(
                    users.c.tenant_id == str(principal.account_id), users.c.user_id == str(principal.user_id)
                )
            )
        data = await asyncio.to_thread(render_workbook, body, workbook_language(lang, locale, accept_language))
        name = f"orders-summary-{query.group_by}-{query.date_from}-{query.date_to}.xlsx"
        return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @router.post(
        "/admin/rebuild",
        summary="Reset this account's read models and replay the topics from the beginning (owner only)",
        status_code=202,
        responses={200: {"description": "With wait=true: the rebuild, finished."}},
    )
    async def start_rebuild(principal: CurrentPrincipal, wait: bool = False) -> JSONResponse:
        principal.require_supplier()
        if not principal.is_owner:
            raise Forbidden("only the account owner can rebuild analytics", code="owner_only")
        tenant = str(principal.account_id)
        running = runs.running_for(tenant)
        if running is not None:
            raise Conflict("a rebuild is already running", code="rebuild_running", details=running.as_json())
        report, task = runs.start(tenant)
        if wait:
            await asyncio.shield(task)
            return JSONResponse(report.as_json(), status_code=200)
        return JSONResponse(report.as_json(), status_code=202)

    @router.get("/admin/rebuild/{rebuild_id}", summary="Progress and outcome of a rebuild")
    async def get_rebuild(principal: CurrentPrincipal, rebuild_id: str) -> dict[str, Any]:
        principal.require_supplier()
        report = runs.reports.get(rebuild_id)
        if report is None or report.tenant_id != str(principal.account_id):  # another account's: as unknown
            raise NotFound(f"no rebuild {rebuild_id}", code="rebuild_not_found")
        return report.as_json()

    return router
