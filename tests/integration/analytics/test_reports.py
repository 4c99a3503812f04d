"""Charts, Excel export and the rebuild of the read models from the topics (R-AN-1, R-AN-2, R-AN-3)."""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from PIL import Image

from oms_analytics import queries
from oms_analytics.app import create_app
from oms_analytics.main import rebuild as cli_rebuild
from oms_analytics.settings import Settings
from tests.integration.analytics.builders import Publisher, at, buyer, changed, placed, status_changed, supplier_account
from tests.support.services import bearer, eventually, running_service, token_for

RANGE = {"date_from": "2026-11-01", "date_to": "2026-11-30"}


async def _get(client: httpx.AsyncClient, path: str, token: str, **params: str) -> httpx.Response:
    resp = await client.get(path, params={**RANGE, **params}, headers=bearer(token))
    assert resp.status_code == 200, resp.text
    return resp


async def test_charts_excel_export_and_rebuild_show_the_same_figures(
    kafka: str,
    database_url: str,
    service_env: dict[str, object],
    keys: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """R-AN-1 charts, R-AN-2 Excel export with a native chart, R-AN-3 restricted exports,
    and a rebuild from the topics' history gives the same figures."""
    tenant, manager, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    b1, b2 = uuid.uuid4(), uuid.uuid4()
    o1, o2, o3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    owner = token_for(keys[0], account_id=tenant)
    restricted = token_for(
        keys[0], account_id=tenant, owner=False, access={"orders": "read"}, restricted=True, user_id=manager
    )
    settings = Settings(database_url=database_url, rebuild_idle_s=0.5, **service_env)  # type: ignore[arg-type]
    app = create_app(settings)
    async with running_service(app) as client, Publisher(kafka) as pub:
        await pub.send(
            supplier_account(tenant, (manager, "Мария"), (other, "Олег")),
            buyer(tenant, b1, "ООО Ромашка", [manager]),
            buyer(tenant, b2, "АО Василёк", [other]),
            placed(tenant, o1, b1, number="2001", price="1000.00", quantity="3", responsible=manager),
            placed(tenant, o2, b2, number="2002", price="500.00", day="2026-11-10", responsible=other),
            placed(tenant, o3, b1, number="2003", price="250.25", day="2026-11-20"),
            status_changed(tenant, o1, b1, to="confirmed", seq=2, when=at("2026-11-02", 12)),
            status_changed(tenant, o1, b1, to="shipped", seq=3, when=at("2026-11-05", 12)),
            status_changed(tenant, o2, b2, to="cancelled", seq=2, when=at("2026-11-11")),
            changed(tenant, o1, b1, kind="payment", seq=4, status="shipped", attributes={"paid_amount": "3000"}),
        )

        async def ready() -> dict[str, Any]:
            body: dict[str, Any] = (await _get(client, "/api/v1/summary", owner, group_by="buyer")).json()
            assert body["orders_count"] == 3
            assert body["shipped"]["count"] == 1
            assert body["cancelled"]["count"] == 1
            assert body["paid_sum"] == "3000.00"
            return body

        before = await eventually(ready, timeout=15)
        assert before["orders_sum"] == "3750.25"
        assert before["median_hours_to_ship"] == 72.0

        # Charts: a real PNG image and an SVG with readable labels.
        png = await _get(client, "/api/v1/summary/chart.png", owner, group_by="buyer", interval="week")
        assert png.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(png.content))
        assert image.format == "PNG" and image.size[0] >= 800 and image.size[1] >= 600
        svg = await _get(client, "/api/v1/summary/chart.svg", owner)
        assert svg.headers["content-type"].startswith("image/svg+xml")
        text = svg.text
        assert "<svg" in text and "Orders per day" in text and "By status" in text and "Shipped" in text

        # Excel: figures in a formatted table with a frozen header, and native charts.
        xlsx = await _get(client, "/api/v1/summary/export.xlsx", owner, group_by="buyer", lang="en")
        assert "attachment" in xlsx.headers["content-disposition"]
        wb = load_workbook(io.BytesIO(xlsx.content))
        assert wb.sheetnames == ["Summary", "Series", "By buyer"]
        summary = wb["Summary"]
        assert summary.freeze_panes == "A2"
        assert [c.value for c in summary[1]] == ["Figure", "Orders", "Sum", "Share"]
        rows = {r[0]: r[1:] for r in summary.iter_rows(min_row=2, max_col=4, values_only=True) if r[0]}
        assert rows["All orders"][:2] == (3, 3750.25)
        assert rows["Shipped (reached)"][:2] == (1, 3000)
        assert rows["Paid"][1] == 3000
        assert summary["C2"].number_format == "#,##0.00"
        assert summary["D2"].number_format == "0.0%"
        groups = wb["By buyer"]
        assert groups.freeze_panes == "A2"
        assert [r[:3] for r in groups.iter_rows(min_row=2, values_only=True)] == [
            ("ООО Ромашка", 2, 3250.25),
            ("АО Василёк", 1, 500),
        ]
        series = wb["Series"]
        assert sum(r[1] for r in series.iter_rows(min_row=2, values_only=True)) == 3
        assert len(summary._charts) == 1 and len(series._charts) == 1 and len(groups._charts) == 1
        with zipfile.ZipFile(io.BytesIO(xlsx.content)) as zf:
            charts = [n for n in zf.namelist() if n.startswith("xl/charts/chart")]
            assert len(charts) == 3
            group_chart = next(zf.read(n).decode() for n in charts if "By buyer" in zf.read(n).decode())
            assert "'By buyer'!$C$2:$C$3" in group_chart and "'By buyer'!$A$2:$A$3" in group_chart

        # A restricted manager's export and chart hold only their buyers' orders (R-AN-3).
        # In the manager's own language (her profile says Russian), whatever the browser says.
        export = await client.get(
            "/api/v1/summary/export.xlsx", params=RANGE, headers={**bearer(restricted), "Accept-Language": "en-US"}
        )
        mine = load_workbook(io.BytesIO(export.content))
        mine_rows = {r[0]: r[1:] for r in mine["Сводка"].iter_rows(min_row=2, max_col=4, values_only=True) if r[0]}
        assert mine_rows["Все заказы"][:2] == (2, 3250.25)
        assert "Статус сейчас: Отгружен" in mine_rows and "Отгружены (за период)" in mine_rows
        assert mine.sheetnames == ["Сводка", "Динамика"]
        assert [c.value for c in mine["Сводка"][1]] == ["Показатель", "Заказы", "Сумма", "Доля"]
        mine_svg = (await _get(client, "/api/v1/summary/chart.svg", restricted, group_by="buyer")).text
        assert "ООО Ромашка" in mine_svg and "АО Василёк" not in mine_svg

        bad = await client.get("/api/v1/summary/export.xlsx", params={"date_from": "2026-11-01"}, headers=bearer(owner))
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "date_range_missing"
        bad = await client.get("/api/v1/summary/chart.png", params={**RANGE, "group_by": "x"}, headers=bearer(owner))
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "unknown_group_by"

        # Rebuild: only the owner; it resets the read models and replays the topics → the same figures.
        resp = await client.post("/api/v1/admin/rebuild", headers=bearer(restricted))
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "owner_only"
        resp = await client.post("/api/v1/admin/rebuild", params={"wait": "true"}, headers=bearer(owner))
        assert resp.status_code == 200, resp.text
        report = resp.json()
        assert report["status"] == "done", report
        assert report["events_applied"] == 10
        after = (await _get(client, "/api/v1/summary", owner, group_by="buyer")).json()
        assert after == before
        resp = await client.get(f"/api/v1/admin/rebuild/{report['rebuild_id']}", headers=bearer(owner))
        assert resp.json()["status"] == "done"
        stranger = token_for(keys[0], account_id=uuid.uuid4())
        resp = await client.get(f"/api/v1/admin/rebuild/{report['rebuild_id']}", headers=bearer(stranger))
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "rebuild_not_found"
        resp = await client.get(f"/api/v1/admin/rebuild/{uuid.uuid4()}", headers=bearer(owner))
        assert resp.status_code == 404

        # The command-line rebuild (every tenant) gives the same figures as well.
        cli_report = await cli_rebuild(settings, None)
        assert cli_report.status == "done" and cli_report.events_applied == 10
        assert (await _get(client, "/api/v1/summary", owner, group_by="buyer")).json() == before

        # Over the exact-median limit the medians come from the daily hour histograms (within 2.5 %).
        monkeypatch.setattr(queries, "EXACT_MEDIAN_LIMIT", 0)
        big = (await _get(client, "/api/v1/summary", owner, group_by="manager")).json()
        assert abs(big["median_hours_to_ship"] - 72.0) / 72.0 < 0.025
        assert abs(big["median_hours_to_confirm"] - 2.0) / 2.0 < 0.025
        assert big["group_medians_omitted"] is True
        assert all(g["median_hours_to_ship"] is None for g in big["groups"])
        assert big["orders_sum"] == before["orders_sum"]
