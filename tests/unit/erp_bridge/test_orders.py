"""Orders documents from 1C (samples 01, 03, our hand-written CML 3.1 and status-only documents) and from site
modules (samples 04, 06) read into `CmlOrder`."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from oms_erp_bridge.cml import CmlError, CmlOrder, line_totals_ok, load, parse_datetime, parse_orders
from tests.unit.erp_bridge.helpers import (
    CML31_CONTAINERS,
    STATUS_ONLY,
    cml,
    handwritten_bytes,
    handwritten_root,
    order_xml,
    requisite,
    sample_root,
)

MSK = timezone(timedelta(hours=3))


def orders_of(number: str) -> dict[str, CmlOrder]:
    return {order.erp_id: order for order in parse_orders(sample_root(number))}


def handwritten_orders(name: str) -> dict[str, CmlOrder]:
    return {order.erp_id: order for order in parse_orders(handwritten_root(name))}


def one_order(body: str) -> CmlOrder:
    (order,) = parse_orders(load(cml(body)))
    return order


def test_sample_01_order_142_status_numbers_payment_and_shipment() -> None:
    """R-ERP-1, R-ERP-5: 1C sends back its number, version, posting, payment and shipment of order 142."""
    order = orders_of("01")["142"]
    assert (order.number, order.number_1c, order.version) == ("142", "ТДЦУ-000001", "AAAAEAAAAAA=")
    assert order.date == datetime(2015, 6, 29, 15, 39, 10) and order.date_1c == datetime(2015, 6, 29)
    assert order.is_order and order.operation == "Заказ товара"
    assert (order.currency, order.rate, order.total) == ("RUB", Decimal("1"), Decimal("8186.84"))
    assert order.posted and not order.cancelled and not order.deletion_mark
    assert order.paid and order.payment_number == "ТДЦУ-000001"
    assert order.payment_date == datetime(2015, 6, 29, 15, 39, 10)
    assert order.shipped and order.shipment_number == "ТДЦУ-000003"
    assert order.shipment_date == datetime(2015, 6, 29, 17, 32, 27)
    assert (order.status_id, order.status_text) == ("P", "")
    assert order.comment == "[Номер документа на сайте: 142]"
    assert order.requisites["Проведен"] == "true" and order.has_lines


def test_sample_01_counterparty() -> None:
    """R-ERP-2: the buyer 1C matched, with its 1C id (INN and KPP are empty elements in this demo base)."""
    buyer = orders_of("01")["142"].buyer
    assert buyer is not None
    assert buyer.erp_id == "4a65ecb6-8b1b-11df-be16-e0cb4ed5f70f"
    assert (buyer.name, buyer.full_name, buyer.role) == ("Kikinda (Сербия)", "Kikinda (Сербия)", "Покупатель")
    assert (buyer.inn, buyer.kpp) == ("", "")


def test_sample_01_order_142_vat_is_added_on_top_of_the_line_amounts() -> None:
    """R-ERP-1: `УчтеноВСумме=false` — 3338 + 3600 + VAT 1248.84 (18 %) = 8186.84."""
    order = orders_of("01")["142"]
    fan, boots = order.lines
    assert (fan.erp_id, fan.unit_code, fan.unit_name) == ("cbcf493f-55bc-11d9-848a-00112f43529a", "796", "Штука")
    assert (fan.price, fan.quantity, fan.amount) == (Decimal(3338), Decimal(1), Decimal(3338))
    assert (fan.vat_rate, fan.vat_included, fan.vat_amount) == (Decimal(18), False, Decimal("600.84"))
    assert fan.amount * Decimal("0.18") == fan.vat_amount
    assert (boots.unit_code, boots.unit_name, boots.vat_amount) == ("715", "Пара (2 шт.)", Decimal(648))
    assert order.vat_included is False and order.vat_added_on_top
    assert order.vat_amount == Decimal("1248.84")
    assert fan.amount + boots.amount + order.vat_amount == order.total
    assert line_totals_ok(order)


def test_sample_01_order_235_vat_is_included_in_the_line_amounts() -> None:
    """R-ERP-1: `УчтеноВСумме=true` — 3600 + 500 = 4100, VAT 625.42 is inside."""
    order = orders_of("01")["235"]
    boots, delivery = order.lines
    assert order.vat_included is True and not order.vat_added_on_top
    assert order.vat_amount == Decimal("625.42") and order.total == Decimal(4100)
    assert boots.amount + delivery.amount == order.total
    assert (boots.vat_amount, delivery.vat_amount) == (Decimal("549.15"), Decimal("76.27"))
    assert (boots.amount * 18 / 118).quantize(Decimal("0.01")) == boots.vat_amount
    assert line_totals_ok(order)
    assert order.paid and not order.shipped and order.shipment_number == ""


def test_sample_01_order_delivery_is_a_service_line_and_variant_ids_keep_the_product_part() -> None:
    """R-ERP-1: `ORDER_DELIVERY` / `ТипНоменклатуры=Услуга` is a service; `<product>#<variant>` keeps both."""
    boots, delivery = orders_of("01")["235"].lines
    assert delivery.erp_id == "ORDER_DELIVERY" and delivery.is_service and delivery.price == Decimal(500)
    assert not boots.is_service
    assert boots.erp_id == "bd72d913-55bc-11d9-848a-00112f43529a#b02e2814-720f-11df-b436-0015e92f2802"
    assert boots.product_erp_id == "bd72d913-55bc-11d9-848a-00112f43529a"


def test_totals_that_do_not_add_up_are_reported() -> None:
    """R-ERP-1: a caller can tell a document whose lines do not add up to its total."""
    order = orders_of("01")["142"]
    assert not line_totals_ok(dataclasses.replace(order, total=Decimal("6938")))  # VAT forgotten
    assert not line_totals_ok(dataclasses.replace(orders_of("01")["235"], total=Decimal("4725.42")))


def test_cml31_containers_padded_1c_numbers_and_shipments() -> None:
    """R-ERP-1, R-ERP-5: four orders each wrapped in `Контейнер`; shipped ones carry the shipment document."""
    root = handwritten_root(CML31_CONTAINERS)
    assert [child.tag for child in root] == ["{urn:1C.ru:commerceml_3}Контейнер"] * 4
    assert root.get("ВерсияСхемы") == "3.1"
    orders = handwritten_orders(CML31_CONTAINERS)
    assert list(orders) == ["2041", "2057", "2058", "2063"]
    assert [order.number_1c for order in orders.values()] == ["R2041", "R2057", "R2058", "R2063"]
    assert [order.posted for order in orders.values()] == [True, True, False, True]
    assert [order.shipped for order in orders.values()] == [False, True, False, True]
    assert not any(order.cancelled or order.paid or order.deletion_mark for order in orders.values())
    first = orders["2041"]
    assert (first.version, first.date_1c) == ("AAAAJQAAAAA=", datetime(2024, 2, 12))
    assert first.date == datetime(2024, 2, 12, 11, 3, 27) and first.operation == "Заказ товара"
    assert orders["2057"].shipment_number == "ВР-0000318"
    assert orders["2057"].shipment_date == datetime(2024, 2, 14, 16, 42, 8)
    assert orders["2063"].shipment_date == datetime(2024, 2, 16, 9, 5, 51)
    assert orders["2058"].shipment_number == "" and orders["2058"].shipment_date is None
    assert orders["2058"].total == Decimal("1837.5") and orders["2058"].currency == "руб"
    assert orders["2058"].rate == Decimal(1)
    assert all(line_totals_ok(order) for order in orders.values())


def test_lines_without_vat_and_bitrix_basket_requisites() -> None:
    """R-ERP-1: `Ставка`="Без налога" → no rate; basket properties stay available as line requisites."""
    orders = handwritten_orders(CML31_CONTAINERS)
    (line,) = orders["2057"].lines
    assert line.vat_rate is None and line.vat_amount == Decimal(0) and line.vat_included is False
    assert line.sku == "" and line.requisites["СвойствоКорзины#ARTIKUL"] == "TK-450-GR"
    assert line.requisites["СвойствоКорзины#COLOR"] == "графит"
    assert line.erp_id == "6f1c2d3e-4a5b-11ee-8c90-0242ac120002#6f1c2d40-4a5b-11ee-8c90-0242ac120002"
    assert line.product_erp_id == "6f1c2d3e-4a5b-11ee-8c90-0242ac120002"
    assert (line.price, line.quantity, line.amount) == (Decimal(1490), Decimal(1), Decimal(1490))
    assert not line.is_service and line.unit_factor == Decimal(1)
    assert orders["2057"].vat_added_on_top and orders["2057"].vat_amount == Decimal(0)
    mug, lid = orders["2058"].lines
    assert [mug.requisites["СвойствоКорзины#ARTIKUL"], lid.requisites["СвойствоКорзины#ARTIKUL"]] == [
        "TK-450-BL",
        "TK-LID-01",
    ]
    assert lid.erp_id == lid.product_erp_id == "81d4e5f6-4a5b-11ee-8c90-0242ac120002"
    assert (lid.price, lid.amount) == (Decimal("347.5"), Decimal("347.5"))
    (lids,) = orders["2063"].lines
    assert (lids.price, lids.quantity, lids.amount) == (Decimal("347.5"), Decimal(3), Decimal("1042.5"))


def test_pitfall_6_padded_values_in_a_cml31_file_are_stripped() -> None:
    """R-ERP-1: `Номер1С`="R2041      ", unit `Ид`="796 ", unit name padded with 95 spaces, an id ending in a space."""
    data = handwritten_bytes(CML31_CONTAINERS).decode("utf-8-sig")
    assert "<Номер1С>R2041      </Номер1С>" in data and "<Ид>796 </Ид>" in data
    assert f"<НаименованиеПолное>штука{' ' * 95}</НаименованиеПолное>" in data
    assert "<Ид>52#shop-user#Покупатель Пробный </Ид>" in data
    order = handwritten_orders(CML31_CONTAINERS)["2041"]
    (line,) = order.lines
    assert order.number_1c == "R2041"
    assert (line.unit_code, line.unit_name) == ("796", "штука")
    assert order.comment == "[Номер документа на сайте: R2041]"
    buyer = handwritten_orders(CML31_CONTAINERS)["2058"].buyer
    assert buyer is not None and buyer.erp_id == "52#shop-user#Покупатель Пробный"
    assert (buyer.name, buyer.full_name, buyer.role) == ("", "", "Покупатель")


def test_one_generic_counterparty_is_shared_by_several_orders() -> None:
    """R-ERP-2: 1C often books web orders to one generic buyer; the same `Ид` comes back on each order."""
    orders = handwritten_orders(CML31_CONTAINERS)
    shared = orders["2057"].buyer
    assert shared is not None and shared == orders["2063"].buyer
    assert shared.erp_id == "e4a19c07-2b3d-4c5e-8f60-71829304a5b6"
    assert shared.name == shared.full_name == "Розничный покупатель (интернет-заказы)"
    assert (shared.inn, shared.kpp, shared.role) == ("", "", "Покупатель")
    other = orders["2041"].buyer
    assert other is not None and other.erp_id == "0b7e5c1a-9f24-4d8e-a3b6-c1d2e3f40516"
    assert len({order.buyer for order in orders.values()}) == 3


def test_sample_03_official_1c_to_site_document_in_windows_1251() -> None:
    """R-ERP-1: the protocol's own example: paid, delivered, with a delivery line and the old requisite names."""
    order = orders_of("03")["20"]
    assert order.date == datetime(2007, 10, 16, 15, 40, 40) and order.total == Decimal("9683.42")
    assert order.paid and order.payment_number == "ТК000000026"
    assert order.payment_date == datetime(2007, 10, 16, 15, 44, 47)
    assert not order.cancelled and order.status_text == "[F] Доставлен"
    delivery, combine = order.lines
    assert delivery.is_service and delivery.amount == Decimal("348.00")
    assert (combine.name, combine.unit_code, combine.unit_name) == ("Комбайн MOULINEX A77 4C", "796", "Штука")
    assert combine.quantity == Decimal("1.00") and combine.vat_rate is None
    assert line_totals_ok(order)
    buyer = order.buyer
    assert buyer is not None and (buyer.erp_id, buyer.full_name) == ("1#admin#Петров Петр", "Петр Петров")


