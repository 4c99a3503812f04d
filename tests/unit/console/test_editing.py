"""R-UI-5: editing an order as a change set, sending it for approval, the buyer's agree / cancel, conflicts."""

from __future__ import annotations

import json

from tests.unit.console.conftest import Console
from tests.unit.console.orders_data import (
    LINE_1,
    LINE_2,
    ORDER_ID,
    PRICE_LIST,
    WAREHOUSE,
    a_line,
    an_order,
    error,
    price_list_items,
)

EDIT = f"/orders/{ORDER_ID}/edit"
ORDER_API = f"/api/v1/orders/{ORDER_ID}"


def the_order(console: Console, etag: str = '"3"', **fields: object) -> None:
    console.services.orders.get(ORDER_API).respond(200, json=an_order(**fields), headers={"ETag": etag})
    console.services.orders.get(f"/api/v1/price-lists/{PRICE_LIST}/items").mock(side_effect=price_list_items)


def a_draft(**changes: str) -> dict[str, object]:
    """The form as the page renders it (every line's values), with ``changes`` typed over it."""
    form: dict[str, object] = {
        "etag": '"3"',
        "idempotency_key": "key-1",
        "line_id": [LINE_1, LINE_2],
        f"quantity-{LINE_1}": "10",
        f"price-{LINE_1}": "100",
        f"vat_rate-{LINE_1}": "20",
        f"quantity-{LINE_2}": "50",
        f"price-{LINE_2}": "10",
        f"vat_rate-{LINE_2}": "20",
        "add_sku": ["", ""],
        "add_warehouse_id": ["", ""],
        "add_quantity": ["", ""],
        "shipment_date": "",
        "comment": "",
    }
    form.update(changes)
    return form


def test_the_edit_page_offers_every_line_with_its_values(console: Console) -> None:
    """R-UI-5: the supplier sees each line's quantity, price and VAT in labelled fields, and rows to add lines."""
    the_order(console)
    page = console.signed_in_as_staff().get(EDIT)
    assert page.status_code == 200
    assert f'name="quantity-{LINE_1}"' in page.text and 'value="10"' in page.text
    assert f'<label class="visually-hidden" for="f-price-{LINE_1}">' in page.text
    assert 'name="add_sku"' in page.text
    assert "Болт М8" in page.text
    assert "1\u00a0500,00" in page.text  # the total as it is


def test_preview_marks_changed_removed_and_new_lines_and_recalculates_the_total(console: Console) -> None:
    """R-UI-5: a changed quantity shows the old value struck through, a removed line and a new (additional)
    line are marked, and the totals are recalculated; nothing is sent to the service yet."""
    the_order(console)
    lines = console.services.orders.post(f"{ORDER_API}/lines")
    draft = a_draft(
        **{f"quantity-{LINE_1}": "12", f"delete-{LINE_2}": "1"},
        add_sku=["WASHER-8", ""],
        add_warehouse_id=[WAREHOUSE, ""],
        add_quantity=["4", ""],
    )
    page = console.signed_in_as_staff().post(EDIT, {**draft, "action": "preview"})
    assert page.status_code == 200
    assert not lines.called
    text = page.text
    assert '<span class="marker marker-changed">Изменена</span>' in text
    assert '<span class="marker marker-removed">Удалена</span>' in text
    assert '<span class="marker marker-new">Новая</span>' in text
    assert '<span class="marker marker-additional">Дополнительная</span>' in text
    assert '<del><span class="visually-hidden">было </span>10</del>' in text
    assert "Шайба М8" in text
    # 12 × 100 + 4 × 2,50 = 1 210,00 (the 50 nuts removed); the old total struck through
    assert "1\u00a0210,00" in text and '<del><span class="visually-hidden">было </span>1\u00a0500,00' in text
    assert 'value="12"' in text  # what was typed stays


