"""A supplier's first day, one chained story in Russian in a real browser over the real local stack (R-UI-9,
R-UI-10, R-UI-11): everything through the console, the e-mails read from the stack's SMTP catcher.

Every new screen is scanned by axe-core and photographed (``Ui.screen``)."""

from __future__ import annotations

import io
import os
import re
import shutil
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from playwright.sync_api import Page, expect

from oms_devstack.mailcatcher import read_mailbox
from oms_devstack.stack import LocalStack
from oms_devstack.story import Actor
from tests.browser.conftest import ROOT, Ui, World, unique, wait_until

OpenUi = Callable[[], Ui]
PASSWORD = "a-long-secret-1"


@pytest.fixture
def locale() -> str:
    """The story is told in Russian only (the suite's other scenarios cover both languages)."""
    return "ru"


def submit(ui: Ui, form: str) -> None:
    ui.page.locator(f"{form} button[type=submit]").first.click()
    ui.page.wait_for_load_state("load")


def link_in_mail(stack: LocalStack, address: str, pattern: str) -> str:
    """The console path of the link in the newest e-mail to ``address`` (waits for it to arrive)."""

    def found() -> str | None:
        for message in reversed(read_mailbox(stack.mail_dir)):
            if address in message.envelope_to:
                match = re.search(pattern, message.body_text())
                if match:
                    return match.group(0)
        return None

    path: str = wait_until(f"an e-mail to {address}", found)
    return path


def stock_workbook(*rows: tuple[str, str, int, str, str]) -> bytes:
    """Stock on hand per warehouse item; a row with a name creates its product if the SKU is new."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["warehouse_code", "sku", "on_hand", "name", "unit"])
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def period() -> dict[str, str]:
    today = date.today()
    return {"date_from": (today - timedelta(days=2)).isoformat(), "date_to": (today + timedelta(days=1)).isoformat()}


def analytics_workbook(page: Page) -> dict[str, list[Any]]:
    """Download the analytics page's Excel and answer its first sheet's rows by their first cell."""
    with page.expect_download() as download:
        page.get_by_role("link", name="Скачать Excel").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    book = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    rows = {str(r[0]): list(r[1:]) for r in book.worksheets[0].iter_rows(values_only=True) if r and r[0]}
    rows["__all__"] = [str(c) for ws in book.worksheets for r in ws.iter_rows(values_only=True) for c in r if c]
    return rows


# The README's pictures of the back office, refreshed from this story with ``OMS_UPDATE_SCREENSHOTS=1``.
README_PICTURES = {
    "stock-item": "stock-item.png",
    "analytics": "analytics.png",
    "price-list": "settings-price-list.png",
}


def keep_for_readme(ui: Ui) -> None:
    if os.environ.get("OMS_UPDATE_SCREENSHOTS") != "1":
        return
    target = ROOT / "docs" / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    by_name = {p.name: p for p in ui.shots}
    for screen, name in README_PICTURES.items():
        shot = f"{ui.scenario}-{screen}-{ui.locale}.png"
        if shot in by_name:
            shutil.copyfile(by_name[shot], target / name)


def order_as_buyer(buyer: Ui, quantity: str) -> str:
    """From the catalogue: a quantity on the first product, to the cart, send; the order's id from its page."""
    buyer.page.locator("input.qty").first.fill(quantity)
    buyer.page.locator("form[action='/catalogue/cart'] button[type=submit].primary").click()
    buyer.page.wait_for_load_state("load")
    buyer.go("/cart")
    buyer.page.locator("button[name=action][value=send]").click()
    buyer.page.wait_for_load_state("load")
    assert "/orders/" in buyer.page.url, buyer.page.url
    return buyer.page.url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]


