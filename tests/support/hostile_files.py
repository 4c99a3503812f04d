"""Hostile uploads built in the test: spreadsheets that lie, zip bombs, broken archives, XML with entities."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from openpyxl import Workbook

MIB = 1024 * 1024


def xlsx(rows: list[list[Any]]) -> bytes:
    """A real .xlsx with ``rows`` on its first sheet."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def rewrite(content: bytes, change: dict[str, bytes | None], extra: dict[str, bytes] | None = None) -> bytes:
    """Copy an archive, replacing (or dropping, with None) entries and adding ``extra`` ones."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename in change:
                data = change[info.filename]
                if data is not None:
                    dst.writestr(info.filename, data)
            else:
                dst.writestr(info, src.read(info.filename))
        for name, data in (extra or {}).items():
            dst.writestr(name, data)
    return out.getvalue()


def sheet_xml(content: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return archive.read("xl/worksheets/sheet1.xml")


def lying_dimension(rows: list[list[Any]]) -> bytes:
    """A few-KB .xlsx whose <dimension> claims every cell Excel has (A1:XFD1048576)."""
    content = xlsx(rows)
    xml = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', sheet_xml(content))
    assert b"XFD1048576" in xml
    return rewrite(content, {"xl/worksheets/sheet1.xml": xml})


def far_cells(rows: list[list[Any]]) -> bytes:
    """A 5 KB .xlsx whose <dimension> claims A1:XFD1048576 and which has a cell in the very last row and column:
    a reader that believes either pads 1,048,574 empty rows to 16,384 cells each (minutes to hours of CPU)."""
    content = lying_dimension(rows)
    xml = sheet_xml(content).replace(
        b"</sheetData>", b'<row r="1048576"><c r="XFD1048576" t="n"><v>1</v></c></row></sheetData>'
    )
    return rewrite(content, {"xl/worksheets/sheet1.xml": xml})


def padded(rows: list[list[Any]], megabytes: int) -> bytes:
    """A valid .xlsx with an extra entry of ``megabytes`` MiB of zeros (a few hundred KB compressed)."""
    content = xlsx(rows)
    out = io.BytesIO(content)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as archive, archive.open("xl/media/pad.bin", "w") as fh:
        chunk = bytes(MIB)
        for _ in range(megabytes):
            fh.write(chunk)
    return out.getvalue()


def many_entries(rows: list[list[Any]], count: int) -> bytes:
    return rewrite(xlsx(rows), {}, {f"xl/media/e{n}.txt": b"x" for n in range(count)})


def truncated(rows: list[list[Any]]) -> bytes:
    content = xlsx(rows)
    return content[: len(content) // 2]


def with_entity(rows: list[list[Any]]) -> bytes:
    """An .xlsx whose sheet XML declares entities (billion laughs, in small)."""
    content = xlsx(rows)
    xml = sheet_xml(content)
    doctype = b'<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    xml = doctype + xml.replace(b"<v>", b"<v>&b;", 1) if b"<v>" in xml else doctype + xml
    return rewrite(content, {"xl/worksheets/sheet1.xml": xml})


def zip_of(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def zip_bomb(megabytes: int, name: str = "orders.xml") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive, archive.open(name, "w") as fh:
        chunk = bytes(MIB)
        for _ in range(megabytes):
            fh.write(chunk)
    return out.getvalue()


def understated(content: bytes, name: str, size: int) -> bytes:
    """The archive with entry ``name``'s declared unpacked size replaced by ``size`` (in its local header and in
    the central directory): a bomb that lies about what it unpacks to."""
    data = bytearray(content)
    encoded = name.encode()
    # (signature, offset of the unpacked size, offset of the name's length, offset of the name)
    for signature, size_at, length_at, name_at in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        start = 0
        while (at := data.find(signature, start)) >= 0:
            length = int.from_bytes(data[at + length_at : at + length_at + 2], "little")
            if data[at + name_at : at + name_at + length] == encoded:
                data[at + size_at : at + size_at + 4] = size.to_bytes(4, "little")
            start = at + 4
    return bytes(data)


def blown_up_sheet(rows: list[list[Any]], megabytes: int) -> bytes:
    """A valid .xlsx whose sheet XML carries ``megabytes`` MiB of whitespace (compressing about 1000 times)."""
    content = xlsx(rows)
    xml = sheet_xml(content).replace(b"</sheetData>", b"</sheetData>" + b" " * (megabytes * MIB))
    return rewrite(content, {"xl/worksheets/sheet1.xml": xml})