def test_status_only_documents_with_dates_carrying_an_offset() -> None:
    """R-ERP-1: `Номер по 1С`/`Дата по 1С` requisites, `<Дата>2024-03-13+03:00</Дата>`, no lines, no total."""
    data = handwritten_bytes(STATUS_ONLY)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>')
    root = load(data)
    generated = datetime(2024, 3, 14, 19, 5, 41, 207000, tzinfo=MSK)
    assert parse_datetime(root.get("ДатаФормирования")) == generated
    orders = handwritten_orders(STATUS_ONLY)
    assert list(orders) == ["5101", "5102"]
    order = orders["5101"]
    assert (order.number, order.number_1c, order.date_1c) == ("5101", "ZK5101", datetime(2024, 3, 13))
    assert order.date == datetime(2024, 3, 13, 9, 14, 52, tzinfo=MSK)
    assert order.posted and not order.deletion_mark and order.status_text == "Открыт"
    assert order.requisites["ПометкаУдаления"] == "false" and order.requisites["Проведен"] == "true"
    assert order.total is None and order.lines == [] and not order.has_lines
    assert (order.currency, order.rate, order.buyer) == ("", None, None)
    assert order.vat_included is None and order.vat_amount is None
    assert line_totals_ok(order)
    deleted = orders["5102"]
    assert (deleted.number_1c, deleted.date_1c) == ("ZK5102", datetime(2024, 3, 14))
    assert deleted.date == datetime(2024, 3, 14, 0, 30, tzinfo=timezone(timedelta(hours=5)))
    assert deleted.deletion_mark and not deleted.posted and deleted.status_text == "Открыт"
    assert not deleted.has_lines and line_totals_ok(deleted)


