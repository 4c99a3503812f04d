"""Stock in a real browser (R-UI-9), in Russian and in English, over the real local stack: every screen visited is
scanned by axe-core and photographed (``Ui.screen``)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from openpyxl import Workbook
from playwright.sync_api import Page, expect

from tests.browser.conftest import Ui, World, unique, wait_until

OpenUi = Callable[[], Ui]


def press_on(page: Page, selector: str, limit: int = 120) -> None:
    """Tab to ``selector`` and press Enter: the keyboard's way to a control."""
    for _ in range(limit):
        if page.evaluate("(s) => !!document.activeElement && document.activeElement.matches(s)", selector):
            page.keyboard.press("Enter")
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector} on {page.url}")


def item_of(world: World, sku: str) -> dict[str, Any]:
    body: dict[str, Any] = world.story.call(
        "GET",
        "inventory",
        "/api/v1/stock/reserves",
        actor=world.supplier,
        params={"warehouse_id": world.warehouse_id, "sku": sku},
    ).json()
    return body


def workbook(*rows: tuple[str, str, str]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["warehouse_code", "sku", "on_hand"])
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_manager_drills_from_stock_to_the_order_receives_a_delivery_and_uploads_stock(
    open_ui: OpenUi, world: World
) -> None:
    """R-UI-9, R-RSV-5, R-RSV-3, R-STK-1: the manager opens stock and finds an item (keyboard), sets and clears
    a manual reserve on it, drills from it to the order holding it (number and buyer, a link to the order page,
    and from the order's line back to its reserve),
    receives an expected delivery (stock on hand goes up by its quantity) and sets stock from an Excel file, whose
    bad rows are reported row by row."""
    order = world.place_order("4")
    world.transition(order["order_id"], "confirmed")
    wait_until(
        "inventory to reserve the confirmed order",
        lambda: any(h.get("order_id") == order["order_id"] for h in item_of(world, "BOLT-M8")["holders"]),
    )
    delivery = world.story.call(
        "POST",
        "inventory",
        "/api/v1/incoming",
        actor=world.supplier,
        json={
            "items": [
                {"warehouse_id": world.warehouse_id, "sku": "NUT-M8", "quantity": "7", "expected_date": "2027-01-15"}
            ]
        },
        expect=201,
    ).json()["items"][0]
    before = int(float(item_of(world, "NUT-M8")["on_hand"]))

    ui = open_ui()
    ui.sign_in(world.supplier, "/stock")
    expect(ui.page.locator("header nav a[href='/stock']")).to_have_attribute("aria-current", "page")
    ui.screen("stock")

    # Find the item by keyboard: the search is in the URL.
    ui.page.locator("#f-q").focus()
    ui.page.keyboard.type("BOLT")
    ui.page.keyboard.press("Enter")
    ui.page.wait_for_url(lambda url: "q=BOLT" in url)
    item_link = ui.page.locator("#results a[href*='sku=BOLT-M8']").first
    expect(item_link).to_be_visible()
    expect(ui.page.locator("#results a[href*='sku=NUT-M8']")).to_have_count(0)
    item_link.click()
    ui.page.wait_for_load_state("load")
    order_link = ui.page.locator(f"a[href='/orders/{order['order_id']}']")
    expect(order_link).to_contain_text(str(order["number"]))
    expect(ui.page.locator("main")).to_contain_text("ООО «Стройка»")
    expect(ui.page.locator("main h1")).to_contain_text("Болт М8×40")
    ui.screen("item")

    # A manual reserve set (a phone order) and cleared: inventory counts it while it is held.
    ui.page.fill("#f-quantity", "2")
    ui.page.fill("#f-reason", "phone")
    ui.page.locator("form[action='/stock/item/manual-reserve'] button.primary").click()
    ui.page.wait_for_url(lambda url: "done=reserve" in url)
    assert any(h["kind"] == "manual" and h["reserved"] == "2" for h in item_of(world, "BOLT-M8")["holders"])
    ui.screen("item-manual-reserve")
    ui.page.locator("form[action='/stock/item/manual-reserve'] button[name=clear]").click()
    ui.page.wait_for_url(lambda url: "done=cleared" in url)
    assert not any(h["kind"] == "manual" and h["reserved"] != "0" for h in item_of(world, "BOLT-M8")["holders"])

    order_link.click()
    ui.page.wait_for_url(lambda url: url.endswith(f"/orders/{order['order_id']}"))
    reserve_link = ui.page.locator(f"a[href^='/stock/orders/{order['order_id']}/lines/']").first
    expect(reserve_link).to_be_visible()
    reserve_link.click()
    ui.page.wait_for_load_state("load")
    expect(ui.page.locator(f"main a[href='/orders/{order['order_id']}']")).to_contain_text(str(order["number"]))
    ui.screen("line-reserve")

    # Receive the expected delivery (keyboard): 4 of the 7 arrived; they go into stock, 3 stay expected.
    ui.go("/stock/incoming")
    form = f"form[action='/stock/incoming/{delivery['incoming_id']}/receive']"
    expect(ui.page.locator(f"{form} input[name=quantity]")).to_have_value("7")
    ui.screen("incoming")
    ui.page.locator(f"{form} input[name=quantity]").fill("4")
    press_on(ui.page, f"{form} button")
    ui.page.wait_for_url(lambda url: "done=received" in url)
    expect(ui.page.locator(form)).to_have_count(0)
    assert int(float(item_of(world, "NUT-M8")["on_hand"])) == before + 4
    assert int(float(item_of(world, "NUT-M8")["incoming"])) >= 3
    ui.screen("incoming-received")

    # Stock from a file: a bad row changes nothing and is reported; the good file applies.
    ui.go("/stock/upload")
    ui.screen("upload")
    missing = unique("NOPE")
    bad = workbook(("MSK", "NUT-M8", "100000"), ("MSK", missing, "5"))
    ui.page.set_input_files(
        "#f-file", files=[{"name": "stock.xlsx", "mimeType": "application/octet-stream", "buffer": bad}]
    )
    ui.page.locator("form[action='/stock/upload'] button[type=submit]").click()
    ui.page.wait_for_load_state("load")
    expect(ui.page.locator("main table")).to_contain_text("3")
    assert int(float(item_of(world, "NUT-M8")["on_hand"])) == before + 4
    ui.screen("upload-report")
    good = workbook(("MSK", "NUT-M8", "100000"))
    ui.page.set_input_files(
        "#f-file", files=[{"name": "stock.xlsx", "mimeType": "application/octet-stream", "buffer": good}]
    )
    ui.page.locator("form[action='/stock/upload'] button[type=submit]").click()
    ui.page.wait_for_load_state("load")
    expect(ui.page.locator("main .flash-success a[href='/stock']")).to_be_visible()
    assert int(float(item_of(world, "NUT-M8")["on_hand"])) == 100000
    ui.screen("upload-done")