def test_apply_sends_only_the_changes_with_the_version_seen(console: Console) -> None:
    """R-UI-5, R-ED-1: applying sends the changed lines, the deleted ones and the new ones in one request with
    If-Match (the version the page showed) and an Idempotency-Key; the shipment date goes to the profile."""
    the_order(console)
    lines = console.services.orders.post(f"{ORDER_API}/lines").respond(
        200, json=an_order("editing"), headers={"ETag": '"4"'}
    )
    profile = console.services.orders.patch(f"{ORDER_API}/profile").respond(
        200, json=an_order("editing"), headers={"ETag": '"5"'}
    )
    draft = a_draft(
        **{f"price-{LINE_1}": "95,50", f"delete-{LINE_2}": "1"},
        add_sku=["WASHER-8", ""],
        add_warehouse_id=[WAREHOUSE, ""],
        add_quantity=["4", ""],
        shipment_date="2026-12-24",
        comment="Цена снижена",
    )
    answer = console.signed_in_as_staff().post(EDIT, {**draft, "action": "apply"})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{EDIT}?done=edited"
    sent = lines.calls.last.request
    assert json.loads(sent.content) == {
        "edit": [{"line_id": LINE_1, "price": "95.50"}, {"line_id": LINE_2, "delete": True}],
        "add": [{"sku": "WASHER-8", "warehouse_id": WAREHOUSE, "quantity": "4"}],
        "comment": "Цена снижена",
    }
    assert sent.headers["If-Match"] == '"3"'
    assert sent.headers["Idempotency-Key"] == "key-1:lines"
    assert json.loads(profile.calls.last.request.content) == {"shipment_date": "2026-12-24"}
    assert profile.calls.last.request.headers["If-Match"] == '"4"'  # the version the line edit produced


def test_a_conflicting_edit_says_so_and_reload_keeps_the_draft(console: Console) -> None:
    """R-UI-5, R-ED-4: when someone changed the order meanwhile (412) the page says so, keeps the draft, and
    a reload lays the draft over the order as it is now, with its new version for the next apply."""
    the_order(console)
    console.services.orders.post(f"{ORDER_API}/lines").respond(412, json=error("version_mismatch", "stale"))
    staff = console.signed_in_as_staff()
    answer = staff.post(EDIT, {**a_draft(**{f"quantity-{LINE_1}": "12"}), "action": "apply"})
    assert answer.status_code == 412
    assert "Заказ изменил кто-то другой" in answer.text
    assert 'value="12"' in answer.text
    assert 'name="action" value="reload"' in answer.text
    assert 'value="key-1"' not in answer.text  # the next write is another request: a new Idempotency-Key

    console.services.orders.get(ORDER_API).respond(
        200, json=an_order(lines=[a_line(quantity="11"), a_line(LINE_2, sku="NUT-8")]), headers={"ETag": '"7"'}
    )
    reloaded = staff.post(EDIT, {**a_draft(**{f"quantity-{LINE_1}": "12"}), "action": "reload"})
    assert reloaded.status_code == 200
    assert 'name="etag" value="&#34;7&#34;"' in reloaded.text
    assert 'value="12"' in reloaded.text
    # the draft laid over the fresh order
    assert '<del><span class="visually-hidden">было </span>11</del>' in reloaded.text


def test_a_bad_number_is_shown_next_to_its_field_and_nothing_is_sent(console: Console) -> None:
    """R-UI-5: a quantity that is not a number is refused next to the field, with what was typed."""
    the_order(console)
    lines = console.services.orders.post(f"{ORDER_API}/lines")
    answer = console.signed_in_as_staff().post(EDIT, {**a_draft(**{f"quantity-{LINE_1}": "десять"}), "action": "apply"})
    assert answer.status_code == 422
    assert not lines.called
    assert f'id="quantity-{LINE_1}-error">Введите число.' in answer.text
    assert 'value="десять"' in answer.text


def test_a_line_the_service_refuses_is_marked_and_the_draft_stays(console: Console) -> None:
    """R-UI-5: the service's refusal of one change shows next to that line."""
    the_order(console)
    console.services.orders.post(f"{ORDER_API}/lines").respond(
        422,
        json=error(
            "invalid_lines",
            "1 changes are not valid",
            [{"edit": 0, "line_id": LINE_1, "reasons": ["quantity must be a whole number of шт"]}],
        ),
    )
    answer = console.signed_in_as_staff().post(EDIT, {**a_draft(**{f"quantity-{LINE_1}": "1.5"}), "action": "apply"})
    assert answer.status_code == 422
    assert f'id="quantity-{LINE_1}-error"' in answer.text
    assert "Некоторые изменения не приняты" in answer.text
    assert 'value="1.5"' in answer.text


