"""What one of 1C's order documents changes in our order (`oms_erp_bridge.sale_diff`): status, lines, payment,
shipment date and the document's version key, decided without a database."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date, datetime
from decimal import Decimal

import pytest

from oms_erp_bridge.cml import CmlOrder, CmlOrderLine, load, parse_orders
from oms_erp_bridge.sale_diff import (
    RelatedIndex,
    changes_nothing,
    order_change,
    parse_status_map,
    related_documents,
    version_key,
)
from oms_shared.contracts import ErpLineChange, ErpOrderChangedData, OrderStatus
from tests.unit.erp_bridge.helpers import cml, order_xml, requisite, sample_path

ORDER_ID = uuid.UUID("0b0f6c1e-3a59-4d1e-9a43-5f0d7c2e9a01")
LINE_1 = uuid.UUID("11111111-1111-4111-8111-111111111111")
LINE_2 = uuid.UUID("22222222-2222-4222-8222-222222222222")
FAN_1C = "cbcf493f-55bc-11d9-848a-00112f43529a"  # sample 01's product ids
BOOTS_1C = "bd72d913-55bc-11d9-848a-00112f43529a"


@dataclasses.dataclass(frozen=True)
class OrderRow:
    """The columns of an `erp_orders` row that `order_change` reads."""

    order_id: str
    status: str
    snapshot: str
    erp_status_text: str = ""


def ours(*lines: tuple[uuid.UUID | str, str, str, str], status: str = "confirmed", vat: str = "20") -> OrderRow:
    """Our order with lines (line id, sku, quantity, VAT-included price) as the replica's snapshot holds them."""
    raw = [
        {"line_id": str(line_id), "sku": sku, "quantity": quantity, "price": price, "vat_rate": vat}
        for line_id, sku, quantity, price in lines
    ]
    return OrderRow(str(ORDER_ID), status, json.dumps({"lines": raw}))


def goods(
    sku: str,
    quantity: str,
    amount: str,
    *,
    vat_rate: str = "20",
    vat_included: bool | None = True,
    vat_amount: str | None = None,
) -> CmlOrderLine:
    """1C's goods line of one of our SKUs (its `Артикул`), `amount` for the whole quantity."""
    return CmlOrderLine(
        erp_id=f"1c-{sku}",
        sku=sku,
        name=f"Товар {sku}",
        unit_code="796",
        unit_name="Штука",
        price=Decimal(amount) / Decimal(quantity) if Decimal(quantity) else Decimal(0),
        quantity=Decimal(quantity),
        amount=Decimal(amount),
        vat_rate=Decimal(vat_rate),
        vat_included=vat_included,
        vat_amount=Decimal(vat_amount) if vat_amount is not None else None,
    )


BASE = CmlOrder(
    erp_id=str(ORDER_ID),
    number="A-1",
    number_1c="ТД-000001",
    date_1c=None,
    version="AAAAEAAAAAA=",
    operation="Заказ товара",
    date=None,
    currency="RUB",
    rate=None,
    total=None,
    counterparties=[],
    lines=[],
    requisites={},
    posted=True,
    cancelled=False,
    deletion_mark=False,
    shipped=False,
    paid=False,
    payment_number="",
    payment_date=None,
    shipment_number="",
    shipment_date=None,
    status_text="",
    status_id="",
    comment="",
    has_lines=True,
    vat_included=True,
    vat_amount=None,
)


def document(*lines: CmlOrderLine, **changes: object) -> CmlOrder:
    return dataclasses.replace(BASE, lines=list(lines), **changes)  # type: ignore[arg-type]


def from_xml(body: str) -> CmlOrder:
    (order,) = parse_orders(load(cml(body)))
    return order


