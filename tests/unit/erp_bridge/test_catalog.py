"""Catalog files (07a, 08) and offers/rests files (07b, 09, 10): products, groups, prices, stock per warehouse."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms_erp_bridge.cml import CmlError, CmlOffer, load, parse_catalog, parse_offers
from tests.unit.erp_bridge.helpers import cml, sample_root

SHOES = "b6112590-41ba-11dd-ac9d-0015e9b8c48d"
VLADIVOSTOK, NOVOSIBIRSK, MOSCOW = (
    "6abdb0b5-18fd-11e7-80c2-0cc47ab29cd1",
    "d2a52d49-19c9-11e7-80c2-0cc47ab29cd1",
    "dd306af1-19c9-11e7-80c2-0cc47ab29cd1",
)


def offers_by_id(number: str) -> dict[str, CmlOffer]:
    return {offer.erp_id: offer for offer in parse_offers(sample_root(number)).offers}


def test_sample_07a_products_and_nested_groups() -> None:
    """R-ERP-2: products with SKU, unit and group; the classifier's group tree flattened with parents."""
    catalog = parse_catalog(sample_root("07a"))
    assert catalog.only_changes is False
    boots, ankle = catalog.products
    assert (boots.erp_id, boots.sku, boots.name) == (
        "bd72d910-55bc-11d9-848a-00112f43529a",
        "Б-130001",
        "Женские ботфорты коричневые",
    )
    assert (boots.unit_code, boots.unit_name) == ("715", "Пара (2 шт.)")
    assert boots.group_ids == ["e5a4c309-a659-11dd-acee-0015e9b8c48d"]
    assert not boots.is_service and not boots.deleted and boots.vat_rate is None
    assert ankle.sku == "Б- 130005"  # an inner space is part of the SKU
    groups = {group.erp_id: group for group in catalog.groups}
    assert len(groups) == 22
    assert groups["e5a4c309-a659-11dd-acee-0015e9b8c48d"].name == "Обувь"
    assert groups["e5a4c309-a659-11dd-acee-0015e9b8c48d"].parent_id == "453d6e3a-7233-11e0-8636-0011951d229d"
    assert groups["453d6e3a-7233-11e0-8636-0011951d229d"].parent_id is None


def test_sample_08_products_with_vat_rate_and_a_padded_unit_code() -> None:
    """R-ERP-2: a real `import0_1.xml`: 36 products in one group, VAT 20 %."""
    catalog = parse_catalog(sample_root("08"))
    assert catalog.only_changes is False and len(catalog.products) == 36
    rug = catalog.products[0]
    assert (rug.sku, rug.vat_rate, rug.group_ids) == (
        "PM-421-WP",
        Decimal(20),
        ["82cfb8dc-18f9-11e7-80c2-0cc47ab29cd1"],
    )
    assert [(group.name, group.parent_id) for group in catalog.groups] == [("Коврики для дома", None)]


def test_pitfall_6_unit_codes_with_a_trailing_space_are_stripped() -> None:
    """R-ERP-2: `БазоваяЕдиница Код="796 "` in samples 08 and 09."""
    assert {(p.unit_code, p.unit_name) for p in parse_catalog(sample_root("08")).products} == {("796", "Штука")}


def test_sample_07b_price_types_warehouses_prices_and_stock_per_warehouse() -> None:
    """R-ERP-2: price per price type, stock as `<Склад ИдСклада КоличествоНаСкладе/>`, ids `product#variant`."""
    package = parse_offers(sample_root("07b"))
    assert package.only_changes is False
    (retail,) = package.price_types
    assert (retail.erp_id, retail.name, retail.currency, retail.vat_included) == (
        "bb14a3a4-6b17-11e0-9819-e0cb4ed5eed4",
        "Розничная",
        "RUB",
        True,
    )
    assert [warehouse.name for warehouse in package.warehouses][:2] == ['Магазин "Обувь"', 'Магазин "Продукты"']
    assert len(package.warehouses) == 5 and len(package.offers) == 5
    offer = offers_by_id("07b")["bd72d910-55bc-11d9-848a-00112f43529a#90c55447-d3a8-11e4-9423-e0cb4ed5eed4"]
    assert offer.product_erp_id == "bd72d910-55bc-11d9-848a-00112f43529a"
    assert (offer.sku, offer.name) == ("Б-130001", "Женские ботфорты коричневые (38)")
    assert offer.prices == {retail.erp_id: Decimal(1719)}
    assert offer.stock == {SHOES: Decimal(20)} and offer.quantity == Decimal(20)
    assert [o.prices[retail.erp_id] for o in package.offers] == [Decimal(p) for p in (1719, 1496, 1309, 1309, 1271)]


def test_sample_09_stock_in_three_warehouses() -> None:
    """R-ERP-2, R-ERP-4: per-warehouse stock; the warehouses add up to `Количество` for every offer."""
    package = parse_offers(sample_root("09"))
    assert [(w.erp_id, w.name) for w in package.warehouses] == [
        (VLADIVOSTOK, "Владивосток"),
        (NOVOSIBIRSK, "Новосибирск"),
        (MOSCOW, "Москва"),
    ]
    assert [(t.name, t.currency) for t in package.price_types] == [("BASE", "RUB")]
    offer = offers_by_id("09")["bd8c4e15-18f9-11e7-80c2-0cc47ab29cd1"]
    assert offer.sku == "PM-421-WP" and offer.prices == {"279b6812-740b-11e8-80c8-0cc47ab29cd1": Decimal(100)}
    assert offer.stock == {VLADIVOSTOK: Decimal(1), NOVOSIBIRSK: Decimal(0), MOSCOW: Decimal(376)}
    assert offer.quantity == Decimal(377)
    assert len(package.offers) == 44
    assert all(sum(o.stock.values()) == o.quantity for o in package.offers)


