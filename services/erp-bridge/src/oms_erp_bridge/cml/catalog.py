"""Catalog files (`import.xml`: groups and products) and offers files (`offers.xml`: price types, warehouses,
prices and stock per warehouse; also the `rests` layout of the 1C-Bitrix module) read into frozen dataclasses.

`only_changes` is False only when the file says `СодержитТолькоИзменения="false"`; when the flag is absent it
is True, so a caller never treats a partial file as a full snapshot (and never zeroes what it did not list).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from xml.etree.ElementTree import Element

from oms_erp_bridge.cml.errors import CmlError
from oms_erp_bridge.cml.tree import attr, child, children, descend, only_changes, requisites, text, unit_of, vat_rate_of
from oms_erp_bridge.cml.values import parse_bool, parse_decimal

SERVICE_TYPE = "Услуга"
DELETED_STATUS = "Удален"


@dataclass(frozen=True)
class CmlGroup:
    """A classifier group; `parent_id` is None for a top-level group."""

    erp_id: str
    name: str
    parent_id: str | None = None


@dataclass(frozen=True)
class CmlProduct:
    """A catalog `Товар`. `deleted` is `Статус="Удален"` or `ПометкаУдаления=true` (seen in changes-only files)."""

    erp_id: str
    sku: str
    name: str
    unit_code: str
    unit_name: str
    group_ids: list[str]
    is_service: bool
    vat_rate: Decimal | None = None
    deleted: bool = False


@dataclass(frozen=True)
class CmlCatalog:
    """An `import.xml`: products of `Каталог/Товары` and the groups of `Классификатор/Группы` (flattened)."""

    only_changes: bool
    products: list[CmlProduct]
    groups: list[CmlGroup]


@dataclass(frozen=True)
class CmlPriceType:
    """A `ТипЦены`; `vat_included` is its `Налог/УчтеноВСумме` when given."""

    erp_id: str
    name: str
    currency: str
    vat_included: bool | None = None


@dataclass(frozen=True)
class CmlWarehouse:
    """A `Склад` of an offers package."""

    erp_id: str
    name: str


@dataclass(frozen=True)
class CmlOffer:
    """A `Предложение`: prices keyed by price type `Ид`, stock keyed by warehouse `Ид`.

    `erp_id` may be `<product>#<characteristic>`; `product_erp_id` is the product part. `quantity` is the
    offer's total `Количество` when the file gives one (it need not equal the sum of `stock`).
    """

    erp_id: str
    sku: str
    name: str
    prices: dict[str, Decimal]
    stock: dict[str, Decimal]
    quantity: Decimal | None

    @property
    def product_erp_id(self) -> str:
        """The product part of `<product>#<characteristic>` ids (the whole id when there is no `#`)."""
        return self.erp_id.partition("#")[0]


@dataclass(frozen=True)
class CmlOffers:
    """An `offers.xml` or `rests` file: both layouts of per-warehouse stock end up in `CmlOffer.stock`."""

    only_changes: bool
    price_types: list[CmlPriceType]
    warehouses: list[CmlWarehouse]
    offers: list[CmlOffer]


def _groups(classifier: Element | None) -> list[CmlGroup]:
    """The group tree in document order (parents first), without recursion: nesting depth is the file's choice."""
    found: list[CmlGroup] = []
    pending: list[tuple[Element, str | None]] = [(item, None) for item in descend(classifier, "Группы", "Группа")]
    pending.reverse()
    while pending:
        item, parent_id = pending.pop()
        group = CmlGroup(erp_id=text(item, "Ид"), name=text(item, "Наименование"), parent_id=parent_id)
        found.append(group)
        pending.extend((sub, group.erp_id) for sub in reversed(descend(item, "Группы", "Группа")))
    return found


