"""Uploaded spreadsheets (.xlsx and CSV) read so that no file can hurt the service.

An ``.xlsx`` is a zip of XML files, and both layers can lie: a 5 KB sheet whose ``<dimension>`` claims
``A1:XFD1048576`` makes a naive reader produce 16 billion cells, and a few hundred kilobytes of zip can
unpack to gigabytes. So, before openpyxl sees a byte, the archive's directory is checked (entry count, each
entry's declared size, the total, the compression ratio; ``zipfile`` itself refuses an entry that inflates
past its declared size), the ``<dimension>`` is never believed (rows and columns are read up to the limits
and no further; every row counts toward the row limit, empty or not), XML entities are refused (openpyxl
parses with defusedxml), and the whole read runs in a worker thread under a deadline that the reading loop
itself checks, so a slow file is refused rather than waited for (the read's own CPU time, so that a busy machine
does not refuse an ordinary file; and a generous bound on the wait in all). CSV gets the same row, column and
time limits.

Refusals are ``OmsError``s with the error shape: 413 ``upload_too_large`` for what is too big to unpack,
422 with a code and the limit in ``details`` for everything else.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
import weakref
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from oms_shared.errors import Invalid, OmsError

XLSX_SUFFIXES = (".xlsx", ".xlsm")
CSV_SUFFIXES = (".csv", ".txt")
ZIP_MAGIC = b"PK\x03\x04"


class UploadTooLarge(OmsError):
    """The file unpacks to more than the service reads (413)."""

    status = 413
    code = "upload_too_large"


@dataclass(frozen=True)
class SheetLimits:
    """What one uploaded spreadsheet may hold. The defaults fit an order or a stock list typed by a person."""

    max_rows: int = 5000  # data rows after the header; empty rows count too
    max_columns: int = 50  # cells read per row; a value further right refuses the file
    max_entries: int = 100  # files inside the .xlsx archive
    max_unzipped_bytes: int = 20 * 1024 * 1024  # the archive's files in all, unpacked (20 MiB read in ~5 s)
    max_ratio: int = 100  # unpacked / packed, per entry of more than ratio_floor_bytes
    ratio_floor_bytes: int = 1024 * 1024  # small entries (styles, themes) compress freely
    # What reading the file may cost: CPU seconds of the worker thread that reads it. Not wall time: on a busy
    # machine a thread gets a fraction of a core (and of the GIL), and a 10,000-row stock list that reads in
    # 0.6 s when idle took over 15 s of wall time under load and was refused as "too slow".
    timeout_s: float = 15.0
    # How long a request waits for its read in all (a free slot, then the read however busy the machine is);
    # beyond it the read is refused as too slow too, and its thread stops.
    wait_s: float = 60.0
    max_cell_chars: int = 32767  # Excel's own limit of a cell; CSV fields longer than this are refused


@dataclass(frozen=True)
class Sheet:
    """The first sheet of an upload: its header row and its non-empty data rows with their sheet row numbers."""

    header: tuple[Any, ...]
    rows: list[tuple[int, tuple[Any, ...]]] = field(default_factory=list)

    def records(self) -> list[dict[str, str]]:
        """Data rows as dicts keyed by the lower-case, stripped header (columns without a header are dropped)."""
        keys = [str(h if h is not None else "").strip().lower() for h in self.header]
        return [
            {keys[i]: "" if v is None else str(v).strip() for i, v in enumerate(values) if i < len(keys) and keys[i]}
            for _, values in self.rows
        ]


class _Deadline:
    """Created in the thread that reads: ``timeout_s`` of that thread's CPU time, ``wait_s`` of wall time."""

    def __init__(self, limits: SheetLimits) -> None:
        self.limits = limits
        self.cpu_at = time.thread_time() + limits.timeout_s
        self.wall_at = time.monotonic() + limits.wait_s

    def check(self) -> None:
        if time.thread_time() > self.cpu_at or time.monotonic() > self.wall_at:
            raise _too_slow(self.limits)