def test_sample_10_rests_layout_maps_to_the_same_shape() -> None:
    """R-ERP-4: `Остатки/Остаток/Склад{Ид,Количество}`; a changes-only file (`СодержитТолькоИзменения="true"`)."""
    package = parse_offers(sample_root("10"))
    assert package.only_changes is True and package.price_types == [] and package.warehouses == []
    first, second = package.offers
    assert first.erp_id == "6c4e0c4b-6c2c-11e7-81d6-38d547224d22" and first.prices == {}
    assert first.stock["a3d8885d-d931-11e6-a8e7-38d547224d22"] == Decimal(4)
    assert first.stock["ebab87fa-bcf4-11e6-b36c-38d547224d22"] == Decimal(3)
    assert first.stock["c7ceb2f4-833b-11e7-b922-38d547224d22"] == Decimal(6)
    assert len(first.stock) == 7 and sum(first.stock.values()) == Decimal(13)
    assert second.stock["a3d8885d-d931-11e6-a8e7-38d547224d22"] == Decimal(29)
    assert first.quantity is None


@pytest.mark.parametrize(
    ("flag", "only_changes"),
    [
        (' СодержитТолькоИзменения="false"', False),
        (' СодержитТолькоИзменения="true"', True),
        ("", True),  # absent: treated as changes only, so nothing unmentioned is zeroed or deleted
    ],
)
def test_only_changes_flag_and_its_default(flag: str, only_changes: bool) -> None:
    """R-ERP-2, R-ERP-4: only an explicit false makes a file a full snapshot."""
    assert parse_offers(load(cml(f"<ПакетПредложений{flag}/>"))).only_changes is only_changes
    assert parse_catalog(load(cml(f"<Каталог{flag}/>"))).only_changes is only_changes


def test_only_changes_as_an_element_in_old_files() -> None:
    catalog = load(cml("<Каталог><СодержитТолькоИзменения>false</СодержитТолькоИзменения></Каталог>"))
    assert parse_catalog(catalog).only_changes is False


def test_deleted_and_service_products_and_a_classifier_only_file() -> None:
    """R-ERP-2: `Статус="Удален"` in changes-only files; `ТипНоменклатуры=Услуга` is a service."""
    body = (
        '<Каталог СодержитТолькоИзменения="true"><Товары>'
        '<Товар Статус="Удален"><Ид>p-1</Ид><Наименование>Старый</Наименование></Товар>'
        "<Товар><Ид>p-2</Ид><Наименование>Доставка</Наименование><ЗначенияРеквизитов><ЗначениеРеквизита>"
        "<Наименование>ТипНоменклатуры</Наименование><Значение>Услуга</Значение></ЗначениеРеквизита>"
        "</ЗначенияРеквизитов></Товар></Товары></Каталог>"
    )
    old, delivery = parse_catalog(load(cml(body))).products
    assert old.deleted and not old.is_service and delivery.is_service and not delivery.deleted
    classifier_only = parse_catalog(
        load(cml("<Классификатор><Группы><Группа><Ид>g</Ид></Группа></Группы></Классификатор>"))
    )
    assert classifier_only.products == [] and [g.erp_id for g in classifier_only.groups] == ["g"]


def test_pitfall_6_decimal_comma_in_prices_and_stock() -> None:
    """R-ERP-2: prices and quantities with a decimal comma and spaces."""
    body = (
        "<ПакетПредложений><Предложения><Предложение><Ид>p#v</Ид><Цены><Цена><ИдТипаЦены>t</ИдТипаЦены>"
        "<ЦенаЗаЕдиницу>1 234,50</ЦенаЗаЕдиницу></Цена></Цены><Количество>7,5</Количество>"
        '<Склад ИдСклада="w" КоличествоНаСкладе="7,5"/></Предложение></Предложения></ПакетПредложений>'
    )
    (offer,) = parse_offers(load(cml(body))).offers
    assert offer.prices == {"t": Decimal("1234.50")} and offer.stock == {"w": Decimal("7.5")}
    assert offer.product_erp_id == "p" and offer.quantity == Decimal("7.5")


def test_a_rest_without_warehouse_is_the_total_quantity() -> None:
    body = (
        "<ПакетПредложений><Предложения><Предложение><Ид>p</Ид><Остатки><Остаток><Количество>12</Количество>"
        "</Остаток></Остатки></Предложение></Предложения></ПакетПредложений>"
    )
    (offer,) = parse_offers(load(cml(body))).offers
    assert offer.stock == {} and offer.quantity == Decimal(12)


def test_a_bad_stock_value_names_the_offer() -> None:
    """R-ERP-6: refused with a reason, never read as zero."""
    body = (
        '<ПакетПредложений><Предложения><Предложение><Ид>p-9</Ид><Склад ИдСклада="w" КоличествоНаСкладе="много"/>'
        "</Предложение></Предложения></ПакетПредложений>"
    )
    with pytest.raises(CmlError, match="offer Ид='p-9': КоличествоНаСкладе: 'много' is not a number"):
        parse_offers(load(cml(body)))


def test_pitfall_8_deeply_nested_groups_do_not_exhaust_the_stack() -> None:
    """R-ERP-6: a hostile classifier 5000 groups deep is read, not a RecursionError."""
    depth = 5000
    body = "<Группы><Группа><Ид>g</Ид>" * depth + "</Группа></Группы>" * depth
    groups = parse_catalog(load(cml(f"<Классификатор>{body}</Классификатор>"))).groups
    assert len(groups) == depth and groups[0].parent_id is None and groups[-1].parent_id == "g"
