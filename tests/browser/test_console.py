"""The console in a real browser, in Russian and in English, over the real local stack.

Every screen visited is scanned by axe-core and photographed (``Ui.screen``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from tests.browser.conftest import ROOT, Ui, World, unique, wait_until

OpenUi = Callable[[], Ui]


def submit_sign_in(ui: Ui, email: str, password: str) -> None:
    ui.page.fill("#f-email", email)
    ui.page.fill("#f-password", password)
    ui.page.locator("form[action='/login'] button[type=submit]").click()
    ui.page.wait_for_load_state("load")
    assert "/login" not in ui.page.url, ui.page.locator("main").inner_text()


def tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until ``selector`` has the focus (the keyboard's way to a control)."""
    for _ in range(limit):
        try:
            if page.evaluate("(s) => !!document.activeElement && document.activeElement.matches(s)", selector):
                return
        except PlaywrightError:  # a navigation the last key started is still under way
            page.wait_for_load_state("load")
            continue
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector} on {page.url}")


def status_of(world: World, order_id: str) -> str:
    body = world.story.call("GET", "orders", f"/api/v1/orders/{order_id}", actor=world.supplier).json()
    return str(body["status"])


# -- R-UI-1 -----------------------------------------------------------------------------------------


def test_sign_in_role_aware_navigation_language_switch_and_expired_session(open_ui: OpenUi, world: World) -> None:
    """R-UI-1: a page asked for sends to sign-in and back; the supplier's people and buyers see their own
    navigation; the ru/en switch changes the page's language; an expired session returns to sign-in and then to
    the page that was asked for."""
    ui = open_ui()
    ui.go("/inbox")
    assert "/login?next=" in ui.page.url
    ui.screen("sign-in")
    submit_sign_in(ui, world.supplier.email, world.supplier.password)
    assert ui.page.url.endswith("/inbox")
    nav = ui.page.locator("nav.nav, header nav")
    expect(nav.locator("a[href='/stock']")).to_have_count(1)
    expect(nav.locator("a[href='/analytics']")).to_have_count(1)
    ui.screen("staff-inbox")

    other = "en" if ui.locale == "ru" else "ru"
    ui.page.locator(f"form.locale-switch button[value='{other}']").click()
    ui.page.wait_for_load_state("load")
    expect(ui.page.locator("html")).to_have_attribute("lang", other)
    assert ui.page.url.endswith("/inbox")
    ui.page.locator(f"form.locale-switch button[value='{ui.locale}']").click()
    ui.page.wait_for_load_state("load")
    expect(ui.page.locator("html")).to_have_attribute("lang", ui.locale)

    # The session ends (its tokens no longer valid): the next page asks to sign in, then shows that page.
    ui.context.add_cookies(
        [
            {"name": "oms_access", "value": "expired.token.value", "url": world.console},
            {"name": "oms_refresh", "value": "ended-session.secret", "url": world.console},
        ]
    )
    ui.go("/settings/notifications")
    assert "/login?next=" in ui.page.url, ui.page.url
    submit_sign_in(ui, world.supplier.email, world.supplier.password)
    assert ui.page.url.endswith("/settings/notifications"), ui.page.url
    ui.screen("preferences")

    buyer = open_ui()
    buyer.sign_in(world.buyer, "/inbox")
    nav = buyer.page.locator("header nav")
    expect(nav.locator("a[href='/catalogue']")).to_have_count(1)
    expect(nav.locator("a[href='/stock']")).to_have_count(0)
    expect(nav.locator("a[href='/analytics']")).to_have_count(0)
    buyer.screen("buyer-inbox")


# -- R-UI-2, R-IN-2 ---------------------------------------------------------------------------------