def _too_slow(limits: SheetLimits) -> Invalid:
    return Invalid(
        f"the file took more than {limits.timeout_s:g} s to read; send a smaller or simpler file",
        code="upload_too_slow",
        details={"timeout_s": limits.timeout_s},
    )


def _not_xlsx(reason: str) -> Invalid:
    return Invalid(f"the file is not a readable .xlsx spreadsheet: {reason}", code="not_a_spreadsheet")


def _unreadable(exc: BaseException) -> Invalid:
    """The refusal for an exception out of openpyxl: entities and DTDs named as such, the rest by kind."""
    seen: BaseException | None = exc
    while seen is not None:
        if type(seen).__module__.startswith("defusedxml"):
            return Invalid(
                "the spreadsheet's XML declares entities or a DTD, which are refused",
                code="xml_entities_forbidden",
            )
        seen = seen.__cause__ or seen.__context__
    return _not_xlsx(type(exc).__name__)


def check_archive(content: bytes, limits: SheetLimits) -> None:
    """Refuse an .xlsx whose zip directory is broken, too big unpacked or compressed suspiciously well."""
    if not content.startswith(ZIP_MAGIC):
        raise _not_xlsx("it is not a zip archive")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise _not_xlsx(f"broken or truncated archive ({exc})") from None
    if len(entries) > limits.max_entries:
        raise Invalid(
            f"the archive holds {len(entries)} files, more than {limits.max_entries}",
            code="too_many_entries",
            details={"entries": len(entries), "max_entries": limits.max_entries},
        )
    total = 0
    for entry in entries:
        total += entry.file_size
        if entry.file_size > limits.max_unzipped_bytes or total > limits.max_unzipped_bytes:
            raise UploadTooLarge(
                f"the file unpacks to more than {limits.max_unzipped_bytes} bytes",
                details={"entry": entry.filename[:200], "max_unzipped_bytes": limits.max_unzipped_bytes},
            )
        if entry.file_size > limits.ratio_floor_bytes:
            ratio = entry.file_size / max(entry.compress_size, 1)
            if ratio > limits.max_ratio:
                raise Invalid(
                    f"{entry.filename[:200]} is compressed {ratio:.0f} times: more than {limits.max_ratio}, "
                    "as only a zip bomb is",
                    code="suspicious_compression",
                    details={"entry": entry.filename[:200], "ratio": round(ratio), "max_ratio": limits.max_ratio},
                )


def _too_many_rows(limits: SheetLimits) -> Invalid:
    return Invalid(
        f"the sheet has more than {limits.max_rows} rows (empty rows count too); split it into several files",
        code="too_many_rows",
        details={"max_rows": limits.max_rows},
    )


def _too_many_columns(limits: SheetLimits, row: int) -> Invalid:
    return Invalid(
        f"row {row} has values beyond column {limits.max_columns}; keep the data in the first columns",
        code="too_many_columns",
        details={"row": row, "max_columns": limits.max_columns},
    )


def _collect(rows: Iterable[tuple[Any, ...]], limits: SheetLimits, deadline: _Deadline) -> Sheet:
    """Header and non-empty rows from at most ``max_rows + 1`` rows of at most ``max_columns`` cells (the reader
    is asked for one more of each, to tell a file at the limit from one beyond it)."""
    header: tuple[Any, ...] | None = None
    data: list[tuple[int, tuple[Any, ...]]] = []
    for number, raw in enumerate(rows, start=1):
        deadline.check()
        if number > limits.max_rows + 1:
            raise _too_many_rows(limits)
        values = tuple(raw)
        if len(values) > limits.max_columns:
            if any(v not in (None, "") for v in values[limits.max_columns :]):
                raise _too_many_columns(limits, number)
            values = values[: limits.max_columns]
        while values and values[-1] in (None, ""):
            values = values[:-1]
        if header is None:
            header = values
            continue
        if values:
            data.append((number, values))
    if header is None:
        raise Invalid("the sheet is empty", code="empty_upload")
    return Sheet(header=header, rows=data)