def test_applied_changes_are_sent_to_the_buyer_for_approval(console: Console) -> None:
    """R-UI-5, R-ED-1: once applied, the supplier sends the order for approval (with If-Match)."""
    the_order(console, status="editing", allowed_transitions=[{"to": "awaiting_approval"}, {"to": "rejected"}])
    page = console.signed_in_as_staff().get(f"{EDIT}?done=edited")
    assert "Изменения сохранены" in page.text
    assert f'action="/orders/{ORDER_ID}/edit/send"' in page.text
    move = console.services.orders.post(f"{ORDER_API}/transitions").respond(
        200, json=an_order("awaiting_approval"), headers={"ETag": '"4"'}
    )
    answer = console.post(f"{EDIT}/send", {"etag": '"3"', "idempotency_key": "k-2", "comment": "Проверьте"})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/orders/{ORDER_ID}/approval?done=sent"
    assert json.loads(move.calls.last.request.content) == {"to": "awaiting_approval", "comment": "Проверьте"}
    assert move.calls.last.request.headers["If-Match"] == '"3"'


def proposal_changes() -> dict[str, object]:
    items = [
        {"line_id": LINE_1, "sku": "BOLT-8", "field": "quantity", "old": "8", "new": "9", "at": "2026-11-30T10:00:00Z"},
        {
            "line_id": LINE_1,
            "sku": "BOLT-8",
            "field": "quantity",
            "old": "10",
            "new": "12",
            "at": "2026-12-02T10:00:00Z",
        },
        {
            "line_id": LINE_1,
            "sku": "BOLT-8",
            "field": "price",
            "old": "110.00",
            "new": "100.00",
            "at": "2026-12-02T10:00:00Z",
        },
        {"line_id": LINE_2, "sku": "NUT-8", "field": "deleted", "old": "50", "new": None, "at": "2026-12-02T10:00:00Z"},
        {"line_id": "l-3", "sku": "WASHER-8", "field": "added", "old": None, "new": "4", "at": "2026-12-02T10:00:00Z"},
    ]
    return {"items": items, "total": len(items)}


def awaiting_order() -> dict[str, object]:
    return an_order(
        "awaiting_approval",
        lines=[a_line(quantity="12"), a_line("l-3", sku="WASHER-8", name="Шайба М8", quantity="4", additional=True)],
        history=[
            {"from": None, "to": "new", "at": "2026-12-01T09:30:00Z"},
            {"from": "new", "to": "editing", "at": "2026-12-02T09:59:00Z"},
            {"from": "editing", "to": "awaiting_approval", "at": "2026-12-02T10:05:00Z"},
        ],
        allowed_transitions=[{"to": "agreed"}, {"to": "cancelled"}],
    )


def test_the_buyer_sees_what_changed_per_line_and_may_agree_or_cancel(console: Console) -> None:
    """R-UI-5, R-ED-3: the buyer's review marks each changed line with its old value struck through, the new
    (additional) and the removed lines, and offers agree and cancel."""
    console.services.orders.get(ORDER_API).respond(200, json=awaiting_order(), headers={"ETag": '"5"'})
    console.services.orders.get(f"{ORDER_API}/changes").respond(200, json=proposal_changes())
    buyer = console.signed_in_as_buyer()
    assert buyer.get(EDIT).headers["location"] == f"/orders/{ORDER_ID}/approval"
    page = buyer.get(f"/orders/{ORDER_ID}/approval")
    assert page.status_code == 200
    text = page.text
    assert '<del><span class="visually-hidden">было </span>10</del>' in text  # not the older 8: this round only
    assert "110,00" in text
    assert '<span class="marker marker-removed">Удалена</span>' in text and "<del>NUT-8</del>" in text
    assert '<span class="marker marker-new">Новая</span>' in text
    assert 'name="to" value="agreed"' in text and 'name="to" value="cancelled"' in text

    move = console.services.orders.post(f"{ORDER_API}/transitions").respond(
        200, json=an_order("agreed"), headers={"ETag": '"6"'}
    )
    answer = buyer.post(f"/orders/{ORDER_ID}/approval", {"to": "agreed", "etag": '"5"', "idempotency_key": "k"})
    assert answer.status_code == 303
    assert json.loads(move.calls.last.request.content) == {"to": "agreed", "comment": ""}
    assert move.calls.last.request.headers["If-Match"] == '"5"'