def test_a_buyer_registers_by_the_price_list_link_fills_the_cart_and_places_an_order(
    open_ui: OpenUi, world: World
) -> None:
    """R-UI-2, R-IN-2: the price-list link opens a short registration; the new buyer sees the price list, puts
    quantities into the cart and sends the order."""
    ui = open_ui()
    ui.go(f"/join/{world.link_token}")
    ui.screen("join")
    email = f"{unique('buyer')}@example.com"
    ui.page.fill("#f-company_name", "ООО «Новый покупатель»")
    ui.page.fill("#f-inn", "77" + str(abs(hash(email)) % 10**8).zfill(8))
    ui.page.fill("#f-name", "Вера Новикова")
    ui.page.fill("#f-email", email)
    ui.page.fill("#f-password", "a-long-secret-1")
    ui.page.fill("#f-password2", "a-long-secret-1")
    ui.page.locator(f"form[action='/join/{world.link_token}/register'] button[type=submit]").click()
    ui.page.wait_for_load_state("load")
    assert "/catalogue" in ui.page.url, ui.page.url
    expect(ui.page.get_by_text("Болт М8×40")).to_be_visible()
    ui.screen("catalogue")
    ui.page.locator("input.qty").first.fill("3")
    ui.page.locator("form[action='/catalogue/cart'] button[type=submit].primary").click()
    ui.page.wait_for_load_state("load")
    ui.go("/cart")
    ui.screen("cart")
    ui.page.locator("button[name=action][value=send]").click()
    ui.page.wait_for_load_state("load")
    assert "/orders/" in ui.page.url, ui.page.url
    ui.screen("placed-order")


# -- R-UI-3, R-UI-4 ---------------------------------------------------------------------------------


def test_the_manager_finds_the_order_with_a_filter_kept_in_the_url_opens_and_confirms_it(
    open_ui: OpenUi, world: World
) -> None:
    """R-UI-3, R-UI-4: the number filter lands in the URL (a reload keeps it); the order page offers the moves
    the status matrix allows; confirming changes the order."""
    order = world.place_order("4", comment=unique("filter"))
    ui = open_ui()
    ui.sign_in(world.supplier, "/orders")
    ui.page.fill("#f-number", str(order["number"]))
    ui.page.locator("form.filters button[type=submit]").click()
    ui.page.wait_for_url(lambda url: "number=" in url)
    ui.page.reload()
    expect(ui.page.locator("#f-number")).to_have_value(str(order["number"]))
    ui.screen("filtered-list")
    ui.page.locator(f"#results a[href='/orders/{order['order_id']}']").first.click()
    ui.page.wait_for_load_state("load")
    ui.screen("order-page")
    confirm = ui.page.locator("details:has(form[action$='/transitions'] input[name=to][value=confirmed])")
    confirm.locator("summary").click()
    confirm.locator("button[type=submit]").click()
    ui.page.wait_for_load_state("load")
    wait_until("the order to be confirmed", lambda: status_of(world, order["order_id"]) == "confirmed")
    ui.screen("confirmed-order")


# -- R-UI-5, R-UI-6, R-UI-12 (built in parallel) ----------------------------------------------------


def test_the_manager_edits_an_order_and_sends_it_for_approval(open_ui: OpenUi, world: World) -> None:
    """R-UI-5: the editing screen of a placed order opens with its lines and a way to send for approval."""
    order = world.place_order("5")
    ui = open_ui()
    ui.sign_in(world.supplier, f"/orders/{order['order_id']}/edit")
    assert ui.page.url.endswith(f"/orders/{order['order_id']}/edit"), ui.page.url
    expect(ui.page.get_by_text("BOLT-M8").first).to_be_visible()
    ui.screen("edit")


def test_the_manager_opens_split_and_move_with_a_preview(open_ui: OpenUi, world: World) -> None:
    """R-UI-6: the split screen of a confirmed order shows its lines."""
    order = world.place_order("6")
    world.transition(order["order_id"], "confirmed")
    ui = open_ui()
    ui.sign_in(world.supplier, f"/orders/{order['order_id']}/split")
    assert ui.page.url.endswith(f"/orders/{order['order_id']}/split"), ui.page.url
    expect(ui.page.get_by_text("BOLT-M8").first).to_be_visible()
    ui.screen("split")


def test_the_order_prints_as_a_page_and_a_pdf(open_ui: OpenUi, world: World) -> None:
    """R-UI-12: the print page shows the order's number and lines; the PDF is a PDF."""
    order = world.place_order("7")
    ui = open_ui()
    ui.sign_in(world.supplier, f"/orders/{order['order_id']}/print")
    expect(ui.page.locator("body")).to_contain_text(str(order["number"]))
    ui.screen("print")
    pdf = ui.page.request.get(ui.url(f"/orders/{order['order_id']}/print.pdf"))
    assert pdf.status == 200
    assert pdf.headers["content-type"].startswith("application/pdf")
    assert pdf.body()[:5] == b"%PDF-"