def read_xlsx(content: bytes, limits: SheetLimits) -> Sheet:
    """The first sheet of an .xlsx (blocking: call it through ``read_upload`` or a worker thread)."""
    deadline = _Deadline(limits)
    check_archive(content, limits)
    try:
        from openpyxl import load_workbook

        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except OmsError:
        raise
    except Exception as exc:  # openpyxl raises many kinds (KeyError for a missing part, XML errors, entities)
        raise _unreadable(exc) from None
    try:
        deadline.check()
        if not workbook.worksheets:
            raise _not_xlsx("the workbook has no sheets")
        sheet = workbook.worksheets[0]
        # The <dimension> is not believed: the reader stops at the limits whatever the sheet claims.
        rows = sheet.iter_rows(
            min_row=1, max_row=limits.max_rows + 2, min_col=1, max_col=limits.max_columns + 1, values_only=True
        )
        return _collect(rows, limits, deadline)
    except OmsError:
        raise
    except Exception as exc:
        raise _unreadable(exc) from None
    finally:
        workbook.close()


def _csv_text(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1251", errors="replace")  # what Excel writes on a Russian Windows


def _csv_rows(text: str, limits: SheetLimits) -> Iterator[tuple[Any, ...]]:
    sample = text[:2048]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    for values in reader:
        if any(len(v) > limits.max_cell_chars for v in values):
            raise Invalid(
                f"row {reader.line_num} has a value longer than {limits.max_cell_chars} characters",
                code="cell_too_long",
                details={"row": reader.line_num, "max_cell_chars": limits.max_cell_chars},
            )
        yield tuple(v.strip() for v in values[: limits.max_columns + 1])
        if len(values) > limits.max_columns + 1 and any(v.strip() for v in values[limits.max_columns :]):
            raise _too_many_columns(limits, reader.line_num)


def read_csv(content: bytes, limits: SheetLimits) -> Sheet:
    """A CSV upload (``;`` or ``,`` separated, UTF-8 or windows-1251), with the limits of a sheet."""
    deadline = _Deadline(limits)
    try:
        return _collect(_csv_rows(_csv_text(content), limits), limits, deadline)
    except csv.Error as exc:
        raise Invalid(f"the file is not a readable CSV: {exc}", code="not_a_spreadsheet") from None


def kind_of(filename: str, content: bytes) -> str:
    """``xlsx`` or ``csv`` by the file's name (a zip named .csv is still refused as CSV text)."""
    name = (filename or "").lower()
    if name.endswith(XLSX_SUFFIXES):
        return "xlsx"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise Invalid("upload a .csv or .xlsx file", code="unsupported_file_type")


PARALLEL_READS = 2  # spreadsheets read at once per process; more wait for a slot (within ``wait_s``)
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _slot() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if loop not in _slots:
        _slots[loop] = asyncio.Semaphore(PARALLEL_READS)
    return _slots[loop]


async def read_upload(content: bytes, limits: SheetLimits, *, kind: str = "xlsx") -> Sheet:
    """Read an upload off the event loop, within ``limits.timeout_s`` of CPU time and ``limits.wait_s`` in all: the
    reading loop checks both, so the worker thread stops soon after a refusal for time rather than running on. At
    most ``PARALLEL_READS`` files are read at once, so a burst of uploads cannot take every worker thread and core."""
    reader = read_xlsx if kind == "xlsx" else read_csv

    async def read() -> Sheet:
        async with _slot():
            return await asyncio.to_thread(reader, content, limits)

    try:
        return await asyncio.wait_for(read(), timeout=limits.wait_s + 1)
    except TimeoutError:
        raise _too_slow(limits) from None