def test_sample_06_a_site_query_answer_parses_as_orders_too() -> None:
    """R-ERP-1: a real 1C-Bitrix `mode=query` answer — the shape 1C receives from a site."""
    orders = orders_of("06")
    order = orders["133"]
    assert (order.status_id, order.status_text) == ("N", "[N] Принят, ожидается оплата")
    assert order.total == Decimal("14380.58") and len(order.lines) == 7 and line_totals_ok(order)
    assert (
        order.lines[0].name
        == "HERBMENT/Dishwashing liquid detergent with disinfecting effect,orange scent ,refill 800ml"
    )
    assert order.lines[1].quantity == Decimal(2) and order.lines[1].amount == Decimal("3577.92")
    assert not order.paid and not order.cancelled
    assert order.requisites["Дата изменения статуса"] == "12.02.2021 09:11:04"
    assert orders["132"].buyer is not None and orders["132"].buyer.erp_id == "38#catalog_exchange#"


def test_sample_04_double_escaped_names_are_kept_as_sent() -> None:
    """R-ERP-1: the official from.xml escapes twice (`&amp;quot;`): the codec does not unescape again."""
    (order,) = parse_orders(sample_root("04"))
    assert order.lines[1].name == "Телевизор &quot;JVC&quot;"


def test_documents_that_are_not_orders_are_parsed_but_keep_their_operation() -> None:
    """R-ERP-5: payment and shipment documents come in the same file; `is_order` tells them apart."""
    shipment = order_xml(doc_id="S-1").replace("Заказ товара", "Отпуск товара")
    payment = order_xml(doc_id="P-1").replace("Заказ товара", "Выплата безналичных денег")
    orders = parse_orders(load(cml(order_xml() + shipment + payment)))
    assert [(order.erp_id, order.operation, order.is_order) for order in orders] == [
        ("A-1", "Заказ товара", True),
        ("S-1", "Отпуск товара", False),
        ("P-1", "Выплата безналичных денег", False),
    ]