# -- R-UI-8 -----------------------------------------------------------------------------------------


def test_both_inboxes_and_badges_agree_after_an_order_is_placed_and_confirmed(open_ui: OpenUi, world: World) -> None:
    """R-UI-8, R-NT-2: after the buyer places an order and the manager confirms it, each side's badge (on any
    page) shows what its inbox counts, which is what the notifications service counts; the notification links
    to the order, and looking at the order reads its notifications; "mark all read" empties the badge."""
    order = world.place_order("3")
    wait_until(
        "the supplier to be told of the new order",
        lambda: world.notified(world.supplier, order["order_id"], "new_order"),
    )
    world.transition(order["order_id"], "confirmed", "Подтверждаем")
    wait_until(
        "the buyer to be told of the confirmation",
        lambda: world.notified(world.buyer, order["order_id"], "status_changed"),
    )
    for who, actor in (("supplier", world.supplier), ("buyer", world.buyer)):
        ui = open_ui()
        ui.sign_in(actor, "/orders")
        on_list = ui.badge()
        ui.screen(f"{who}-orders")
        ui.go("/inbox")
        service = world.unread(actor)["unread"]
        assert service > 0
        assert ui.badge() == ui.inbox_unread() == service == on_list, (who, on_list, ui.badge(), service)
        link = ui.page.locator(f"table.inbox a[href^='/orders/{order['order_id']}']").first
        expect(link).to_be_visible()
        ui.screen(f"{who}-inbox")
        link.click()
        ui.page.wait_for_load_state("load")
        assert f"/orders/{order['order_id']}" in ui.page.url
        ui.screen(f"{who}-order-page")
        if who == "supplier":
            keep_for_readme(ui)
        # Having looked at the order, its notifications are read; the badge still agrees with the inbox.
        ui.go("/inbox")
        expect(ui.page.locator(f"table.inbox tr.unread a[href^='/orders/{order['order_id']}']")).to_have_count(0)
        assert ui.badge() == ui.inbox_unread() == world.unread(actor)["unread"]
        if ui.inbox_unread():
            ui.page.locator("form[action='/inbox/read'] button[name=all_read]").click()
            ui.page.wait_for_load_state("load")
        assert ui.badge() == ui.inbox_unread() == 0 == world.unread(actor)["unread"]
        ui.screen(f"{who}-inbox-read")


def keep_for_readme(ui: Ui) -> None:
    """``OMS_UPDATE_SCREENSHOTS=1``: the order list and order page (Russian) become the README's pictures."""
    if os.environ.get("OMS_UPDATE_SCREENSHOTS") != "1" or ui.locale != "ru":
        return
    target = ROOT / "docs" / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    by_name = {p.name: p for p in ui.shots}
    for shot, name in ((f"{ui.scenario}-supplier-orders-ru.png", "order-list.png"),
                       (f"{ui.scenario}-supplier-order-page-ru.png", "order-page.png")):  # fmt: skip
        if shot in by_name:
            shutil.copyfile(by_name[shot], target / name)


def test_the_unsubscribe_link_of_an_email_asks_first_then_turns_that_kind_off(open_ui: OpenUi, world: World) -> None:
    """R-UI-8, R-NT-2: the e-mail's "stop e-mails of this kind" link, opened signed out, passes through sign-in,
    shows the kind with a confirm button (nothing changed yet), and the button turns that one kind off."""
    actor = world.buyer
    kind = "comment"
    world.story.call("PUT", "notifications", "/api/v1/preferences", actor=actor, json={"email": {kind: True}})
    ui = open_ui()
    ui.go(f"/settings/notifications?unsubscribe={kind}")
    assert "/login?next=" in ui.page.url
    submit_sign_in(ui, actor.email, actor.password)
    assert ui.page.url.endswith(f"/settings/notifications?unsubscribe={kind}"), ui.page.url
    ui.screen("unsubscribe-confirm")
    prefs = world.story.call("GET", "notifications", "/api/v1/preferences", actor=actor).json()
    assert prefs["email"][kind] is True
    ui.page.locator(f"form:has(input[name=unsubscribe][value={kind}]) button[type=submit]").click()
    ui.page.wait_for_url(lambda url: "done=unsubscribed" in url)
    expect(ui.page.locator(f"#f-email_{kind}")).not_to_be_checked()
    expect(ui.page.locator("#f-email_new_order")).to_be_checked()
    ui.screen("unsubscribed")
    prefs = world.story.call("GET", "notifications", "/api/v1/preferences", actor=actor).json()
    assert prefs["email"][kind] is False
    assert prefs["email"]["new_order"] is True


