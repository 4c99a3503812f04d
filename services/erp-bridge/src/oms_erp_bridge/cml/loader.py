"""Reading an untrusted CommerceML file: bytes in, a checked root element out, and what kind of file it is.

The XML is parsed from BYTES so that the encoding its declaration names (windows-1251, UTF-8 with or without
a BOM) is the one used; nothing is decoded by guessing. `defusedxml` refuses DTDs, entity declarations and
external references (billion laughs, XXE), and the size is capped before parsing (pitfalls 1 and 8).
"""

from __future__ import annotations

import re
from typing import Literal
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from oms_erp_bridge.cml.errors import CmlError
from oms_erp_bridge.cml.tree import child, children, descend, local_name

ROOT = "КоммерческаяИнформация"
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
Kind = Literal["orders", "catalog", "offers", "rests", "unknown"]

_UTF8_BOM = b"\xef\xbb\xbf"
_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def _check_bom_matches_declaration(data: bytes) -> None:
    """expat follows the declaration even after a UTF-8 BOM, which silently garbles the text: refuse that."""
    if not data.startswith(_UTF8_BOM):
        return
    declared = _DECLARED_ENCODING.match(data[len(_UTF8_BOM) : len(_UTF8_BOM) + 200])
    if declared and declared.group(1).decode("ascii").lower().replace("_", "-") not in ("utf-8", "utf8"):
        name = declared.group(1).decode("ascii")
        raise CmlError(f"the file starts with a UTF-8 byte order mark but declares encoding {name!r}")


def load(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Element:
    """Parse a CommerceML file safely and return its root `КоммерческаяИнформация` element.

    Raises `CmlError` when the file is too big, empty, not well-formed, in an unknown or inconsistent encoding,
    declares a DTD or entities, or has another root element.
    """
    if not isinstance(data, bytes | bytearray):
        raise CmlError("a CommerceML file must be given as the raw bytes received, not as decoded text")
    if len(data) > max_bytes:
        raise CmlError(f"the file is {len(data)} bytes, more than the {max_bytes} bytes allowed")
    if not data.strip():
        raise CmlError("the file is empty")
    _check_bom_matches_declaration(bytes(data))
    try:
        root: Element = fromstring(bytes(data), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise CmlError(f"the XML declares a DTD, entities or external references, which are refused ({exc!r})") from exc
    except ParseError as exc:
        raise CmlError(f"the file is not well-formed XML: {exc}") from exc
    except LookupError as exc:
        raise CmlError(f"the file declares an encoding Python does not know: {exc}") from exc
    if local_name(root.tag) != ROOT:
        raise CmlError(f"the root element is <{local_name(root.tag)}>, expected <{ROOT}>: not a CommerceML file")
    return root


def documents(root: Element) -> list[Element]:
    """Every `Документ`, whether directly under the root (CML 2) or wrapped in `Контейнер` (CML 3.1)."""
    found: list[Element] = []
    for item in root:
        name = local_name(item.tag)
        if name == "Документ":
            found.append(item)
        elif name == "Контейнер":
            found.extend(children(item, "Документ"))
    return found


def kind_of(root: Element) -> Kind:
    """What a file is, by its content (file names vary: `import0_1.xml`, `orders-<guid>.xml`, `rests___…`).

    orders: has `Документ` (directly or in `Контейнер`); offers: has `ПакетПредложений` with prices or
    per-warehouse stock; rests: a `ПакетПредложений` whose offers only carry `Остатки`; catalog: `Каталог`
    or a lone `Классификатор`; anything else (including an orders answer without documents): unknown.
    """
    if documents(root):
        return "orders"
    package = child(root, "ПакетПредложений")
    if package is not None:
        offers = descend(package, "Предложения", "Предложение")
        with_rests = any(child(offer, "Остатки") is not None for offer in offers)
        with_prices = any(child(offer, "Цены") is not None for offer in offers)
        return "rests" if with_rests and not with_prices else "offers"
    if child(root, "Каталог") is not None or child(root, "Классификатор") is not None:
        return "catalog"
    return "unknown"