def test_a_payment_or_shipment_belongs_to_the_order_of_its_container_else_to_its_basis() -> None:
    """R-ERP-5: CML 3.1 puts an order's payments and shipments in its `Контейнер`; elsewhere `Основание` (or the
    requisite `Номер заказа`) names the order. Only 1C's own `Отгружен` / `Оплачен` booleans are the flags."""
    shipment = order_xml(doc_id="S-1").replace("Заказ товара", "Отпуск товара")
    payment = order_xml("<Основание>B-7</Основание>", doc_id="P-1").replace("Заказ товара", "Выплата наличных денег")
    refund = order_xml(doc_id="R-1", requisites=requisite("Номер заказа", "B-7")).replace(
        "Заказ товара", "Возврат наличных денег"
    )
    body = f"<Контейнер>{order_xml()}{shipment}</Контейнер>{payment}{refund}"
    orders = {order.erp_id: order for order in parse_orders(load(cml(body)))}
    assert orders["S-1"].is_shipment and orders["S-1"].basis == "A-1"
    assert orders["P-1"].is_payment and orders["P-1"].basis == "B-7"
    assert orders["R-1"].is_refund and orders["R-1"].basis == "B-7"
    assert orders["A-1"].basis == "" and not orders["A-1"].shipped_flag
    flagged = one_order(order_xml(requisites=requisite("Отгружен", "true") + requisite("Заказ оплачен", "Да")))
    assert flagged.shipped_flag and flagged.paid_flag
    named = one_order(order_xml(requisites=requisite("Номер отгрузки по 1С", "РТУ-1")))
    assert named.shipped and not named.shipped_flag


