"""A supplier's first day in the console, in a real browser, in Russian and in English (R-UI-11, R-IN-2, R-ACC-1):
sign up, a warehouse, a price list with a share link, an employee with restricted access, a buyer invited; then a
buyer orders through the link. Every screen is scanned by axe and photographed (``Ui.screen``)."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect

from oms_devstack.story import Actor
from tests.browser.conftest import Ui, World, unique, wait_until

OpenUi = Callable[[], Ui]


def submit(ui: Ui, form: str) -> None:
    ui.page.locator(f"{form} button[type=submit]").first.click()
    ui.page.wait_for_load_state("load")


def test_a_suppliers_first_day_in_the_console(open_ui: OpenUi, world: World) -> None:
    """R-UI-11, R-IN-2, R-ACC-1, R-ST-3: a new supplier signs up, creates a warehouse and a price list with
    automatic confirmation, switches its link on, invites a restricted employee and a buyer; a buyer then
    registers through the link and orders."""
    ui = open_ui()
    ui.go("/signup")
    ui.screen("signup")
    email = f"{unique('owner')}@example.com"
    password = "a-long-secret-1"
    ui.page.fill("#f-company_name", "ООО «Первый день»")
    ui.page.fill("#f-name", "Дарья Первая")
    ui.page.fill("#f-email", email)
    ui.page.fill("#f-password", password)
    ui.page.fill("#f-password2", password)
    submit(ui, "form[action='/signup']")
    assert ui.page.url.endswith("/settings"), ui.page.url
    for href in ("/settings/employees", "/settings/buyers", "/settings/price-lists", "/settings/warehouses"):
        expect(ui.page.locator(f"main a[href='{href}']")).to_have_count(1)
    ui.screen("settings")

    # The catalogue arrives from the ERP or an import; here through inventory's API as the new owner.
    owner = Actor(name="Дарья Первая", email=email, password=password)
    owner.signed_in(
        world.story.call("POST", "orders", "/api/v1/auth/token", json={"email": email, "password": password}).json()
    )
    world.story.call(
        "POST", "inventory", "/api/v1/products", actor=owner,
        json={"items": [{"sku": "SCREW-5", "name": "Саморез 5×50", "unit": "шт"}]},
    )  # fmt: skip

    ui.go("/settings/warehouses")
    ui.page.fill("#f-code", "SPB")
    ui.page.fill("#f-name", "Склад Санкт-Петербург")
    submit(ui, "form[action='/settings/warehouses']")
    expect(ui.page.get_by_text("Склад Санкт-Петербург").first).to_be_visible()
    ui.screen("warehouses")
    warehouse_id = world.story.call("GET", "inventory", "/api/v1/warehouses", actor=owner).json()["items"][0][
        "warehouse_id"
    ]
    world.story.call(
        "PUT", "inventory", "/api/v1/stock", actor=owner,
        json={"items": [{"warehouse_id": warehouse_id, "sku": "SCREW-5", "on_hand": "1000"}]},
    )  # fmt: skip

    def price_list_saved() -> bool:
        """The products and the warehouse reach orders through Kafka: the form is sent until orders takes it."""
        ui.go("/settings/price-lists/new")
        ui.page.fill("#f-name", "Розница СПб")
        ui.page.locator(f"input[name=warehouse_ids][value='{warehouse_id}']").check()
        ui.page.locator("input[name=auto_confirm]").check()
        row = ui.page.locator("tr", has_text="SCREW-5")
        row.locator("input[name=price]").fill("4,90")
        row.locator("input[name=vat]").fill("20")
        submit(ui, "form[action='/settings/price-lists/new']")
        return "/settings/price-lists/new" not in ui.page.url

    wait_until("the catalogue to reach orders", price_list_saved)
    ui.screen("price-list")
    submit(ui, "form[action$='/link']:has(input[value=on])")
    link = ui.page.locator("#share-link").input_value()
    assert "/join/" in link
    ui.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=world.console)
    # The copy button by keyboard: Tab from the link to it, Enter.
    ui.page.locator("#share-link").focus()
    ui.page.keyboard.press("Tab")
    expect(ui.page.locator("#link button[type=button]")).to_be_focused()
    ui.page.keyboard.press("Enter")
    expect(ui.page.locator("#link [role=status]")).to_be_visible()
    ui.screen("price-list-link")

    ui.go("/settings/employees")
    ui.page.fill("#f-email", f"{unique('manager')}@example.com")
    ui.page.fill("#f-name", "Олег Продажин")
    ui.page.select_option("#f-access_buyers", "read")
    ui.page.select_option("#f-access_orders", "change")
    ui.page.locator("form[action='/settings/employees'] input[name=restricted]").check()
    submit(ui, "form[action='/settings/employees']")
    expect(ui.page.get_by_text("Олег Продажин")).to_be_visible()
    ui.screen("employees")

    ui.go("/settings/buyers")
    ui.page.fill("#f-name", "ООО «Приглашённый»")
    ui.page.fill("#f-inn", "7812345678")
    ui.page.fill("#f-email", f"{unique('buyer')}@example.com")
    submit(ui, "form[method=post][action='/settings/buyers']")
    assert "/settings/buyers/" in ui.page.url, ui.page.url
    ui.screen("buyer")
    ui.go("/settings/buyers")
    expect(ui.page.get_by_text("ООО «Приглашённый»")).to_be_visible()
    ui.screen("buyers")

    buyer = open_ui()
    buyer.go(link.removeprefix(world.console))
    buyer.page.fill("#f-company_name", "ООО «По ссылке»")
    buyer.page.fill("#f-name", "Вера Новикова")
    buyer.page.fill("#f-email", f"{unique('linked')}@example.com")
    buyer.page.fill("#f-password", "a-long-secret-3")
    buyer.page.fill("#f-password2", "a-long-secret-3")
    submit(buyer, "form[action$='/register']")
    assert "/catalogue" in buyer.page.url, buyer.page.url
    expect(buyer.page.get_by_text("Саморез 5×50")).to_be_visible()
    buyer.page.locator("input.qty").first.fill("10")
    buyer.page.locator("form[action='/catalogue/cart'] button[type=submit].primary").click()
    buyer.page.wait_for_load_state("load")
    buyer.go("/cart")
    buyer.page.locator("button[name=action][value=send]").click()
    buyer.page.wait_for_load_state("load")
    assert "/orders/" in buyer.page.url, buyer.page.url
    buyer.screen("ordered-by-link")
    order_id = buyer.page.url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]

    def status() -> str:
        answer = world.story.call("GET", "orders", f"/api/v1/orders/{order_id}", actor=owner)
        return str(answer.json()["status"])

    wait_until("the order to be confirmed automatically (R-ST-3)", lambda: status() == "confirmed")