def item_xml(erp_id: str, quantity: str, amount: str, *, sku: str = "", requisites: str = "") -> str:
    values = f"<ЗначенияРеквизитов>{requisites}</ЗначенияРеквизитов>" if requisites else ""
    return (
        f"<Товар><Ид>{erp_id}</Ид><Артикул>{sku}</Артикул><Наименование>{erp_id}</Наименование>"
        f"<Количество>{quantity}</Количество><Сумма>{amount}</Сумма>"
        "<Налоги><Налог><Наименование>НДС</Наименование><УчтеноВСумме>true</УчтеноВСумме><Ставка>20</Ставка>"
        f"</Налог></Налоги>{values}</Товар>"
    )


def change(
    doc: CmlOrder, row: OrderRow, status_map: str | None = None, sku_of: dict[str, str] | None = None
) -> tuple[ErpOrderChangedData, list[str]]:
    return order_change(doc, row, parse_status_map(status_map), sku_of or {})


# --- lines (R-ERP-1, R-ERP-5) -----------------------------------------------------------------------------------

TWO_LINES = ((LINE_1, "A", "2", "120.00"), (LINE_2, "B", "1", "60"))


def test_an_unchanged_document_changes_nothing() -> None:
    """R-ERP-1: the same lines, quantities, prices and VAT as ours: nothing to publish, nothing to say."""
    data, notes = change(document(goods("A", "2", "240"), goods("B", "1", "60")), ours(*TWO_LINES))
    assert data == ErpOrderChangedData(order_id=ORDER_ID, erp_document_id="ТД-000001")
    assert notes == []
    assert changes_nothing(data)


def test_a_line_missing_in_1c_is_cancelled_whole() -> None:
    """R-ERP-5: 1C sends its whole line list, so a line it no longer has is cancelled for its whole quantity."""
    data, notes = change(document(goods("A", "2", "240")), ours(*TWO_LINES))
    assert data.lines == [ErpLineChange(line_id=LINE_2, sku="B", quantity=Decimal(1), cancelled_quantity=Decimal(1))]
    assert notes == ["B: 1 cancelled (line removed)"]
    assert not changes_nothing(data)


def test_a_smaller_quantity_cancels_the_difference() -> None:
    """R-ERP-5: 5 ordered, 3 left in 1C: 2 are cancelled (shown as cancelled). The quantity they were cut from
    travels with them, so a document applied twice against a lagging replica cannot cut the line twice."""
    data, notes = change(document(goods("A", "3", "360")), ours((LINE_1, "A", "5", "120")))
    assert data.lines == [ErpLineChange(line_id=LINE_1, sku="A", quantity=Decimal(5), cancelled_quantity=Decimal(2))]
    assert notes == ["A: 2 cancelled"]


@pytest.mark.parametrize(
    ("left", "expected"),
    [
        ("4", [ErpLineChange(line_id=LINE_2, sku="A", quantity=Decimal(2), cancelled_quantity=Decimal(1))]),
        (
            "2",
            [
                ErpLineChange(line_id=LINE_1, sku="A", quantity=Decimal(3), cancelled_quantity=Decimal(1)),
                ErpLineChange(line_id=LINE_2, sku="A", quantity=Decimal(2), cancelled_quantity=Decimal(2)),
            ],
        ),
    ],
)
def test_one_sku_on_two_of_our_lines_is_cancelled_from_the_last_line_first(
    left: str, expected: list[ErpLineChange]
) -> None:
    """R-ERP-5: 3 + 2 of SKU A on two lines; 1C's total for A is smaller: the last line gives up its quantity
    first, then the one before it."""
    row = ours((LINE_1, "A", "3", "120"), (LINE_2, "A", "2", "120"))
    data, notes = change(document(goods("A", left, str(120 * int(left)))), row)
    assert data.lines == expected
    assert notes == [f"A: {5 - int(left)} cancelled"]


def test_a_larger_quantity_is_the_new_quantity_of_the_first_line() -> None:
    """R-ERP-1: 3 + 1 of SKU A, 1C has 6: the first line takes the 2 more (3 → 5), the second stays."""
    row = ours((LINE_1, "A", "3", "120"), (LINE_2, "A", "1", "120"))
    data, notes = change(document(goods("A", "6", "720")), row)
    assert data.lines == [ErpLineChange(line_id=LINE_1, sku="A", quantity=Decimal(5))]
    assert notes == ["A: quantity 4 → 6"]