def test_a_suppliers_first_day_from_sign_up_to_analytics(open_ui: OpenUi, world: World, stack: LocalStack) -> None:
    """R-UI-9, R-UI-10, R-UI-11, R-ACC-1, R-ACC-3, R-IN-2: a supplier signs up in the console, fills in the company
    profile, creates a warehouse and products, uploads their stock from Excel (a row with a new SKU and its name
    creates that product too), invites a manager restricted to
    their own buyers (who sets a password through the e-mailed link), adds and invites a buyer managed by them,
    makes a price list with a share link. The invited buyer registers through the e-mail and orders; a second
    buyer registers through the share link and orders. The manager sees and confirms only their buyer's order;
    the stock drill-down shows the reserve with the order number and buyer; analytics and its Excel count the
    orders (the manager's only theirs)."""
    started = time.monotonic()
    story = world.story
    run = unique("d")  # e-mails and names unique in the session's stack

    # -- the owner signs up and sets the company up -------------------------------------------------------
    owner_ui = open_ui()
    page = owner_ui.page
    owner_ui.go("/signup")
    owner_email = f"owner-{run}@example.com"
    page.fill("#f-company_name", "ООО «Анкер-Снаб»")
    page.fill("#f-name", "Дарья Первая")
    page.fill("#f-email", owner_email)
    page.fill("#f-password", PASSWORD)
    page.fill("#f-password2", PASSWORD)
    submit(owner_ui, "form[action='/signup']")
    assert page.url.endswith("/settings"), page.url
    expect(page.locator("main a[href='/settings/products']")).to_have_count(1)
    owner = Actor(name="Дарья Первая", email=owner_email, password=PASSWORD)
    owner.signed_in(
        story.call("POST", "orders", "/api/v1/auth/token", json={"email": owner_email, "password": PASSWORD}).json()
    )

    owner_ui.go("/settings/company")
    page.fill("#f-inn", "7707083893")
    page.fill("#f-kpp", "773601001")
    page.fill("#f-address", "Санкт-Петербург, Невский пр., 1")
    page.fill("#f-bank_name", "ПАО Сбербанк")
    page.fill("#f-bic", "044525225")
    page.fill("#f-bank_account", "40702810938000012345")
    page.fill("#f-correspondent_account", "30101810400000000225")
    submit(owner_ui, "form[action='/settings/company']")
    expect(page.locator("#flash")).to_contain_text("Настройки сохранены.")

    owner_ui.go("/settings/warehouses")
    page.fill("#f-code", "SPB")
    page.fill("#f-name", "Склад Санкт-Петербург")
    submit(owner_ui, "form[action='/settings/warehouses']")
    expect(page.get_by_text("Склад Санкт-Петербург").first).to_be_visible()

    # -- products in the console, their stock from an Excel file ------------------------------------------
    owner_ui.go("/settings/products")
    for sku, name in (("ANCHOR-10", "Анкер 10×100"), ("DOWEL-8", "Дюбель 8×40")):
        page.fill("#f-sku", sku)
        page.fill("#f-name", name)
        page.fill("#f-unit", "шт")
        submit(owner_ui, "form[method=post][action='/settings/products']")
        expect(page.locator("#flash")).to_contain_text("Товар создан.")
    page.fill("#f-sku", "ANCHOR-10")
    page.fill("#f-name", "Дубль")
    submit(owner_ui, "form[method=post][action='/settings/products']")
    expect(page.locator("#f-sku")).to_have_attribute("aria-invalid", "true")  # an SKU in use is refused
    owner_ui.go("/settings/products")
    expect(page.locator("#products tbody tr")).to_have_count(2)
    owner_ui.screen("products")

    owner_ui.go("/stock/upload")
    upload = stock_workbook(
        ("SPB", "ANCHOR-10", 500, "", ""),
        ("SPB", "DOWEL-8", 1000, "", ""),
        ("SPB", "SCREW-6", 300, "Шуруп 6×60", "шт"),  # a new SKU with its name: the upload creates the product
    )
    page.set_input_files(
        "#f-file", files=[{"name": "остатки.xlsx", "mimeType": "application/octet-stream", "buffer": upload}]
    )
    submit(owner_ui, "form[action='/stock/upload']")
    expect(page.locator("main .flash-success a[href='/stock']")).to_be_visible()
    owner_ui.go("/settings/products?q=SCREW")
    expect(page.locator("#products tbody tr")).to_have_count(1)
    expect(page.locator("#products")).to_contain_text("Шуруп 6×60")

    # -- a manager invited by e-mail, restricted to their own buyers --------------------------------------
    manager_email = f"manager-{run}@example.com"
    owner_ui.go("/settings/employees")
    page.fill("#f-email", manager_email)
    page.fill("#f-name", "Олег Продажин")
    page.select_option("#f-access_buyers", "read")
    page.select_option("#f-access_orders", "change")
    page.locator("form[action='/settings/employees'] input[name=restricted]").check()
    submit(owner_ui, "form[action='/settings/employees']")
    expect(page.locator("#pending")).to_contain_text(manager_email)
    owner_ui.screen("employee-invited")

    manager_ui = open_ui()
    manager_ui.go(link_in_mail(stack, manager_email, r"/join-team\?token=[\w\-]+"))
    expect(manager_ui.page.locator("#invited-email")).to_have_text(manager_email)
    expect(manager_ui.page.locator("#f-name")).to_have_value("Олег Продажин")
    manager_ui.screen("join-team")
    manager_ui.page.fill("#f-password", "manager-secret-2")
    manager_ui.page.fill("#f-password2", "manager-secret-2")
    submit(manager_ui, "form[action='/join-team']")
    assert "/orders" in manager_ui.page.url, manager_ui.page.url

    # -- a buyer managed by them, invited by e-mail; a price list open to it, with a share link ------------
    buyer_email = f"buyer-{run}@example.com"
    owner_ui.go("/settings/buyers")
    page.fill("#f-name", "ООО «Северная стройка»")
    page.fill("#f-inn", "7812345678")
    page.locator("label", has_text="Олег Продажин").locator("input[name=managers]").check()
    page.fill("#f-email", buyer_email)
    submit(owner_ui, "form[method=post][action='/settings/buyers']")
    assert "/settings/buyers/" in page.url, page.url

    prices = (("ANCHOR-10", "25,00"), ("DOWEL-8", "3,50"), ("SCREW-6", "2,10"))

    def price_list_saved() -> bool:
        """Products and the warehouse reach orders through Kafka: the form is sent once it offers them all."""
        owner_ui.go("/settings/price-lists/new")
        if any(page.locator("tr", has_text=sku).count() == 0 for sku, _ in prices):
            return False
        page.fill("#f-name", "Опт СПб")
        page.locator("label", has_text="Склад Санкт-Петербург").locator("input[name=warehouse_ids]").check()
        page.locator("label", has_text="ООО «Северная стройка»").locator("input[name=buyer_ids]").check()
        for sku, price in prices:
            row = page.locator("tr", has_text=sku)
            row.locator("input[name=price]").fill(price)
            row.locator("input[name=vat]").fill("20")
        submit(owner_ui, "form[action='/settings/price-lists/new']")
        return "/settings/price-lists/new" not in page.url

    wait_until("the catalogue to reach orders", price_list_saved)
    submit(owner_ui, "form[action$='/link']:has(input[value=on])")
    share_link = page.locator("#share-link").input_value()
    assert "/join/" in share_link
    owner_ui.screen("price-list")

    # -- the invited buyer registers through the e-mail and orders; another buyer comes by the link --------
    buyer_ui = open_ui()
    token_path = link_in_mail(stack, buyer_email, r"/invitation\?token=[\w\-]+")
    buyer_ui.go(token_path.replace("/invitation?", "/invitation/register?"))
    expect(buyer_ui.page.locator("#f-email")).to_have_value(buyer_email)
    buyer_ui.page.fill("#f-name", "Борис Северов")
    buyer_ui.page.fill("#f-password", "buyer-secret-3")
    buyer_ui.page.fill("#f-password2", "buyer-secret-3")
    submit(buyer_ui, "form[action='/invitation/register']")
    assert "/catalogue" in buyer_ui.page.url, buyer_ui.page.url
    expect(buyer_ui.page.get_by_text("Анкер 10×100")).to_be_visible()
    own_order_id = order_as_buyer(buyer_ui, "10")

    other_ui = open_ui()
    other_ui.go(share_link.removeprefix(world.console))
    other_ui.page.fill("#f-company_name", "ООО «По ссылке»")
    other_ui.page.fill("#f-name", "Вера Новикова")
    other_ui.page.fill("#f-email", f"linked-{run}@example.com")
    other_ui.page.fill("#f-password", "a-long-secret-3")
    other_ui.page.fill("#f-password2", "a-long-secret-3")
    submit(other_ui, "form[action$='/register']")
    assert "/catalogue" in other_ui.page.url, other_ui.page.url
    other_order_id = order_as_buyer(other_ui, "4")

    orders = {
        oid: story.call("GET", "orders", f"/api/v1/orders/{oid}", actor=owner).json()
        for oid in (own_order_id, other_order_id)
    }
    own_number, other_number = (str(orders[oid]["number"]) for oid in (own_order_id, other_order_id))

    # -- the manager sees only their buyer's order and confirms it ----------------------------------------
    manager = manager_ui.page
    manager_ui.go("/orders")
    expect(manager.locator(f"a[href='/orders/{own_order_id}']").first).to_be_visible()
    expect(manager.locator(f"a[href='/orders/{other_order_id}']")).to_have_count(0)
    expect(manager.locator("main")).not_to_contain_text("ООО «По ссылке»")
    manager_ui.go(f"/orders/{own_order_id}")
    confirm = manager.locator("details.action", has=manager.locator("input[name=to][value=confirmed]"))
    confirm.locator("summary").click()
    confirm.locator("button[type=submit]").click()
    manager.wait_for_load_state("load")
    wait_until(
        "the order to be confirmed",
        lambda: (
            story.call("GET", "orders", f"/api/v1/orders/{own_order_id}", actor=owner).json()["status"] == "confirmed"
        ),
    )
    manager_ui.go("/settings/buyers")
    expect(manager.locator("main")).to_contain_text("ООО «Северная стройка»")
    expect(manager.locator("main")).not_to_contain_text("ООО «По ссылке»")
    manager_ui.screen("restricted-buyers")

    # -- the stock drill-down: the reserve, with the order number and the buyer ---------------------------
    def reserve_shown() -> bool:
        owner_ui.go("/stock?q=ANCHOR-10")
        page.locator("#results a[href*='sku=ANCHOR-10']").first.click()
        page.wait_for_load_state("load")
        return page.locator(f"a[href='/orders/{own_order_id}']").count() > 0

    wait_until("inventory to reserve the confirmed order", reserve_shown)
    expect(page.locator(f"a[href='/orders/{own_order_id}']")).to_contain_text(own_number)
    expect(page.locator("main")).to_contain_text("ООО «Северная стройка»")
    owner_ui.screen("stock-item")

    # -- analytics: both orders for the owner, in Excel too; only their buyer's for the manager -----------
    p = period()

    def analytics_counts(actor: Actor) -> int:
        body = story.call("GET", "analytics", "/api/v1/summary", actor=actor, params=p).json()
        return int(body["orders_count"])

    wait_until("analytics to count both orders", lambda: analytics_counts(owner) == 2)
    query = f"/analytics?date_from={p['date_from']}&date_to={p['date_to']}&group_by=buyer"
    owner_ui.go(query)
    expect(page.locator("#groups-h")).to_be_visible()
    expect(page.locator("#report")).to_contain_text("ООО «Северная стройка»")
    owner_ui.screen("analytics")
    figures = analytics_workbook(page)
    total = sum(Decimal(str(o["total"])) for o in orders.values())
    assert figures["Все заказы"][0] == 2, figures["Все заказы"]
    assert Decimal(str(figures["Все заказы"][1])) == total, (figures["Все заказы"], total)
    assert any("Северная стройка" in c for c in figures["__all__"])

    manager_ui.go(query)
    expect(manager.locator("#report")).to_contain_text("ООО «Северная стройка»")
    expect(manager.locator("#report")).not_to_contain_text("ООО «По ссылке»")
    mine = analytics_workbook(manager)
    assert mine["Все заказы"][0] == 1, mine["Все заказы"]
    assert Decimal(str(mine["Все заказы"][1])) == Decimal(str(orders[own_order_id]["total"]))
    assert not any("По ссылке" in c for c in mine["__all__"])
    assert other_number not in " ".join(mine["__all__"])
    keep_for_readme(owner_ui)
    print(f"the first day took {time.monotonic() - started:.1f} s")
