"""Writing OMS orders as a CommerceML orders document: the answer to 1C's `type=sale&mode=query`.

Built with `xml.etree.ElementTree` (building only). The declaration names the encoding really used; UTF-8
output starts with a BOM (pitfall 1: some 1C builds need it); windows-1251 output writes characters outside
cp1251 as XML character references. Every buyer must have its own stable counterparty `Ид` (pitfall 5).
Dates and times are written as given: pass local (supplier) time, as 1C shows them unconverted.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from oms_erp_bridge.cml.errors import CmlError
from oms_erp_bridge.cml.orders import BUYER_ROLE, DELIVERY_ID, ORDER_OPERATION, SELLER_ROLE, CmlCounterparty
from oms_shared import money

Encoding = Literal["utf-8", "windows-1251"]
RequisiteValue = str | bool | Decimal | date | datetime
UTF8_BOM = b"\xef\xbb\xbf"
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class OrderLineOut:
    """One line as OMS knows it. The line `Ид` is the 1C product id when known, else our SKU."""

    sku: str
    name: str
    price: Decimal
    quantity: Decimal
    amount: Decimal
    product_erp_id: str = ""
    vat_rate: Decimal | None = None
    vat_included: bool = True
    unit_code: str = "796"
    unit_name: str = "Штука"
    is_service: bool = False

    @property
    def erp_id(self) -> str:
        """What goes into `Товар/Ид`: the 1C product GUID from import.xml, or our SKU as a fallback."""
        return self.product_erp_id or self.sku

    @property
    def vat_amount(self) -> Decimal | None:
        """VAT of the line rounded to kopecks: inside `amount` when included, on top of it otherwise."""
        if self.vat_rate is None:
            return None
        return money.line_vat(self.amount, self.vat_rate, vat_included=self.vat_included)


@dataclass(frozen=True)
class OrderOut:
    """One OMS order for 1C. `order_id` and `number` must stay the same on every resend (1C deduplicates)."""

    order_id: str
    number: str
    created_at: datetime
    buyer: CmlCounterparty
    lines: Sequence[OrderLineOut]
    total: Decimal
    currency: str = "RUB"
    comment: str = ""
    requisites: Sequence[tuple[str, RequisiteValue]] = ()


def xml_safe(value: str) -> str:
    """Text that XML 1.0 can carry: control characters and lone surrogates dropped, CR LF / CR → LF."""
    return _NOT_XML_CHAR.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


def format_value(value: RequisiteValue) -> str:
    """A requisite value as 1C reads it: `true`/`false`, `2024-05-01T09:30:00`, `2024-05-01`, `1234.50`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def _add(parent: ET.Element, name: str, value: RequisiteValue | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, name, {key: xml_safe(item) for key, item in attributes.items()})
    if value is not None:
        element.text = xml_safe(format_value(value))
    return element


def _requisites(parent: ET.Element, pairs: Sequence[tuple[str, RequisiteValue]]) -> None:
    if not pairs:
        return
    holder = _add(parent, "ЗначенияРеквизитов")
    for name, value in pairs:
        item = _add(holder, "ЗначениеРеквизита")
        _add(item, "Наименование", name)
        _add(item, "Значение", value)


def _vat(parent: ET.Element, included: bool, amount: Decimal, rate: Decimal | None) -> None:
    tax = _add(_add(parent, "Налоги"), "Налог")
    _add(tax, "Наименование", "НДС")
    _add(tax, "УчтеноВСумме", included)
    _add(tax, "Сумма", amount)
    if rate is not None:
        _add(tax, "Ставка", rate)


def _counterparty(parent: ET.Element, buyer: CmlCounterparty) -> None:
    element = _add(_add(parent, "Контрагенты"), "Контрагент")
    _add(element, "Ид", buyer.erp_id)
    _add(element, "Наименование", buyer.name)
    _add(element, "ОфициальноеНаименование", buyer.full_name or buyer.name)
    if buyer.inn:
        _add(element, "ИНН", buyer.inn)
    if buyer.kpp:
        _add(element, "КПП", buyer.kpp)
    _add(element, "Роль", buyer.role or BUYER_ROLE)