def test_a_price_and_a_vat_rate_changed_in_1c_are_taken_from_the_amounts() -> None:
    """R-ERP-1: the price per unit comes from 1C's amount after its discounts (220 / 2 = 110, not the list price
    of 130), and another VAT rate is taken; a difference under a cent is no change."""
    line = dataclasses.replace(goods("A", "2", "220", vat_rate="10"), price=Decimal(130), discount_amount=Decimal(40))
    data, notes = change(document(line), ours((LINE_1, "A", "2", "120")))
    assert data.lines == [ErpLineChange(line_id=LINE_1, sku="A", price=Decimal("110.00"), vat_rate=Decimal(10))]
    assert notes == ["A: VAT 20% → 10%", "A: price 120 → 110"]

    data, _ = change(document(goods("A", "3", "100")), ours((LINE_1, "A", "3", "33.334")))
    assert data.lines == []  # 100 / 3 = 33.33, less than a cent away from 33.334


def test_vat_added_on_top_is_converted_to_a_vat_included_price_sample_01() -> None:
    """R-ERP-1: sample 01, order 142 (`УчтеноВСумме=false`): the fan is 3338 + 600.84 VAT = 3938.84 with VAT,
    the boots 3600 + 648 = 4248; 1C's product ids are matched to our SKUs (the boots' characteristic ignored)."""
    (order,) = [doc for doc in parse_orders(load(sample_path("01").read_bytes())) if doc.erp_id == "142"]
    sku_of = {FAN_1C: "FAN-160", BOOTS_1C: "BOOTS-35"}

    same = ours((LINE_1, "FAN-160", "1", "3938.84"), (LINE_2, "BOOTS-35", "1", "4248"), vat="18")
    data, _ = change(order, same, sku_of=sku_of)
    assert data.lines == []

    before_vat = ours((LINE_1, "FAN-160", "1", "3338"), (LINE_2, "BOOTS-35", "1", "4248"), vat="18")
    data, notes = change(order, before_vat, sku_of=sku_of)
    assert data.lines == [ErpLineChange(line_id=LINE_1, sku="FAN-160", price=Decimal("3938.84"))]
    assert "FAN-160: price 3338 → 3938.84" in notes


def test_vat_added_on_top_without_its_amount_is_added_at_the_line_rate() -> None:
    """R-ERP-1: `УчтеноВСумме=false` and no VAT amount on the line: 100 + 20 % = 120 per unit."""
    line = goods("A", "1", "100", vat_included=False)
    data, _ = change(document(line), ours((LINE_1, "A", "1", "100")))
    assert data.lines == [ErpLineChange(line_id=LINE_1, sku="A", price=Decimal("120.00"))]


def test_a_line_only_1c_has_is_added_without_a_line_id() -> None:
    """R-ERP-1: a SKU we do not have becomes a new line (line_id None) with 1C's quantity, price and VAT rate."""
    data, notes = change(document(goods("A", "2", "240"), goods("C", "4", "480")), ours((LINE_1, "A", "2", "120")))
    assert data.lines == [
        ErpLineChange(line_id=None, sku="C", quantity=Decimal(4), price=Decimal("120.00"), vat_rate=Decimal(20))
    ]
    assert notes == ["C: added, 4"]


def test_service_lines_such_as_delivery_are_ignored() -> None:
    """R-ERP-1: 1C's delivery line (`ORDER_DELIVERY`) and lines of type `Услуга` are not goods: no new lines."""
    lines = (
        item_xml("p-a", "2", "240", sku="A")
        + item_xml("ORDER_DELIVERY", "1", "300")
        + item_xml("p-s", "1", "500", sku="SETUP", requisites=requisite("ТипНоменклатуры", "Услуга"))
    )
    doc = from_xml(order_xml(lines=lines))
    assert [line.is_service for line in doc.lines] == [False, True, True]
    data, notes = change(doc, ours((LINE_1, "A", "2", "120")))
    assert data.lines == [] and notes == []