def test_the_buyers_answer_on_a_changed_order_says_so_and_offers_a_reload(console: Console) -> None:
    """R-UI-5, R-ED-4: the order changed after the buyer opened it: no answer is recorded, the page says why."""
    console.services.orders.get(ORDER_API).respond(200, json=awaiting_order(), headers={"ETag": '"6"'})
    console.services.orders.get(f"{ORDER_API}/changes").respond(200, json=proposal_changes())
    console.services.orders.post(f"{ORDER_API}/transitions").respond(412, json=error("version_mismatch", "stale"))
    answer = console.signed_in_as_buyer().post(
        f"/orders/{ORDER_ID}/approval", {"to": "cancelled", "etag": '"5"', "comment": "Дорого"}
    )
    assert answer.status_code == 412
    assert "Заказ изменил кто-то другой" in answer.text
    assert f'href="/orders/{ORDER_ID}/approval">Обновить' in answer.text
    assert ">Дорого</textarea>" in answer.text


def test_a_shipped_order_cannot_be_edited_and_the_page_says_so(console: Console) -> None:
    """R-UI-5, R-ED-1: only statuses that allow editing offer "apply"."""
    the_order(console, status="shipped")
    page = console.signed_in_as_staff().get(EDIT)
    assert "В текущем статусе заказ уже нельзя изменить." in page.text
    assert 'value="apply"' not in page.text


def test_the_order_page_links_show_only_what_the_user_may_do(console: Console) -> None:
    """R-UI-5, R-UI-6, R-UI-12: the links the order page includes: editing and parts for the supplier while the
    order can change, the review for a buyer whose approval is asked, printing for everyone."""
    from oms_console import i18n
    from oms_console.auth import User

    env = console.client.app.state.templates  # type: ignore[attr-defined]
    i18n.activate("ru", console.client.app.state.catalogs)  # type: ignore[attr-defined]
    template = env.get_template("editing/order_actions.html")
    staff = User.from_me({"user": {"user_id": "u-1"}, "account": {"kind": "supplier"}})
    buyer = User.from_me({"user": {"user_id": "u-2"}, "account": {"kind": "buyer"}})
    for_staff = template.render(order=an_order("confirmed"), user=staff)
    assert f'href="/orders/{ORDER_ID}/edit"' in for_staff and f'href="/orders/{ORDER_ID}/split"' in for_staff
    assert f'href="/orders/{ORDER_ID}/print.pdf"' in for_staff
    for_buyer = template.render(order=an_order("awaiting_approval"), user=buyer)
    assert "/edit" not in for_buyer and "/split" not in for_buyer
    assert f'class="button primary" href="/orders/{ORDER_ID}/approval">Посмотреть изменения' in for_buyer
    shipped = template.render(order=an_order("shipped"), user=staff)
    assert "/edit" not in shipped and f'href="/orders/{ORDER_ID}/print"' in shipped


def test_a_new_line_with_an_unknown_sku_is_refused_next_to_it(console: Console) -> None:
    """R-UI-5, R-ED-1: lines are added from the order's price list: an SKU not in it is refused next to the
    field, the other typed values stay, nothing is sent."""
    the_order(console)
    lines = console.services.orders.post(f"{ORDER_API}/lines")
    draft = a_draft(add_sku=["NOPE-1", ""], add_warehouse_id=[WAREHOUSE, ""], add_quantity=["3", ""])
    answer = console.signed_in_as_staff().post(EDIT, {**draft, "action": "apply"})
    assert answer.status_code == 422
    assert not lines.called
    assert 'id="add_sku-0-error">В прайс-листе заказа нет такого артикула.' in answer.text
    assert 'value="NOPE-1"' in answer.text and 'value="3"' in answer.text
