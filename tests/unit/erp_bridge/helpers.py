"""Sample files (MIT-licensed copies), our own hand-written documents and small inline CommerceML for the tests."""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import Element

from oms_erp_bridge.cml import load

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "erp"
HANDWRITTEN = FIXTURES / "handwritten"

# Byte copies of the shared samples. 02 and 05 are deliberately absent: no licence was found for them.
SAMPLE_KINDS = {
    "01": "orders",
    "03": "orders",
    "04": "orders",
    "06": "orders",
    "07a": "catalog",
    "07b": "offers",
    "08": "catalog",
    "09": "offers",
    "10": "rests",
}

# The repository each copied sample comes from (all MIT, see tests/fixtures/erp/LICENSES.md).
SAMPLE_REPOS = {
    "01": "ArgentCrusade/commerceml",
    "03": "carono/yii2-1c-exchange",
    "04": "carono/yii2-1c-exchange",
    "06": "dobromyslov/commerceml-parser",
    "07a": "carono/php-commerceml",
    "07b": "carono/php-commerceml",
    "08": "dobromyslov/commerceml-parser",
    "09": "dobromyslov/commerceml-parser",
    "10": "ArgentCrusade/commerceml",
}
UNLICENSED_SAMPLES = ("02", "05")

# Documents we wrote ourselves (invented data) for the layouts of the samples we may not copy.
CML31_CONTAINERS = "cml31_containers_utf8_bom.xml"  # the layout of sample 02 (1C-Bitrix module, CML 3.1)
STATUS_ONLY = "status_only_dates_with_offset.xml"  # the layout of sample 05 (status-only orders)
HANDWRITTEN_KINDS = {CML31_CONTAINERS: "orders", STATUS_ONLY: "orders"}


def sample_path(number: str) -> Path:
    """The fixture whose name starts with `<number>_` (e.g. "07b")."""
    (path,) = FIXTURES.glob(f"{number}_*.xml")
    return path


def sample_bytes(number: str) -> bytes:
    return sample_path(number).read_bytes()


def sample_root(number: str) -> Element:
    return load(sample_bytes(number))


def handwritten_bytes(name: str) -> bytes:
    return (HANDWRITTEN / name).read_bytes()


def handwritten_root(name: str) -> Element:
    return load(handwritten_bytes(name))


def cml(body: str, *, namespace: str = "", encoding: str = "UTF-8", version: str = "2.08") -> bytes:
    """A whole file around `body`, encoded as its declaration says."""
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        f'<КоммерческаяИнформация ВерсияСхемы="{version}"{xmlns}>{body}</КоммерческаяИнформация>'
    )
    return text.encode("cp1251" if encoding.lower() == "windows-1251" else "utf-8")


def order_xml(inner: str = "", *, lines: str = "", requisites: str = "", doc_id: str = "A-1") -> str:
    """A minimal `Документ` with the given extra elements, `Товары` content and requisite pairs."""
    goods = f"<Товары>{lines}</Товары>" if lines else ""
    values = f"<ЗначенияРеквизитов>{requisites}</ЗначенияРеквизитов>" if requisites else ""
    return (
        f"<Документ><Ид>{doc_id}</Ид><Номер>{doc_id}</Номер><Дата>2024-05-01</Дата>"
        f"<ХозОперация>Заказ товара</ХозОперация>{inner}{goods}{values}</Документ>"
    )


def requisite(name: str, value: str) -> str:
    return f"<ЗначениеРеквизита><Наименование>{name}</Наименование><Значение>{value}</Значение></ЗначениеРеквизита>"