def test_a_line_marked_cancelled_in_1c_counts_as_zero() -> None:
    """R-ERP-5: a line whose requisite `Отменено` is true is cancelled for its whole quantity."""
    lines = item_xml("p-a", "2", "240", sku="A", requisites=requisite("Отменено", "true"))
    data, notes = change(from_xml(order_xml(lines=lines)), ours((LINE_1, "A", "2", "120")))
    assert data.lines == [ErpLineChange(line_id=LINE_1, sku="A", quantity=Decimal(2), cancelled_quantity=Decimal(2))]
    assert notes == ["A: 2 cancelled"]


def test_a_document_without_goods_says_nothing_about_lines() -> None:
    """R-ERP-5: a status-only document (no `Товары`) is not "every line removed"."""
    data, _ = change(document(has_lines=False), ours(*TWO_LINES))
    assert data.lines == []


def test_a_line_id_that_is_not_a_uuid_is_sent_as_none() -> None:
    """Orders then matches the line by its SKU."""
    data, _ = change(document(), ours(("legacy-7", "A", "1", "120")))
    assert data.lines == [ErpLineChange(line_id=None, sku="A", quantity=Decimal(1), cancelled_quantity=Decimal(1))]


# --- status (R-ERP-5), payment, shipment date ---------------------------------------------------------------------


REJECTED = "status confirmed → rejected (cancelled in 1C)"
SHIPPED = "status confirmed → shipped (shipped in 1C)"


@pytest.mark.parametrize(
    ("flags", "expected", "note"),
    [
        ({"deletion_mark": True}, OrderStatus.REJECTED, REJECTED),
        ({"cancelled": True}, OrderStatus.REJECTED, REJECTED),
        ({"shipped_flag": True, "shipped": True}, OrderStatus.SHIPPED, SHIPPED),
        ({"deletion_mark": True, "shipped_flag": True}, OrderStatus.REJECTED, REJECTED),
        ({"cancelled": True, "status_text": "Собран"}, OrderStatus.REJECTED, REJECTED),
        ({"shipped_flag": True, "status_text": "Собран"}, OrderStatus.SHIPPED, SHIPPED),
    ],
)
def test_1c_flags_decide_the_status_before_the_status_map(
    flags: dict[str, object], expected: OrderStatus, note: str
) -> None:
    """R-ERP-5: a deletion mark or `Отменен` rejects the order, `Отгружен` ships it, whatever the status text."""
    data, notes = change(document(has_lines=False, **flags), ours(), '{"Собран": "agreed"}')
    assert data.status is expected
    assert notes == [note]


def test_cancelling_an_order_that_is_closed_already_changes_nothing() -> None:
    """R-ERP-5: the buyer cancelled it in OMS first (or it is rejected): 1C's deletion mark has nothing to move."""
    for closed in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
        data, notes = change(document(has_lines=False, deletion_mark=True), ours(status=closed.value))
        assert data.status is None and notes == []
        assert changes_nothing(data)


def test_a_status_text_changes_the_status_only_through_the_status_map() -> None:
    """R-ERP-1: the supplier's table maps 1C's free text (case and spaces ignored) or its status id to ours."""
    table = '{" готов К ОТГРУЗКЕ ": "confirmed", "P": "shipped", "Архив": "archived"}'
    assert parse_status_map(table) == {"готов к отгрузке": OrderStatus.CONFIRMED, "p": OrderStatus.SHIPPED}

    data, notes = change(document(has_lines=False, status_text="Готов к отгрузке"), ours(status="agreed"), table)
    assert (data.status, data.comment) == (OrderStatus.CONFIRMED, "1C: Готов к отгрузке")
    assert notes == ["status agreed → confirmed (1C status 'Готов к отгрузке')"]

    data, notes = change(document(has_lines=False, status_id="P"), ours(), table)
    assert (data.status, data.comment) == (OrderStatus.SHIPPED, "")
    assert notes == ["status confirmed → shipped (1C status 'P')"]

    data, notes = change(document(has_lines=False, status_text="Готов к отгрузке"), ours(), table)
    assert data.status is None and notes == []  # the order is confirmed already


