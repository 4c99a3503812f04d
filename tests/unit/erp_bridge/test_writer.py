"""`write_orders`: our `mode=query` answer for 1C — encodings, BOM, stable ids, and a round trip through the reader."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oms_erp_bridge.cml import (
    CmlCounterparty,
    CmlError,
    Encoding,
    OrderLineOut,
    OrderOut,
    kind_of,
    line_totals_ok,
    load,
    parse_orders,
    write_orders,
)
from oms_erp_bridge.cml.tree import descend, text
from oms_erp_bridge.cml.writer import xml_safe

GENERATED = datetime(2024, 5, 1, 10, 0, 0)
ROMASHKA = CmlCounterparty(
    "buyer-7701234567", "ООО «Ромашка»", full_name="ООО «Ромашка» 😀", inn="7701234567", kpp="770101001"
)
LUTIK = CmlCounterparty("buyer-7809876543", "АО Лютик", inn="7809876543")
ENCODINGS: list[Encoding] = ["utf-8", "windows-1251"]


def line(sku: str = "BOLT-M8", **changes: Any) -> OrderLineOut:
    values: dict[str, Any] = {
        "sku": sku,
        "name": "Болт M8×40 — «оцинк.» 😀",
        "price": Decimal("12.50"),
        "quantity": Decimal(10),
        "amount": Decimal("125.00"),
        "vat_rate": Decimal(20),
    }
    values.update(changes)
    return OrderLineOut(**values)


def order(order_id: str = "0b7c6c3e-1", buyer: CmlCounterparty = ROMASHKA, **changes: Any) -> OrderOut:
    lines: Sequence[OrderLineOut] = changes.pop("lines", None) or [
        line(product_erp_id="cbcf493f-55bc-11d9-848a-00112f43529a"),
        line("NUT-M8", name="Гайка M8", price=Decimal("3.20"), quantity=Decimal(25), amount=Decimal("80.00")),
    ]
    values: dict[str, Any] = {
        "order_id": order_id,
        "number": "SUP-2024-0042",
        "created_at": datetime(2024, 4, 30, 9, 5, 7),
        "buyer": buyer,
        "lines": lines,
        "total": sum((item.amount for item in lines), Decimal(0)),
        "comment": "Доставить до 10:00 <склад №2> & позвонить",
        "requisites": [("Статус заказа", "Подтвержден"), ("Дата отгрузки", datetime(2024, 5, 3)), ("Срочно", True)],
    }
    values.update(changes)
    return OrderOut(**values)


def as_read_back(buyer: CmlCounterparty) -> CmlCounterparty:
    """A buyer as the reader returns it: full name defaulted to the name, role `Покупатель`."""
    return CmlCounterparty(buyer.erp_id, buyer.name, buyer.full_name or buyer.name, buyer.inn, buyer.kpp, "Покупатель")


def test_pitfall_1_utf8_answer_starts_with_a_bom_and_declares_utf8() -> None:
    """R-ERP-1: some 1C builds reject UTF-8 without a BOM; the declaration names what is really used."""
    data = write_orders([order()], generated_at=GENERATED)
    assert data.startswith(b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>\n')
    assert "ООО «Ромашка»".encode() in data
    data.decode("utf-8")  # all of it is valid UTF-8


def test_pitfall_1_windows_1251_answer_declares_it_and_escapes_what_cp1251_lacks() -> None:
    """R-ERP-1: Cyrillic in cp1251 bytes, no BOM; an emoji becomes a character reference instead of a crash."""
    data = write_orders([order()], encoding="windows-1251", generated_at=GENERATED)
    assert data.startswith(b'<?xml version="1.0" encoding="windows-1251"?>\n<')
    assert "ООО «Ромашка»".encode("cp1251") in data and "Ромашка".encode() not in data
    assert b"&#128512;" in data
    data.decode("cp1251")


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_round_trip_through_load_and_parse_orders(encoding: Encoding) -> None:
    """R-ERP-1: what we write is what a reader of the protocol gets back, in both encodings."""
    sent = order()
    (back,) = parse_orders(load(write_orders([sent], encoding=encoding, generated_at=GENERATED)))
    assert (back.erp_id, back.number, back.date) == (sent.order_id, sent.number, sent.created_at)
    assert (back.operation, back.currency, back.rate, back.total) == ("Заказ товара", "RUB", Decimal(1), Decimal(205))
    assert back.comment == sent.comment and back.is_order
    assert back.counterparties == [as_read_back(ROMASHKA)]
    assert back.requisites == {"Статус заказа": "Подтвержден", "Дата отгрузки": "2024-05-03T00:00:00", "Срочно": "true"}
    bolt, nut = back.lines
    assert (bolt.erp_id, bolt.sku, bolt.name) == ("cbcf493f-55bc-11d9-848a-00112f43529a", "BOLT-M8", line().name)
    assert (nut.erp_id, nut.sku) == ("NUT-M8", "NUT-M8")  # no 1C id yet: our SKU is the line Ид
    assert (bolt.unit_code, bolt.unit_name, bolt.price, bolt.quantity, bolt.amount) == (
        "796",
        "Штука",
        Decimal("12.50"),
        Decimal(10),
        Decimal("125.00"),
    )
    assert (bolt.vat_rate, bolt.vat_included, bolt.vat_amount) == (Decimal(20), True, Decimal("20.83"))
    assert back.vat_included is True and back.vat_amount == Decimal("20.83") + Decimal("13.33")
    assert line_totals_ok(back) and not bolt.is_service


def test_the_document_says_what_1c_expects() -> None:
    """R-ERP-1: `ХозОперация`=Заказ товара, `Роль`=Продавец, `Курс`=1, unit 796 Штука, the schema version."""
    root = load(write_orders([order()], schema_version="2.08", generated_at=GENERATED))
    assert root.get("ВерсияСхемы") == "2.08" and root.get("ДатаФормирования") == "2024-05-01T10:00:00"
    (document,) = descend(root, "Документ")
    assert [text(document, name) for name in ("ХозОперация", "Роль", "Курс", "Дата", "Время")] == [
        "Заказ товара",
        "Продавец",
        "1",
        "2024-04-30",
        "09:05:07",
    ]
    units = [item.attrib for item in descend(document, "Товары", "Товар", "БазоваяЕдиница")]
    assert units == [{"Код": "796", "НаименованиеПолное": "Штука"}] * 2
    assert text(document, "Контрагенты", "Контрагент", "Роль") == "Покупатель"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_vat_added_on_top_round_trips_with_the_totals(encoding: Encoding) -> None:
    """R-ERP-1: lines without VAT inside: document total = lines + VAT, as in sample 01 order 142."""
    lines = [line(vat_included=False), line("SVC", name="Доставка", amount=Decimal(500), price=Decimal(500),
                                             quantity=Decimal(1), is_service=True, vat_included=False)]  # fmt: skip
    sent = order(lines=lines, total=Decimal("625.00") + Decimal("25.00") + Decimal("100.00"))
    (back,) = parse_orders(load(write_orders([sent], encoding=encoding, generated_at=GENERATED)))
    assert back.vat_added_on_top and back.vat_amount == Decimal("125.00")
    assert [item.is_service for item in back.lines] == [False, True]
    assert line_totals_ok(back)


def test_lines_without_vat_write_no_taxes() -> None:
    (back,) = parse_orders(load(write_orders([order(lines=[line(vat_rate=None)])], generated_at=GENERATED)))
    assert back.vat_included is None and back.vat_amount is None and back.lines[0].vat_rate is None
    assert line_totals_ok(back)


def test_an_order_mixing_vat_included_and_on_top_is_refused() -> None:
    with pytest.raises(CmlError, match="some lines include VAT and others add it on top"):
        write_orders([order(lines=[line(), line("X", vat_included=False)])], generated_at=GENERATED)


def test_pitfall_5_each_buyer_keeps_its_own_counterparty_id() -> None:
    """R-ERP-2: one shared `Ид` made 1C merge every buyer into one; each buyer company has its own."""
    data = write_orders([order("o-1", ROMASHKA), order("o-2", LUTIK), order("o-3", ROMASHKA)], generated_at=GENERATED)
    ids = [(o.buyer.erp_id, o.buyer.inn) for o in parse_orders(load(data)) if o.buyer is not None]
    assert ids == [
        ("buyer-7701234567", "7701234567"),
        ("buyer-7809876543", "7809876543"),
        ("buyer-7701234567", "7701234567"),
    ]


def test_pitfall_5_one_id_for_two_buyers_is_refused() -> None:
    """R-ERP-2: writing the same counterparty `Ид` for two different companies is a bug, not an answer."""
    impostor = CmlCounterparty(ROMASHKA.erp_id, "АО Лютик", inn="7809876543")
    with pytest.raises(CmlError, match="used for two different buyers"):
        write_orders([order("o-1", ROMASHKA), order("o-2", impostor)], generated_at=GENERATED)
    with pytest.raises(CmlError, match="the buyer has no Ид"):
        write_orders([order("o-1", CmlCounterparty(" ", "Безымянный"))], generated_at=GENERATED)


def test_order_ids_must_be_distinct_and_not_empty() -> None:
    """R-ERP-1: 1C deduplicates by `Ид`; two documents with one `Ид` in a file would be merged."""
    with pytest.raises(CmlError, match="empty or used twice"):
        write_orders([order("o-1"), order("o-1")], generated_at=GENERATED)
    with pytest.raises(CmlError, match="empty or used twice"):
        write_orders([order("")], generated_at=GENERATED)


def test_no_orders_is_an_empty_document() -> None:
    """R-ERP-1: the "nothing new" answer is a root without documents."""
    root = load(write_orders([], generated_at=GENERATED))
    assert kind_of(root) == "unknown" and parse_orders(root) == []


def test_an_unsupported_encoding_is_refused() -> None:
    with pytest.raises(CmlError, match="not supported"):
        write_orders([], encoding=cast(Any, "koi8-r"), generated_at=GENERATED)


def test_control_characters_are_dropped_and_line_breaks_normalised() -> None:
    assert xml_safe("a\x00b\x1fc\r\nd\re\ufffef\ud800") == "abc\nd\nef"
    (back,) = parse_orders(load(write_orders([order(comment="x\x07y\r\nz")], generated_at=GENERATED)))
    assert back.comment == "xy\nz"


money = st.decimals(min_value=0, max_value=Decimal("999999999.99"), places=2, allow_nan=False, allow_infinity=False)
quantities = st.decimals(min_value=0, max_value=Decimal(10**6), places=3, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(
    encoding=st.sampled_from(ENCODINGS),
    name=st.text(),
    buyer_name=st.text(),
    sku=st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc", "Zs", "Zl", "Zp"]), min_size=1),
    price=money,
    quantity=quantities,
    rate=st.sampled_from([None, Decimal(0), Decimal(10), Decimal(20)]),
    included=st.booleans(),
)
def test_round_trip_of_odd_names_quantities_and_prices(
    encoding: Encoding,
    name: str,
    buyer_name: str,
    sku: str,
    price: Decimal,
    quantity: Decimal,
    rate: Decimal | None,
    included: bool,
) -> None:
    """R-ERP-1: any text survives (minus what XML 1.0 cannot carry), numbers come back exactly."""
    amount = price * quantity
    item = OrderLineOut(sku, name, price, quantity, amount, vat_rate=rate, vat_included=included)
    vat = item.vat_amount if (item.vat_amount is not None and not included) else Decimal(0)
    buyer = CmlCounterparty("b-1", buyer_name)
    sent = order(buyer=buyer, lines=[item], total=amount + vat, comment=name)
    (back,) = parse_orders(load(write_orders([sent], encoding=encoding, generated_at=GENERATED)))
    (got,) = back.lines
    assert got.name == xml_safe(name).strip() and back.comment == xml_safe(name).strip()
    assert back.buyer is not None and back.buyer.name == xml_safe(buyer_name).strip()
    assert got.sku == xml_safe(sku).strip() and got.erp_id == got.sku
    assert (got.price, got.quantity, got.amount) == (price, quantity, amount)
    assert got.vat_rate == rate and line_totals_ok(back)