def test_flags_come_from_elements_or_requisites_with_da_net_booleans() -> None:
    """R-ERP-1, R-ERP-5: `ПометкаУдаления` as an element or a requisite, `Отменен`=Да, `Оплачен`, `Отгружен`."""
    order = one_order(
        order_xml(
            "<ПометкаУдаления>true</ПометкаУдаления>",
            requisites=requisite("Отменен", "Да") + requisite("Оплачен", "ДА") + requisite("Отгружен", "нет"),
        )
    )
    assert order.deletion_mark and order.cancelled and order.paid and not order.shipped and not order.posted
    by_requisite = one_order(order_xml(requisites=requisite("ПометкаУдаления", "true")))
    assert by_requisite.deletion_mark


def test_requisite_names_and_values_are_stripped_and_status_id_has_two_spellings() -> None:
    """R-ERP-1: `Статуса заказа ИД` (sic) or `Статус заказа ИД`; names padded like everything else."""
    order = one_order(
        order_xml(requisites=requisite("  Статус заказа ИД ", " F ") + requisite("Статус заказа", " Выполнен "))
    )
    assert order.requisites == {"Статус заказа ИД": "F", "Статус заказа": "Выполнен"}
    assert (order.status_id, order.status_text) == ("F", "Выполнен")


def test_a_cancelled_line_is_missing_or_smaller_and_lines_are_read_as_sent() -> None:
    """R-ERP-5: 1C sends the full current line list; quantities as they are now (diffing is the caller's)."""
    line = (
        "<Товар><Ид>p-1</Ид><Артикул> BOLT-M8 </Артикул><Наименование>Болт</Наименование>"
        '<БазоваяЕдиница Код="796 " НаименованиеПолное="Штука">шт</БазоваяЕдиница>'
        "<ЦенаЗаЕдиницу>12,50</ЦенаЗаЕдиницу><Количество>4</Количество><Сумма>50</Сумма>"
        "<Скидки><Скидка><Наименование>s</Наименование><Сумма>5</Сумма></Скидка></Скидки></Товар>"
    )
    order = one_order(order_xml("<Сумма>50</Сумма>", lines=line))
    (bolt,) = order.lines
    assert (bolt.sku, bolt.unit_code, bolt.price, bolt.quantity) == ("BOLT-M8", "796", Decimal("12.5"), Decimal(4))
    assert bolt.discount_amount == Decimal(5) and bolt.vat_included is None and order.has_lines
    empty = one_order(order_xml("<Сумма>0</Сумма><Товары/>"))
    assert empty.has_lines and empty.lines == []


def test_a_bad_value_names_the_document_and_the_line() -> None:
    """R-ERP-6: the whole file is refused with a reason 1C can show, nothing half-imported."""
    line = "<Товар><Ид>p-1</Ид><Наименование>x</Наименование><Количество>четыре</Количество><Сумма>1</Сумма></Товар>"
    with pytest.raises(CmlError, match=r"document Ид='A-1': line 'p-1': 'четыре' is not a number"):
        parse_orders(load(cml(order_xml(lines=line))))
    no_quantity = "<Товар><Ид>p-2</Ид><Сумма>1</Сумма></Товар>"
    with pytest.raises(CmlError, match="line 'p-2': it has no Количество"):
        parse_orders(load(cml(order_xml(lines=no_quantity))))
    with pytest.raises(CmlError, match="not a boolean"):
        parse_orders(load(cml(order_xml(requisites=requisite("Проведен", "может быть")))))
