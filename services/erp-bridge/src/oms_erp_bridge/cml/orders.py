"""Orders documents (`Документ`) as 1C sends them back — statuses, 1C numbers, payment, shipment, the current
lines — and as site modules send them to 1C (`mode=query` answers), read into frozen dataclasses.

Nothing here decides what OMS does with an order: the flags are derived from the booleans and the
payment/shipment requisites exactly as 1C wrote them, and free-text statuses are passed through untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from xml.etree.ElementTree import Element

from oms_erp_bridge.cml.errors import CmlError
from oms_erp_bridge.cml.tree import child, children, descend, local_name, requisites, text, unit_of, vat_rate_of
from oms_erp_bridge.cml.values import parse_bool, parse_datetime, parse_decimal, parse_vat_rate

ORDER_OPERATION = "Заказ товара"
BUYER_ROLE = "Покупатель"
SELLER_ROLE = "Продавец"
DELIVERY_ID = "ORDER_DELIVERY"
SERVICE_TYPE = "Услуга"
# Documents 1C sends with an order (CML 2 `ХозОперацияТип`): payments add to what was paid, refunds subtract,
# a shipment (`Отпуск товара`) lists the goods it shipped.
PAYMENT_OPERATIONS = ("Выплата безналичных денег", "Выплата наличных денег")
REFUND_OPERATIONS = ("Возврат безналичных денег", "Возврат наличных денег")
SHIPMENT_OPERATIONS = ("Отпуск товара",)
# Where a payment or shipment names its order, when it is not in the order's `Контейнер`.
BASIS_NAMES = ("Основание", "Номер заказа", "Заказ")


@dataclass(frozen=True)
class CmlCounterparty:
    """A `Контрагент`: 1C finds counterparties by INN or name, so `erp_id` must be stable per buyer company."""

    erp_id: str
    name: str
    full_name: str = ""
    inn: str = ""
    kpp: str = ""
    role: str = BUYER_ROLE


@dataclass(frozen=True)
class CmlOrderLine:
    """A `Товар` line. `erp_id` may be `<product>#<characteristic>`; `product_erp_id` is the part before `#`.

    `price` is per `unit_code`; `unit_factor` (`Коэффициент`, usually 1) converts that unit to the base unit.
    `vat_included` is the line's `УчтеноВСумме` (or the document's when the line has none): True means
    `amount` contains the VAT, False means the VAT is added on top of `amount`.
    """

    erp_id: str
    sku: str
    name: str
    unit_code: str
    unit_name: str
    price: Decimal
    quantity: Decimal
    amount: Decimal
    vat_rate: Decimal | None = None
    vat_included: bool | None = None
    vat_amount: Decimal | None = None
    discount_amount: Decimal | None = None
    is_service: bool = False
    unit_factor: Decimal = Decimal(1)
    requisites: dict[str, str] = field(default_factory=dict)

    @property
    def product_erp_id(self) -> str:
        """The product part of `<product>#<characteristic>` ids (the whole id when there is no `#`)."""
        return self.erp_id.partition("#")[0]


@dataclass(frozen=True)
class CmlOrder:
    """One `Документ`. Check `is_order` first: payment or shipment documents are parsed too.

    `has_lines` is False when the document has no `Товары` element at all (status-only documents, as some
    accounting systems send back): such a document says nothing about lines and must not be diffed as "every
    line removed".
    """

    erp_id: str
    number: str
    number_1c: str
    date_1c: datetime | None
    version: str
    operation: str
    date: datetime | None
    currency: str
    rate: Decimal | None
    total: Decimal | None
    counterparties: list[CmlCounterparty]
    lines: list[CmlOrderLine]
    requisites: dict[str, str]
    posted: bool
    cancelled: bool
    deletion_mark: bool
    shipped: bool
    paid: bool
    payment_number: str
    payment_date: datetime | None
    shipment_number: str
    shipment_date: datetime | None
    status_text: str
    status_id: str
    comment: str
    has_lines: bool
    vat_included: bool | None
    vat_amount: Decimal | None
    # `shipped` / `paid` above are also set by a shipment or payment number or date, which says nothing about how
    # much; these two are 1C's own booleans only (`Отгружен`; `Оплачен` or `Заказ оплачен`).
    shipped_flag: bool = False
    paid_flag: bool = False
    # For a payment or shipment document: the order it belongs to — the `Ид` of the order document in the same
    # `Контейнер` (CML 3.1), else `Основание` / `Номер заказа` (our order's `Ид` or `Номер`) as 1C wrote it.
    basis: str = ""

    @property
    def is_order(self) -> bool:
        """True for `ХозОперация` = `Заказ товара` (the only operation OMS imports as an order)."""
        return self.operation.casefold() == ORDER_OPERATION.casefold()

    @property
    def is_payment(self) -> bool:
        """A payment to the seller (cash or bank transfer)."""
        return self.operation.casefold() in {name.casefold() for name in PAYMENT_OPERATIONS}

    @property
    def is_refund(self) -> bool:
        """Money returned to the buyer: it takes away from what was paid."""
        return self.operation.casefold() in {name.casefold() for name in REFUND_OPERATIONS}

    @property
    def is_shipment(self) -> bool:
        """Goods shipped to the buyer (`Отпуск товара`), with the lines shipped."""
        return self.operation.casefold() in {name.casefold() for name in SHIPMENT_OPERATIONS}

    @property
    def in_force(self) -> bool:
        """Neither marked for deletion nor cancelled, nor sent as explicitly not posted (`Проведен=false`)."""
        return not (self.deletion_mark or self.cancelled) and (self.posted or "Проведен" not in self.requisites)

    @property
    def vat_added_on_top(self) -> bool:
        """True when VAT is NOT included in the line amounts (`УчтеноВСумме=false`): total = lines + VAT."""
        return self.vat_included is False

    @property
    def buyer(self) -> CmlCounterparty | None:
        """The counterparty whose role is `Покупатель` (else the first one), or None."""
        for counterparty in self.counterparties:
            if counterparty.role.casefold() == BUYER_ROLE.casefold():
                return counterparty
        return self.counterparties[0] if self.counterparties else None


def line_totals_ok(order: CmlOrder, tolerance: Decimal = Decimal("0.01")) -> bool:
    """Whether `Сумма` of the document equals the sum of the line amounts, plus the VAT when it is added on top.

    A status-only document (no `Сумма`) passes when it has no lines either.
    """
    if order.total is None:
        return not order.lines
    expected = sum((line.amount for line in order.lines), Decimal(0))
    if order.vat_added_on_top:
        expected += order.vat_amount or Decimal(0)
    return abs(expected - order.total) <= tolerance


def _vat_tax(element: Element) -> Element | None:
    for tax in descend(element, "Налоги", "Налог"):
        if "НДС" in text(tax, "Наименование").upper():
            return tax
    return None


def _counterparty(element: Element) -> CmlCounterparty:
    return CmlCounterparty(
        erp_id=text(element, "Ид"),
        name=text(element, "Наименование"),
        full_name=text(element, "ОфициальноеНаименование") or text(element, "ПолноеНаименование"),
        inn=text(element, "ИНН"),
        kpp=text(element, "КПП"),
        role=text(element, "Роль"),
    )


def _line(element: Element, document_vat_included: bool | None) -> CmlOrderLine:
    erp_id = text(element, "Ид")
    try:
        quantity = parse_decimal(text(element, "Количество"))
        price = parse_decimal(text(element, "ЦенаЗаЕдиницу") or text(element, "Цена"))
        amount = parse_decimal(text(element, "Сумма"))
        if quantity is None:
            raise CmlError("it has no Количество")
        if amount is None and price is None:
            raise CmlError("it has neither a price nor a Сумма")
        if amount is None:
            amount = price * quantity if price is not None else Decimal(0)
        if price is None:
            price = amount / quantity if quantity else Decimal(0)
        tax = _vat_tax(element)
        rate = parse_vat_rate(text(tax, "Ставка")) if tax is not None else None
        included = parse_bool(text(tax, "УчтеноВСумме")) if tax is not None else None
        discounts = [parse_decimal(text(item, "Сумма")) for item in descend(element, "Скидки", "Скидка")]
        line_requisites = requisites(element)
        unit_code, unit_name = unit_of(element)
        return CmlOrderLine(
            erp_id=erp_id,
            sku=text(element, "Артикул"),
            name=text(element, "Наименование"),
            unit_code=unit_code,
            unit_name=unit_name,
            price=price,
            quantity=quantity,
            amount=amount,
            vat_rate=rate if rate is not None else vat_rate_of(element),
            vat_included=included if included is not None else document_vat_included,
            vat_amount=parse_decimal(text(tax, "Сумма")) if tax is not None else None,
            discount_amount=sum((d for d in discounts if d is not None), Decimal(0)) if discounts else None,
            is_service=erp_id == DELIVERY_ID
            or line_requisites.get("ТипНоменклатуры", "").casefold() == SERVICE_TYPE.casefold(),
            unit_factor=parse_decimal(text(element, "Коэффициент")) or Decimal(1),
            requisites=line_requisites,
        )
    except CmlError as exc:
        raise CmlError(f"line {erp_id!r}: {exc}") from exc


def _flag(document: Element, values: dict[str, str], *names: str) -> bool:
    """True when any of `names` is true, as a child element (`<ПометкаУдаления>`) or as a requisite."""
    for name in names:
        element = child(document, name)
        if element is not None and parse_bool(element.text):
            return True
        if parse_bool(values.get(name)):
            return True
    return False


def _first(values: dict[str, str], *names: str) -> str:
    return next((values[name] for name in names if values.get(name)), "")


def _document_vat(document: Element, lines: list[CmlOrderLine]) -> tuple[bool | None, Decimal | None]:
    tax = _vat_tax(document)
    if tax is not None:
        return parse_bool(text(tax, "УчтеноВСумме")), parse_decimal(text(tax, "Сумма"))
    flags = {line.vat_included for line in lines if line.vat_included is not None}
    amounts = [line.vat_amount for line in lines if line.vat_amount is not None]
    return (flags.pop() if len(flags) == 1 else None), (sum(amounts, Decimal(0)) if amounts else None)


def parse_order(document: Element) -> CmlOrder:
    """One `Документ` element → `CmlOrder`."""
    values = requisites(document)
    document_tax = _vat_tax(document)
    document_included = parse_bool(text(document_tax, "УчтеноВСумме")) if document_tax is not None else None
    lines = [_line(item, document_included) for item in descend(document, "Товары", "Товар")]
    vat_included, vat_amount = _document_vat(document, lines)
    payment_number = _first(values, "Номер оплаты по 1С", "Номер платежного документа")
    payment_date = parse_datetime(_first(values, "Дата оплаты по 1С", "Дата оплаты"))
    shipment_number = _first(values, "Номер отгрузки по 1С")
    shipment_date = parse_datetime(_first(values, "Дата отгрузки по 1С"))
    return CmlOrder(
        erp_id=text(document, "Ид"),
        number=text(document, "Номер"),
        number_1c=text(document, "Номер1С") or values.get("Номер по 1С", ""),
        date_1c=parse_datetime(text(document, "Дата1С") or values.get("Дата по 1С")),
        version=text(document, "НомерВерсии"),
        operation=text(document, "ХозОперация"),
        date=parse_datetime(text(document, "Дата"), text(document, "Время")),
        currency=text(document, "Валюта"),
        rate=parse_decimal(text(document, "Курс")),
        total=parse_decimal(text(document, "Сумма")),
        counterparties=[_counterparty(item) for item in descend(document, "Контрагенты", "Контрагент")],
        lines=lines,
        requisites=values,
        posted=_flag(document, values, "Проведен"),
        cancelled=_flag(document, values, "Отменен"),
        deletion_mark=_flag(document, values, "ПометкаУдаления"),
        shipped=_flag(document, values, "Отгружен") or bool(shipment_number) or shipment_date is not None,
        paid=_flag(document, values, "Оплачен", "Заказ оплачен") or bool(payment_number) or payment_date is not None,
        payment_number=payment_number,
        payment_date=payment_date,
        shipment_number=shipment_number,
        shipment_date=shipment_date,
        status_text=values.get("Статус заказа", ""),
        status_id=_first(values, "Статуса заказа ИД", "Статус заказа ИД"),
        comment=text(document, "Комментарий"),
        has_lines=child(document, "Товары") is not None,
        vat_included=vat_included,
        vat_amount=vat_amount,
        shipped_flag=_flag(document, values, "Отгружен"),
        paid_flag=_flag(document, values, "Оплачен", "Заказ оплачен"),
        basis=(text(document, "Основание") or _first(values, *BASIS_NAMES)).strip(),
    )


def parse_orders(root: Element) -> list[CmlOrder]:
    """Every `Документ` of an orders file (CML 2 or CML 3.1 `Контейнер` layout), in file order.

    A bad value raises `CmlError` naming the document `Ид` and the line, so the whole file can be refused
    (and 1C told why) rather than half-imported.
    """
    orders: list[CmlOrder] = []
    for group in _groups(root):
        parsed: list[CmlOrder] = []
        for document in group:
            try:
                parsed.append(parse_order(document))
            except CmlError as exc:
                raise CmlError(f"document Ид={text(document, 'Ид')!r}: {exc}") from exc
        # CML 3.1 puts an order's payments and shipments in its `Контейнер`: that is their order.
        order = next((item for item in parsed if item.is_order), None)
        for item in parsed:
            if order is not None and not item.is_order and not item.basis:
                item = replace(item, basis=order.erp_id.strip())
            orders.append(item)
    return orders


def _groups(root: Element) -> list[list[Element]]:
    """The documents of each `Контейнер` together; a document directly under the root is a group of its own."""
    groups: list[list[Element]] = []
    for item in root:
        name = local_name(item.tag)
        if name == "Документ":
            groups.append([item])
        elif name == "Контейнер":
            groups.append(children(item, "Документ"))
    return groups