def _line(parent: ET.Element, line: OrderLineOut) -> None:
    element = _add(parent, "Товар")
    _add(element, "Ид", line.erp_id)
    if line.sku:
        _add(element, "Артикул", line.sku)
    _add(element, "Наименование", line.name)
    _add(element, "БазоваяЕдиница", Код=line.unit_code, НаименованиеПолное=line.unit_name)
    if line.vat_rate is not None:
        rate = _add(_add(element, "СтавкиНалогов"), "СтавкаНалога")
        _add(rate, "Наименование", "НДС")
        _add(rate, "Ставка", line.vat_rate)
    kind = "Услуга" if line.is_service or line.erp_id == DELIVERY_ID else "Товар"
    _requisites(element, [("ВидНоменклатуры", kind), ("ТипНоменклатуры", kind)])
    _add(element, "ЦенаЗаЕдиницу", line.price)
    _add(element, "Количество", line.quantity)
    _add(element, "Сумма", line.amount)
    vat = line.vat_amount
    if vat is not None:
        _vat(element, line.vat_included, vat, line.vat_rate)


def _document(parent: ET.Element, order: OrderOut) -> None:
    taxed = [line for line in order.lines if line.vat_rate is not None]
    included = {line.vat_included for line in taxed}
    if len(included) > 1:
        raise CmlError(f"order {order.number}: some lines include VAT and others add it on top")
    element = _add(parent, "Документ")
    _add(element, "Ид", order.order_id)
    _add(element, "Номер", order.number)
    _add(element, "Дата", order.created_at.date())
    _add(element, "ХозОперация", ORDER_OPERATION)
    _add(element, "Роль", SELLER_ROLE)
    _add(element, "Валюта", order.currency)
    _add(element, "Курс", "1")
    _add(element, "Сумма", order.total)
    _counterparty(element, order.buyer)
    _add(element, "Время", order.created_at.strftime("%H:%M:%S"))
    if order.comment:
        _add(element, "Комментарий", order.comment)
    if taxed:
        _vat(element, included.pop(), sum((line.vat_amount or Decimal(0) for line in taxed), Decimal(0)), None)
    lines = _add(element, "Товары")
    for line in order.lines:
        _line(lines, line)
    _requisites(element, order.requisites)


def _check(orders: Sequence[OrderOut]) -> None:
    """Stable, distinct ids: no order twice, no buyer without an `Ид`, no `Ид` shared by two buyers (pitfall 5)."""
    order_ids: set[str] = set()
    buyers: dict[str, tuple[str, str, str]] = {}
    for order in orders:
        if not order.order_id.strip() or order.order_id in order_ids:
            raise CmlError(f"order {order.number}: its Ид {order.order_id!r} is empty or used twice in one file")
        order_ids.add(order.order_id)
        buyer = order.buyer
        if not buyer.erp_id.strip():
            raise CmlError(f"order {order.number}: the buyer has no Ид; give each buyer company its own stable Ид")
        identity = (buyer.name, buyer.inn, buyer.kpp)
        known = buyers.setdefault(buyer.erp_id, identity)
        if known != identity:
            raise CmlError(
                f"buyer Ид {buyer.erp_id!r} is used for two different buyers ({known[0]!r} and {buyer.name!r}): "
                "1C would merge them into one counterparty"
            )


def write_orders(
    orders: Sequence[OrderOut],
    *,
    encoding: Encoding = "utf-8",
    schema_version: str = "2.08",
    generated_at: datetime,
) -> bytes:
    """The orders document for 1C as bytes: declaration + (BOM for UTF-8) + one `Документ` per order.

    An empty `orders` gives the "no orders" answer (a root without documents). Raises `CmlError` for an
    unsupported encoding, a repeated order `Ид`, a buyer without `Ид` or one `Ид` for two buyers.
    """
    if encoding not in ("utf-8", "windows-1251"):
        raise CmlError(f"encoding {encoding!r} is not supported: use utf-8 or windows-1251")
    _check(orders)
    root = ET.Element(
        "КоммерческаяИнформация",
        {"ВерсияСхемы": schema_version, "ДатаФормирования": format_value(generated_at)},
    )
    for order in orders:
        _document(root, order)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    if encoding == "utf-8":
        return UTF8_BOM + b'<?xml version="1.0" encoding="UTF-8"?>\n' + body.encode("utf-8")
    return b'<?xml version="1.0" encoding="windows-1251"?>\n' + body.encode("cp1251", errors="xmlcharrefreplace")
