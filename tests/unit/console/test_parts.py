"""R-UI-6: split, move and copy lines between parts with a preview before applying (R-ED-2, R-SPL-1)."""

from __future__ import annotations

import json

from tests.unit.console.conftest import Console
from tests.unit.console.orders_data import LINE_1, LINE_2, ORDER_ID, PART_ID, a_line, an_order, error

SPLIT = f"/orders/{ORDER_ID}/split"
ORDER_API = f"/api/v1/orders/{ORDER_ID}"


def an_order_with_a_part(console: Console) -> None:
    orders = console.services.orders
    orders.get(ORDER_API).respond(200, json=an_order("confirmed", part_ids=[PART_ID]), headers={"ETag": '"3"'})
    part = an_order(
        "confirmed",
        order_id=PART_ID,
        number="1024-1",
        parent_order_id=ORDER_ID,
        lines=[a_line("l-9", sku="WASHER-8", name="Шайба М8", quantity="4", price="2.50")],
    )
    orders.get(f"/api/v1/orders/{PART_ID}").respond(200, json=part, headers={"ETag": '"1"'})
    orders.get(f"{ORDER_API}/split-preview").respond(
        200,
        json={
            "order_id": ORDER_ID,
            "one_shipment": False,
            "splits": True,
            "parts": [
                {
                    "kind": "in_stock",
                    "lines": [{"line_id": LINE_1, "sku": "BOLT-8", "quantity": "10", "available": "10"}],
                },
                {
                    "kind": "coming_soon",
                    "lines": [{"line_id": LINE_2, "sku": "NUT-8", "quantity": "50", "available": "0"}],
                },
            ],
        },
    )


def test_the_split_page_offers_lines_targets_and_shows_the_split_on_confirmation(console: Console) -> None:
    """R-UI-6, R-SPL-1: every line can be chosen, the targets are a new part or the order's other parts, and
    the page shows how the order would split on confirmation."""
    staff = console.signed_in_as_staff()
    an_order_with_a_part(console)
    page = staff.get(SPLIT)
    assert page.status_code == 200
    assert f'name="line_id" value="{LINE_1}"' in page.text and f'name="line_id" value="{LINE_2}"' in page.text
    assert f'<option value="{PART_ID}">Часть 1024-1' in page.text
    assert "Как заказ разделится при подтверждении" in page.text
    assert "В наличии" in page.text and "Скоро поступит" in page.text


def test_the_preview_shows_both_parts_after_a_move_before_anything_changes(console: Console) -> None:
    """R-UI-6, R-ED-2: moving a line into an existing part is previewed: the order without it, the part with it
    (marked), and the new totals; the service is not called until the move is confirmed."""
    staff = console.signed_in_as_staff()
    an_order_with_a_part(console)
    move = console.services.orders.post(f"{ORDER_API}/parts")
    form = {"etag": '"3"', "idempotency_key": "k-1", "line_id": [LINE_2], "mode": "move", "target": PART_ID}
    page = staff.post(SPLIT, {**form, "action": "preview"})
    assert page.status_code == 200
    assert not move.called
    result = page.text.split('id="result"')[1]
    source, target = result.split('id="result-target"')
    assert "Болт М8" in source and "Гайка М8" not in source
    assert "Гайка М8" in target and "Шайба М8" in target and "Перенесена сюда" in target
    assert 'name="action" value="apply"' in page.text

    moved = an_order("confirmed", order_id=PART_ID, number="1024-1")
    move.respond(201, json=moved, headers={"ETag": '"2"'})
    answer = staff.post(SPLIT, {**form, "action": "apply"})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/orders/{PART_ID}"
    sent = move.calls.last.request
    assert json.loads(sent.content) == {"line_ids": [LINE_2], "copy": False, "target_order_id": PART_ID}
    assert sent.headers["If-Match"] == '"3"'
    assert sent.headers["Idempotency-Key"] == "k-1"


def test_copying_into_a_new_part_shows_the_copies_at_quantity_zero(console: Console) -> None:
    """R-UI-6, R-ED-2: a copy keeps the line in the order and adds it to the new part with quantity 0."""
    staff = console.signed_in_as_staff()
    an_order_with_a_part(console)
    form = {"etag": '"3"', "line_id": [LINE_1], "mode": "copy", "target": "new", "action": "preview"}
    page = staff.post(SPLIT, form)
    source, target = page.text.split('id="result"')[1].split('id="result-target"')
    assert "Болт М8" in source and "Болт М8" in target
    assert '<span class="marker marker-new">Новая</span>' in target
    assert '<td class="num">0</td>' in target

    move = console.services.orders.post(f"{ORDER_API}/parts").respond(
        201, json=an_order("confirmed", order_id="new-part", number="1024-2"), headers={"ETag": '"1"'}
    )
    answer = staff.post(SPLIT, {**form, "action": "apply"})
    assert answer.headers["location"] == "/orders/new-part"
    assert json.loads(move.calls.last.request.content) == {"line_ids": [LINE_1], "copy": True}