def _product(element: Element) -> CmlProduct:
    code, unit_name = unit_of(element)
    kind = requisites(element).get("ТипНоменклатуры", "")
    return CmlProduct(
        erp_id=text(element, "Ид"),
        sku=text(element, "Артикул"),
        name=text(element, "Наименование"),
        unit_code=code,
        unit_name=unit_name,
        group_ids=[text(item) for item in descend(element, "Группы", "Ид")],
        is_service=kind.casefold() == SERVICE_TYPE.casefold(),
        vat_rate=vat_rate_of(element),
        deleted=attr(element, "Статус").casefold() == DELETED_STATUS.casefold()
        or bool(parse_bool(text(element, "ПометкаУдаления"))),
    )


def parse_catalog(root: Element) -> CmlCatalog:
    """A catalog file → `CmlCatalog` (a classifier-only file gives no products)."""
    catalog = child(root, "Каталог")
    classifier = child(root, "Классификатор")
    products = [_product(item) for item in descend(catalog, "Товары", "Товар")]
    flag_holder = catalog if catalog is not None else classifier
    return CmlCatalog(only_changes=only_changes(flag_holder), products=products, groups=_groups(classifier))


def _required_decimal(value: str, what: str) -> Decimal | None:
    try:
        return parse_decimal(value)
    except CmlError as exc:
        raise CmlError(f"{what}: {exc}") from exc


def _stock(offer: Element) -> tuple[dict[str, Decimal], Decimal | None]:
    """Per-warehouse stock in either layout, and a total from `Остатки/Остаток/Количество` when given."""
    stock: dict[str, Decimal] = {}
    total: Decimal | None = None
    for item in children(offer, "Склад"):
        amount = _required_decimal(attr(item, "КоличествоНаСкладе"), "КоличествоНаСкладе")
        if attr(item, "ИдСклада") and amount is not None:
            stock[attr(item, "ИдСклада")] = amount
    for rest in descend(offer, "Остатки", "Остаток"):
        for item in children(rest, "Склад"):
            amount = _required_decimal(text(item, "Количество"), "Остаток/Склад/Количество")
            if text(item, "Ид") and amount is not None:
                stock[text(item, "Ид")] = amount
        if child(rest, "Склад") is None:
            total = _required_decimal(text(rest, "Количество"), "Остаток/Количество")
    return stock, total


def _offer(element: Element) -> CmlOffer:
    erp_id = text(element, "Ид")
    try:
        prices: dict[str, Decimal] = {}
        for price in descend(element, "Цены", "Цена"):
            value = _required_decimal(text(price, "ЦенаЗаЕдиницу"), "ЦенаЗаЕдиницу")
            if value is not None:
                prices[text(price, "ИдТипаЦены")] = value
        stock, rest_total = _stock(element)
        quantity = _required_decimal(text(element, "Количество"), "Количество")
        return CmlOffer(
            erp_id=erp_id,
            sku=text(element, "Артикул"),
            name=text(element, "Наименование"),
            prices=prices,
            stock=stock,
            quantity=quantity if quantity is not None else rest_total,
        )
    except CmlError as exc:
        raise CmlError(f"offer Ид={erp_id!r}: {exc}") from exc


def parse_offers(root: Element) -> CmlOffers:
    """An offers file or a rests file (`kind_of` → "offers" or "rests") → `CmlOffers`."""
    package = child(root, "ПакетПредложений")
    price_types = [
        CmlPriceType(
            erp_id=text(item, "Ид"),
            name=text(item, "Наименование"),
            currency=text(item, "Валюта"),
            vat_included=parse_bool(text(item, "Налог", "УчтеноВСумме")),
        )
        for item in descend(package, "ТипыЦен", "ТипЦены")
    ]
    warehouses = [
        CmlWarehouse(erp_id=text(item, "Ид"), name=text(item, "Наименование"))
        for item in descend(package, "Склады", "Склад")
    ]
    offers = [_offer(item) for item in descend(package, "Предложения", "Предложение")]
    return CmlOffers(only_changes=only_changes(package), price_types=price_types, warehouses=warehouses, offers=offers)
