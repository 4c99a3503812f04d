"""Namespace-blind access to CommerceML elements.

CommerceML files come without a namespace or with `urn:1C.ru:commerceml_2`, `urn:1C.ru:commerceml_210` or
`urn:1C.ru:commerceml_3`, so every lookup here matches LOCAL names of elements and attributes. Also the few
structures shared by orders and catalog files: `ЗначенияРеквизитов`, units, VAT rates and the
`СодержитТолькоИзменения` flag.
"""

from __future__ import annotations

from decimal import Decimal
from xml.etree.ElementTree import Element

from oms_erp_bridge.cml.values import clean_text, parse_bool, parse_vat_rate


def local_name(tag: object) -> str:
    """`{urn:1C.ru:commerceml_2}Товар` → `Товар`; comments and processing instructions → ""."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def children(element: Element | None, name: str) -> list[Element]:
    """The direct children called `name`, in document order."""
    return [] if element is None else [item for item in element if local_name(item.tag) == name]


def child(element: Element | None, name: str) -> Element | None:
    """The first direct child called `name`, or None."""
    found = children(element, name)
    return found[0] if found else None


def descend(element: Element | None, *names: str) -> list[Element]:
    """Every element reached by following `names` down (`descend(doc, "Товары", "Товар")`)."""
    level = [] if element is None else [element]
    for name in names:
        level = [item for parent in level for item in children(parent, name)]
    return level


def text(element: Element | None, *names: str) -> str:
    """The stripped text of the first element at `names` below `element` (or of `element` itself); "" if none."""
    found = descend(element, *names) if names else ([] if element is None else [element])
    return clean_text(found[0].text) if found else ""


def attr(element: Element | None, name: str) -> str:
    """The stripped value of the attribute whose local name is `name`; "" if absent."""
    if element is None:
        return ""
    for key, value in element.attrib.items():
        if local_name(key) == name:
            return clean_text(value)
    return ""


def requisites(element: Element | None) -> dict[str, str]:
    """`ЗначенияРеквизитов/ЗначениеРеквизита` pairs as {name: value}, both stripped; several `Значение` → joined by
    new lines; a repeated name keeps its last value."""
    pairs: dict[str, str] = {}
    for item in descend(element, "ЗначенияРеквизитов", "ЗначениеРеквизита"):
        name = text(item, "Наименование")
        if name:
            pairs[name] = "\n".join(clean_text(value.text) for value in children(item, "Значение"))
    return pairs


def unit_of(element: Element) -> tuple[str, str]:
    """(code, full name) of a product or line unit.

    Two layouts exist: `<БазоваяЕдиница Код="796 " НаименованиеПолное="Штука">шт</БазоваяЕдиница>` and the
    1C-Bitrix module's `<Единица><Ид>796 </Ид><Код>796</Код><НаименованиеПолное>Штука</НаименованиеПолное>…`.
    """
    unit = child(element, "Единица")
    if unit is not None and len(unit):
        code = text(unit, "Код") or text(unit, "Ид")
        return code, text(unit, "НаименованиеПолное") or text(unit, "НаименованиеКраткое")
    base = child(element, "БазоваяЕдиница")
    if base is not None:
        name = attr(base, "НаименованиеПолное") or clean_text(base.text) or attr(base, "НаименованиеКраткое")
        return attr(base, "Код"), name
    return (text(unit), "") if unit is not None else ("", "")


def vat_rate_of(element: Element) -> Decimal | None:
    """The VAT rate from `СтавкиНалогов/СтавкаНалога` (name `НДС`); "Без налога" and absent → None."""
    for rate in descend(element, "СтавкиНалогов", "СтавкаНалога"):
        if "НДС" in text(rate, "Наименование").upper():
            return parse_vat_rate(text(rate, "Ставка"))
    return None


def only_changes(element: Element | None) -> bool:
    """The `СодержитТолькоИзменения` attribute (or, in old files, child element) of a catalog or offers package.

    Only an explicit false means "a full snapshot"; when it is absent we answer True (changes only), so that
    a caller never zeroes or deletes what a file merely did not mention.
    """
    value = attr(element, "СодержитТолькоИзменения") or text(child(element, "СодержитТолькоИзменения"))
    flag = parse_bool(value)
    return True if flag is None else flag
