"""Analytics and the supplier's settings in a real browser, in Russian and in English (R-UI-10, R-UI-11).

Every screen visited is scanned by axe-core and photographed (``Ui.screen``)."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.browser.conftest import Ui, World, unique, wait_until

OpenUi = Callable[[], Ui]

SAVED = {"ru": "Настройки сохранены.", "en": "Settings saved."}
EXCEL = {"ru": "Скачать Excel", "en": "Download Excel"}


def tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until ``selector`` has the focus (the keyboard's way to a control)."""
    for _ in range(limit):
        if page.evaluate("(s) => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector} on {page.url}")


def period() -> dict[str, str]:
    today = date.today()
    return {"date_from": (today - timedelta(days=2)).isoformat(), "date_to": (today + timedelta(days=1)).isoformat()}


def analytics_knows(world: World, order_id: str) -> bool:
    body: dict[str, Any] = world.story.call(
        "GET",
        "analytics",
        "/api/v1/summary/details",
        actor=world.supplier,
        params={**period(), "figure": "all", "limit": 500},
    ).json()
    return any(item["order_id"] == order_id for item in body["items"])


def test_analytics_shows_the_placed_order_with_chart_table_details_and_excel(
    open_ui: OpenUi, world: World, locale: str
) -> None:
    """R-UI-10, R-AN-1, R-AN-2: the period and grouping in the URL, the chart beside its table, the buyer's group
    leading (by keyboard) to the orders behind it, and the Excel file of the same summary opening in openpyxl."""
    order = world.place_order(quantity="4")
    wait_until("analytics to count the order", lambda: analytics_knows(world, order["order_id"]))
    p = period()
    ui = open_ui()
    ui.sign_in(world.supplier, f"/analytics?date_from={p['date_from']}&date_to={p['date_to']}")
    page = ui.page
    expect(page.locator("svg.chart rect").first).to_be_visible()
    expect(page.locator("#series-h")).to_be_visible()
    ui.screen("analytics")

    page.select_option("#f-group_by", "buyer")
    tab_to(page, "form[role=search] button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#groups-h")).to_be_visible()
    assert "group_by=buyer" in page.url
    group_link = page.locator("#report table a[href*='buyer_id=']").first
    expect(group_link).to_be_visible()
    ui.screen("analytics-by-buyer")

    with page.expect_download() as download:
        page.get_by_role("link", name=EXCEL[locale]).click()
    assert download.value.suggested_filename.endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    cells = [str(c) for ws in workbook.worksheets for row in ws.iter_rows(values_only=True) for c in row if c]
    assert any("Стройка" in c for c in cells), cells[:40]

    group_link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/analytics/details**")
    expect(page.locator(f"a[href='/orders/{order['order_id']}']")).to_be_visible()
    ui.screen("analytics-details")


def fill_profile(page: Page, address: str) -> None:
    page.fill("#f-inn", "7707083893")
    page.fill("#f-kpp", "773601001")
    page.fill("#f-address", address)
    page.fill("#f-bank_name", "ПАО Сбербанк")
    page.fill("#f-bic", "044525225")
    page.fill("#f-bank_account", "40702810938000012345")
    page.fill("#f-correspondent_account", "30101810400000000225")


def test_the_company_profile_is_saved_and_a_wrong_account_number_is_said_at_its_field(
    open_ui: OpenUi, world: World, locale: str
) -> None:
    """R-UI-11: the owner fills in the requisites; a wrong control digit stays in the form with its message; the
    saved profile is what the page shows again; time limits and the ERP connection open alongside."""
    ui = open_ui()
    ui.sign_in(world.supplier, "/settings/company")
    page = ui.page
    address = unique("Москва, ул. Вавилова, 19")
    fill_profile(page, address)
    page.fill("#f-bank_account", "40702810038000012345")
    page.locator("form[action='/settings/company'] button[type=submit]").click()
    expect(page.locator("#f-bank_account")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-bank_account")).to_have_value("40702810038000012345")
    ui.screen("company-refused")

    page.fill("#f-bank_account", "40702810938000012345")
    tab_to(page, "form[action='/settings/company'] button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#flash")).to_contain_text(SAVED[locale])
    expect(page.locator("#f-address")).to_have_value(address)
    ui.screen("company")

    ui.go("/settings/time-limits")
    expect(page.locator("#f-new")).to_be_visible()
    ui.screen("time-limits")
    ui.go("/settings/erp")
    expect(page.locator("#log-h")).to_be_visible()
    ui.screen("erp")


def test_the_saved_company_profile_is_on_the_printed_order(open_ui: OpenUi, world: World, locale: str) -> None:
    """R-UI-11, R-UI-12: the address and bank details saved in the profile are printed on the order."""
    order = world.place_order()
    ui = open_ui()
    ui.sign_in(world.supplier, "/settings/company")
    address = unique("Москва, ул. Печатная, 1")
    fill_profile(ui.page, address)
    ui.page.locator("form[action='/settings/company'] button[type=submit]").click()
    expect(ui.page.locator("#flash")).to_contain_text(SAVED[locale])
    ui.go(f"/orders/{order['order_id']}/print")
    expect(ui.page.locator("body")).to_contain_text(address)
    expect(ui.page.locator("body")).to_contain_text("044525225")
    ui.screen("print-profile")