def test_moving_every_line_is_refused_next_to_the_lines(console: Console) -> None:
    """R-UI-6: a part must keep a line: choosing all of them for a move says so and sends nothing."""
    staff = console.signed_in_as_staff()
    an_order_with_a_part(console)
    move = console.services.orders.post(f"{ORDER_API}/parts")
    form = {"line_id": [LINE_1, LINE_2], "mode": "move", "target": "new", "action": "apply"}
    page = staff.post(SPLIT, form)
    assert page.status_code == 422
    assert not move.called
    assert 'id="line_id-error">В части должна остаться хотя бы одна строка' in page.text
    assert f'value="{LINE_1}" checked' in page.text


def test_a_move_on_a_changed_order_says_so_and_keeps_the_choice(console: Console) -> None:
    """R-UI-6, R-ED-4: the order changed since the page was shown: the move is refused, the page says so."""
    staff = console.signed_in_as_staff()
    an_order_with_a_part(console)
    console.services.orders.post(f"{ORDER_API}/parts").respond(412, json=error("version_mismatch", "stale"))
    form = {"etag": '"2"', "line_id": [LINE_2], "mode": "move", "target": PART_ID, "action": "apply"}
    page = staff.post(SPLIT, form)
    assert page.status_code == 412
    assert "Заказ изменил кто-то другой" in page.text
    assert f'value="{LINE_2}" checked' in page.text
    assert 'name="action" value="reload"' in page.text


def test_buyers_do_not_get_the_split_screen(console: Console) -> None:
    """R-UI-6: splitting is the supplier's work."""
    assert console.signed_in_as_buyer().get(SPLIT).status_code == 404


def test_part_of_a_line_moves_after_a_preview(console: Console) -> None:
    """R-UI-6, R-ED-2: 20 of the 50 nuts move to the existing part: the preview shows 30 staying and 20
    arriving, and the move sends that quantity for that line."""
    staff = console.signed_in_as_staff()
    an_order_with_a_part(console)
    form = {
        "etag": '"3"',
        "line_id": [LINE_2],
        f"quantity-{LINE_2}": "20",
        "mode": "move",
        "target": PART_ID,
        "action": "preview",
    }
    page = staff.post(SPLIT, form)
    assert page.status_code == 200
    source, target = page.text.split('id="result"')[1].split('id="result-target"')
    assert "Часть перенесена" in source and '<td class="num">30</td>' in source
    assert "Перенесена сюда" in target and '<td class="num">20</td>' in target
    assert f'name="quantity-{LINE_2}" inputmode="decimal" size="6" value="20"' in page.text

    move = console.services.orders.post(f"{ORDER_API}/parts").respond(
        201, json=an_order("confirmed", order_id=PART_ID, number="1024-1"), headers={"ETag": '"2"'}
    )
    answer = staff.post(SPLIT, {**form, "action": "apply"})
    assert answer.status_code == 303
    assert json.loads(move.calls.last.request.content) == {
        "line_ids": [LINE_2],
        "copy": False,
        "quantities": {LINE_2: "20"},
        "target_order_id": PART_ID,
    }


def test_a_quantity_the_service_refuses_is_shown_next_to_its_line(console: Console) -> None:
    """R-UI-6: the reserved part of a line cannot move: the refusal shows next to that line's quantity."""
    staff = console.signed_in_as_staff()
    an_order_with_a_part(console)
    console.services.orders.post(f"{ORDER_API}/parts").respond(
        422,
        json=error(
            "invalid_lines",
            "1 quantities are not valid",
            [{"line_id": LINE_2, "reasons": ["only 5 of this line is not reserved and can be moved"]}],
        ),
    )
    form = {"line_id": [LINE_2], f"quantity-{LINE_2}": "20", "mode": "move", "target": "new", "action": "apply"}
    page = staff.post(SPLIT, form)
    assert page.status_code == 422
    assert f'id="quantity-{LINE_2}-error">Такое количество перенести нельзя' in page.text
    assert 'value="20"' in page.text