def test_a_status_text_not_in_the_map_changes_nothing_and_says_so() -> None:
    """R-ERP-1: statuses are never guessed from free text."""
    data, notes = change(document(has_lines=False, status_text="В работе"), ours(), '{"Собран": "agreed"}')
    assert data.status is None and data.comment == "1C: В работе"
    assert notes == ["1C status 'В работе' is not in the status map: status unchanged"]


def test_an_order_marked_paid_without_payment_documents_is_paid_its_total() -> None:
    """R-ERP-1: `Оплачен` in 1C and no payment document: paid_amount = the document's `Сумма`; unpaid or without a
    total: none."""
    paid = {"paid": True, "paid_flag": True}
    data, notes = change(document(has_lines=False, total=Decimal("8186.84"), **paid), ours())
    assert data.paid_amount == Decimal("8186.84") and notes == ["paid 8186.84 (the order is marked paid in 1C)"]
    assert not changes_nothing(data)
    assert change(document(has_lines=False, **paid), ours())[0].paid_amount is None
    assert change(document(has_lines=False, total=Decimal(10)), ours())[0].paid_amount is None


def test_the_shipment_date_is_taken_as_a_date() -> None:
    """R-ERP-5: `Дата отгрузки по 1С` (a date-time) becomes the order's shipment date."""
    doc = document(has_lines=False, shipped_flag=True, shipment_date=datetime(2015, 6, 29, 17, 32, 27))
    data, notes = change(doc, ours())
    assert (data.status, data.shipment_date) == (OrderStatus.SHIPPED, date(2015, 6, 29))
    assert notes == ["status confirmed → shipped (shipped in 1C)", "shipment date 2015-06-29"]


def test_the_1c_number_is_the_document_id_else_its_id() -> None:
    """R-ERP-1: 1C sends back its own number (`Номер1С`), kept as the ERP document id."""
    assert change(document(), ours())[0].erp_document_id == "ТД-000001"
    assert change(document(number_1c=""), ours())[0].erp_document_id == str(ORDER_ID)


# --- version key -------------------------------------------------------------------------------------------------


def test_version_key_is_the_version_number_else_a_fingerprint_of_the_document() -> None:
    """R-ERP-6: a document applied already is recognised by `НомерВерсии`, or without one by its content."""
    assert version_key(document()) == "AAAAEAAAAAA="
    assert version_key(document(version="v" * 150)) == "v" * 100

    unversioned = document(goods("A", "2", "240"), version="")
    key = version_key(unversioned)
    assert key.startswith("fp1:") and len(key) == len("fp1:") + 48
    assert version_key(document(goods("A", "2", "240"), version="")) == key
    assert version_key(document(goods("A", "3", "360"), version="")) != key
    assert version_key(dataclasses.replace(unversioned, shipped=True)) != key


def test_a_fingerprint_survives_a_parser_that_learns_a_field_or_orders_its_fields_differently() -> None:
    """R-ERP-6: an unversioned document is fingerprinted from a fixed, canonical list of its fields, so a parser
    with one more field, or with its fields in another order, still recognises a document it applied before."""

    @dataclasses.dataclass(frozen=True)
    class NewerCmlOrder(CmlOrder):
        delivery_method: str = "Самовывоз"  # a field a later parser reads too

    fields = {f.name: getattr(BASE, f.name) for f in dataclasses.fields(CmlOrder)}
    fields.update(version="", lines=[goods("A", "2", "240"), goods("B", "1", "60")], total=Decimal("300.00"))
    applied = version_key(CmlOrder(**fields))  # type: ignore[arg-type]
    reordered = dict(reversed(list(fields.items())))
    assert version_key(NewerCmlOrder(**reordered)) == applied  # type: ignore[arg-type]
    # The same values spelled otherwise (trailing zeros, lines in another order, padded strings) are the same.
    same = dict(fields, total=Decimal("300"), lines=[goods("B", "1", "60.00"), goods("A", "2", "240")], number=" A-1 ")
    assert version_key(CmlOrder(**same)) == applied  # type: ignore[arg-type]
    # What 1C changed is a new version.
    assert version_key(CmlOrder(**dict(fields, total=Decimal(301)))) != applied  # type: ignore[arg-type]