# -- keyboard only ----------------------------------------------------------------------------------


def test_keyboard_only_sign_in_and_the_inbox(open_ui: OpenUi, world: World) -> None:
    """R-UI-1, R-UI-8: signing in and marking the inbox read need no mouse."""
    order = world.place_order("2")
    wait_until("the supplier's notification", lambda: world.notified(world.supplier, order["order_id"], "new_order"))
    ui = open_ui()
    ui.go("/login?next=/inbox")
    tab_to(ui.page, "#f-email")
    ui.page.keyboard.type(world.supplier.email)
    ui.page.keyboard.press("Tab")
    ui.page.keyboard.type(world.supplier.password)
    ui.page.keyboard.press("Enter")
    ui.page.wait_for_url(lambda url: url.endswith("/inbox"))
    assert ui.inbox_unread() > 0
    tab_to(ui.page, "form[action='/inbox/read'] button[name=all_read]")
    ui.page.keyboard.press("Enter")
    ui.page.wait_for_url(lambda url: "done=all-read" in url)
    assert ui.badge() == ui.inbox_unread() == 0
    ui.screen("keyboard-inbox")


def test_keyboard_only_the_buyer_places_an_order_and_the_manager_confirms_it(open_ui: OpenUi, world: World) -> None:
    """R-UI-2, R-UI-4: without the mouse, the buyer fills the cart and sends the order; the manager confirms."""
    buyer = open_ui()
    buyer.go("/login?next=/catalogue")
    tab_to(buyer.page, "#f-email")
    buyer.page.keyboard.type(world.buyer.email)
    buyer.page.keyboard.press("Tab")
    buyer.page.keyboard.type(world.buyer.password)
    buyer.page.keyboard.press("Enter")
    buyer.page.wait_for_url(lambda url: "/login" not in url and "/catalogue" in url)
    tab_to(buyer.page, "input.qty")
    buyer.page.keyboard.type("2")
    tab_to(buyer.page, "form[action='/catalogue/cart'] button[type=submit].primary")
    buyer.page.keyboard.press("Enter")
    buyer.page.wait_for_load_state("load")
    tab_to(buyer.page, "a[href='/cart']")
    buyer.page.keyboard.press("Enter")
    buyer.page.wait_for_url(lambda url: url.endswith("/cart"))
    tab_to(buyer.page, "button[name=action][value=send]")
    buyer.page.keyboard.press("Enter")
    buyer.page.wait_for_url(lambda url: "/orders/" in url)
    order_id = buyer.page.url.rstrip("/").split("/orders/")[1].split("?")[0].split("#")[0]
    buyer.screen("keyboard-placed")

    manager = open_ui()
    manager.go(f"/login?next=/orders/{order_id}")
    tab_to(manager.page, "#f-email")
    manager.page.keyboard.type(world.supplier.email)
    manager.page.keyboard.press("Tab")
    manager.page.keyboard.type(world.supplier.password)
    manager.page.keyboard.press("Enter")
    manager.page.wait_for_url(lambda url: "/login" not in url and f"/orders/{order_id}" in url)
    summary = "details:has(input[name=to][value=confirmed]) > summary"
    tab_to(manager.page, summary)
    manager.page.keyboard.press("Enter")
    tab_to(manager.page, "details[open]:has(input[name=to][value=confirmed]) button[type=submit]")
    manager.page.keyboard.press("Enter")
    wait_until("the order to be confirmed", lambda: status_of(world, order_id) == "confirmed")
    manager.screen("keyboard-confirmed")