# --- payments and shipments that come with the order (R-ERP-5) -----------------------------------------------------


def payment(
    total: str, *, doc_id: str = "P-1", refund: bool = False, basis: str = str(ORDER_ID), **changes: object
) -> CmlOrder:
    operation = "Возврат безналичных денег" if refund else "Выплата безналичных денег"
    return document(has_lines=False, erp_id=doc_id, operation=operation, total=Decimal(total), basis=basis, **changes)


def shipment(*lines: CmlOrderLine, doc_id: str = "S-1", basis: str = str(ORDER_ID), **changes: object) -> CmlOrder:
    return document(*lines, erp_id=doc_id, operation="Отпуск товара", basis=basis, **changes)


def test_payments_are_summed_into_the_paid_amount_whatever_the_flags_say() -> None:
    """R-ERP-1: two payments of 100 and 50.50 and a refund of 20 are 130.50 paid, not the order's total; a payment
    marked for deletion does not count; a payment number alone changes nothing."""
    order = document(has_lines=False, total=Decimal(1000), paid=True, payment_number="ТД-1")
    related = [payment("100"), payment("50.50", doc_id="P-2"), payment("20", doc_id="R-1", refund=True)]
    related.append(payment("999", doc_id="P-3", deletion_mark=True))
    data, notes = order_change(order, ours(), {}, {}, related)
    assert data.paid_amount == Decimal("130.50")
    assert notes == ["paid 130.5 (3 payment documents)"]
    data, notes = change(order, ours())
    assert data.paid_amount is None and notes == ["1C names payment ТД-1 without its sum: paid amount unchanged"]


def test_a_partial_shipment_is_shipped_quantities_per_line_and_the_order_stays_confirmed() -> None:
    """R-ERP-5: 1C shipped 2 of A (of 2) and nothing of B: A's line is shipped whole, B's not at all, and the
    order is not shipped; the second shipment with B ships the order."""
    order = document(goods("A", "2", "240"), goods("B", "1", "60"), shipped=True, shipment_number="РТУ-1")
    first = shipment(goods("A", "2", "240"))
    data, notes = order_change(order, ours(*TWO_LINES), {}, {}, [first])
    assert data.status is None
    assert [(c.line_id, c.shipped_quantity) for c in data.lines] == [(LINE_1, Decimal(2)), (LINE_2, Decimal(0))]
    assert notes == ["A: shipped 2"]
    second = shipment(goods("B", "1", "60"), doc_id="S-2")
    data, notes = order_change(order, ours(*TWO_LINES), {}, {}, [first, second])
    assert data.status is OrderStatus.SHIPPED
    assert [(c.line_id, c.shipped_quantity) for c in data.lines] == [(LINE_1, Decimal(2)), (LINE_2, Decimal(1))]
    assert notes == ["status confirmed → shipped (every line shipped in 1C)", "A: shipped 2", "B: shipped 1"]


def test_a_shipment_of_part_of_a_quantity_fills_the_first_line_of_the_sku_first() -> None:
    """R-ERP-5: 3 of SKU A shipped over our two lines of A (2 + 2): the first line 2, the second 1."""
    row = ours((LINE_1, "A", "2", "120"), (LINE_2, "A", "2", "120"))
    data, notes = order_change(document(goods("A", "4", "480")), row, {}, {}, [shipment(goods("A", "3", "360"))])
    assert data.status is None
    assert [(c.line_id, c.shipped_quantity) for c in data.lines] == [(LINE_1, Decimal(2)), (LINE_2, Decimal(1))]
    assert notes == ["A: shipped 3 of 4"]


def test_a_shipment_number_or_date_alone_ships_nothing() -> None:
    """R-ERP-5: sample 01 names its shipment without lines and without `Отгружен`: how much left is unknown."""
    order = document(has_lines=False, shipped=True, shipment_number="ТДЦУ-000003")
    data, notes = change(order, ours())
    assert data.status is None and data.lines == []
    assert notes == ["1C names shipment ТДЦУ-000003 without its lines: nothing read as shipped"]


def test_the_shipped_flag_ships_every_line_whole() -> None:
    """R-ERP-5: `Отгружен` means the whole order left: every line's shipped quantity is its quantity."""
    data, _ = change(document(goods("A", "2", "240"), goods("B", "1", "60"), shipped_flag=True), ours(*TWO_LINES))
    assert data.status is OrderStatus.SHIPPED
    assert [(c.line_id, c.shipped_quantity) for c in data.lines] == [(LINE_1, Decimal(2)), (LINE_2, Decimal(1))]
    # Shipped in OMS already: no status to move, the lines still learn what left.
    data, _ = change(document(shipped_flag=True, has_lines=False), ours(*TWO_LINES, status="shipped"))
    assert data.status is None
    assert [(c.line_id, c.shipped_quantity) for c in data.lines] == [(LINE_1, Decimal(2)), (LINE_2, Decimal(1))]


def test_a_new_payment_makes_a_new_version_of_an_unchanged_order_document() -> None:
    """R-ERP-6: 1C need not change the order's НомерВерсии when a payment is posted: the payment is still read."""
    order = document()
    assert version_key(order, [payment("100")]) != version_key(order)
    assert version_key(order, [payment("100")]) != version_key(order, [payment("100"), payment("5", doc_id="P-2")])
    assert version_key(order, [payment("100")]) == version_key(order, [payment("100")])


# --- comments ----------------------------------------------------------------------------------------------------


def test_the_comment_is_what_1c_said_once_and_never_a_flag() -> None:
    """R-ERP-1: "1C: <status text>" only when 1C sent a status text, and not again for the same text; a status
    that came from a flag gets no "1C: …" comment."""
    data, _ = change(document(has_lines=False, shipped_flag=True), ours())
    assert (data.status, data.comment) == (OrderStatus.SHIPPED, "")
    data, _ = change(document(has_lines=False, status_text="Закрыт"), ours())
    assert data.comment == "1C: Закрыт"
    row = dataclasses.replace(ours(), erp_status_text="Закрыт")
    data, _ = change(document(has_lines=False, status_text="Закрыт"), row)
    assert data.comment == "" and changes_nothing(data)
    data, _ = change(document(has_lines=False, status_text="Отгружается"), row)
    assert data.comment == "1C: Отгружается"


def test_payments_and_shipments_are_found_by_the_order_id_number_or_1c_number_once_each_in_file_order() -> None:
    """R-ERP-5: `Основание` may name the order by its `Ид`, our `Номер` or 1C's number; other orders' documents and
    documents that are neither payments nor shipments are not the order's."""
    by_number = payment("10", doc_id="P-1", basis="A-1")
    by_id = payment("20", doc_id="P-2")
    by_1c = shipment(doc_id="S-1", basis="ТД-000001")
    foreign = payment("30", doc_id="P-3", basis="A-2")
    invoice = document(erp_id="I-1", operation="Счет на оплату", basis=str(ORDER_ID))
    everything = [document(), by_number, foreign, by_1c, invoice, by_id]
    assert related_documents(document(), everything) == [by_number, by_1c, by_id]
    assert related_documents(document(), RelatedIndex.of(everything)) == [by_number, by_1c, by_id]
