"""The shared spreadsheet reader refuses hostile uploads quickly and clearly, and reads honest ones whole."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from oms_shared import spreadsheets
from oms_shared.errors import OmsError
from oms_shared.spreadsheets import Sheet, SheetLimits, read_csv, read_upload, read_xlsx
from tests.support import hostile_files as h
from tests.support.services import WAIT_SCALE

ROWS = [["SKU", "Warehouse", "Quantity"], ["A-1", "MAIN", 5], [None, None, None], ["B-2", "SOUTH", 2.5]]
QUICK = 5.0 * WAIT_SCALE  # seconds, generous for a loaded machine: every refusal below takes milliseconds when idle


def refused(read: Callable[[], object]) -> OmsError:
    started = time.monotonic()
    with pytest.raises(OmsError) as caught:
        read()
    assert time.monotonic() - started < QUICK
    return caught.value


def test_an_honest_sheet_is_read_with_its_row_numbers_and_without_empty_rows() -> None:
    sheet = read_xlsx(h.xlsx(ROWS), SheetLimits())
    assert sheet.header == ("SKU", "Warehouse", "Quantity")
    assert sheet.rows == [(2, ("A-1", "MAIN", 5)), (4, ("B-2", "SOUTH", 2.5))]
    assert sheet.records()[1] == {"sku": "B-2", "warehouse": "SOUTH", "quantity": "2.5"}


def test_a_dimension_claiming_every_cell_of_excel_is_not_believed() -> None:
    """A 5 KB file whose <dimension> says A1:XFD1048576 is read as the two rows it has, at once."""
    content = h.lying_dimension(ROWS)
    assert len(content) < 10_000
    started = time.monotonic()
    sheet = read_xlsx(content, SheetLimits())
    assert time.monotonic() - started < QUICK
    assert [number for number, _ in sheet.rows] == [2, 4]


def test_a_row_at_the_last_row_number_counts_every_row_before_it() -> None:
    error = refused(lambda: read_xlsx(h.far_cells(ROWS), SheetLimits()))
    assert (error.status, error.code, error.details) == (422, "too_many_rows", {"max_rows": 5000})


def test_empty_rows_count_toward_the_row_limit() -> None:
    rows = [ROWS[0], *([[None, None, None]] * 3), ["A-1", "MAIN", 1]]
    content = h.xlsx(rows)
    assert read_xlsx(content, SheetLimits(max_rows=4)).rows == [(5, ("A-1", "MAIN", 1))]
    assert refused(lambda: read_xlsx(content, SheetLimits(max_rows=3))).code == "too_many_rows"


def test_too_many_rows_and_columns() -> None:
    many = [ROWS[0]] + [[f"A-{n}", "MAIN", 1] for n in range(101)]
    assert refused(lambda: read_xlsx(h.xlsx(many), SheetLimits(max_rows=100))).code == "too_many_rows"
    wide = [ROWS[0], ["A-1", "MAIN", 1, *range(60)]]
    error = refused(lambda: read_xlsx(h.xlsx(wide), SheetLimits()))
    assert (error.status, error.code, error.details) == (422, "too_many_columns", {"row": 2, "max_columns": 50})


def test_a_zip_bomb_is_refused_before_it_is_unpacked() -> None:
    """A valid .xlsx padded with 256 MiB of zeros (about 260 KB sent) is refused by its directory alone."""
    content = h.padded(ROWS, 256)
    assert len(content) < 400_000
    error = refused(lambda: read_xlsx(content, SheetLimits()))
    assert (error.status, error.code) == (413, "upload_too_large")


def test_an_entry_compressed_like_a_bomb_is_refused_even_when_small_enough() -> None:
    error = refused(lambda: read_xlsx(h.padded(ROWS, 4), SheetLimits()))
    assert (error.status, error.code) == (422, "suspicious_compression")
    assert error.details["max_ratio"] == 100


def test_an_entry_that_unpacks_past_its_declared_size_is_stopped_there() -> None:
    """A sheet whose zip headers understate its size (1 KB declared, 30 MiB inside) is not unpacked past 1 KB."""
    honest = h.blown_up_sheet(ROWS, 30)
    assert refused(lambda: read_xlsx(honest, SheetLimits())).code == "upload_too_large"
    bomb = h.understated(honest, "xl/worksheets/sheet1.xml", 1024)
    error = refused(lambda: read_xlsx(bomb, SheetLimits()))
    assert (error.status, error.code) == (422, "not_a_spreadsheet")


def test_too_many_entries_a_non_zip_a_truncated_zip_and_xml_entities() -> None:
    limits = SheetLimits()
    assert refused(lambda: read_xlsx(h.many_entries(ROWS, 200), limits)).code == "too_many_entries"
    assert refused(lambda: read_xlsx(b"SKU;Warehouse;Quantity\nA-1;MAIN;5\n", limits)).code == "not_a_spreadsheet"
    assert refused(lambda: read_xlsx(h.truncated(ROWS), limits)).code == "not_a_spreadsheet"
    assert refused(lambda: read_xlsx(h.with_entity(ROWS), limits)).code == "xml_entities_forbidden"


def test_csv_has_the_same_limits() -> None:
    good = b"sku;warehouse_code;on_hand\nA-1;MAIN;5\n;;\nB-2;MAIN;3\n"
    assert read_csv(good, SheetLimits()).records() == [
        {"sku": "A-1", "warehouse_code": "MAIN", "on_hand": "5"},
        {"sku": "B-2", "warehouse_code": "MAIN", "on_hand": "3"},
    ]
    empty_lines = b"sku,on_hand\n" + b",\n" * 10_000
    assert refused(lambda: read_csv(empty_lines, SheetLimits())).code == "too_many_rows"
    wide = b"sku,on_hand\nA-1,5," + b"x," * 100 + b"\n"
    assert refused(lambda: read_csv(wide, SheetLimits())).code == "too_many_columns"
    long_cell = b"sku,on_hand\n" + b"A" * 40_000 + b",1\n"
    assert refused(lambda: read_csv(long_cell, SheetLimits())).code == "cell_too_long"


async def test_a_read_that_takes_too_long_is_refused_at_its_deadline() -> None:
    rows = [ROWS[0]] + [[f"A-{n}", "MAIN", n] for n in range(4000)]
    content = h.xlsx(rows)
    started = time.monotonic()
    with pytest.raises(OmsError) as caught:
        await read_upload(content, SheetLimits(timeout_s=0.01))
    assert caught.value.code == "upload_too_slow" and time.monotonic() - started < QUICK
    assert len((await read_upload(content, SheetLimits())).rows) == 4000


def slowly_arriving_rows(monkeypatch: pytest.MonkeyPatch, pause_s: float) -> None:
    """CSV rows that take ``pause_s`` each to come, the reading thread idle meanwhile: what a read looks like when a
    busy machine gives its thread little of a core (or of the GIL), with no more work to do."""
    real = spreadsheets._csv_rows

    def slow(text: str, limits: SheetLimits) -> Iterator[tuple[Any, ...]]:
        for row in real(text, limits):
            time.sleep(pause_s)
            yield row

    monkeypatch.setattr(spreadsheets, "_csv_rows", slow)


async def test_a_read_slowed_by_a_busy_machine_is_not_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """R-STK-1 (stock upload): the time limit is what reading the file costs (CPU time of the reading thread),
    not how long the machine took: under load a 10,000-row stock list that reads in 0.6 s took over 15 s and was
    refused as too slow. Here 100 rows take over a second to arrive against a limit of half a second of work."""
    slowly_arriving_rows(monkeypatch, pause_s=0.01)
    content = b"sku,on_hand\n" + b"".join(f"A-{n},{n}\n".encode() for n in range(100))
    started = time.monotonic()
    sheet = await read_upload(content, SheetLimits(timeout_s=0.5), kind="csv")
    assert len(sheet.rows) == 100 and time.monotonic() - started > 0.5


async def test_a_read_that_waits_past_the_bound_on_waiting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """However little CPU it uses, a read is not waited for beyond ``wait_s``: refused, and its thread stops."""
    slowly_arriving_rows(monkeypatch, pause_s=0.05)
    content = b"sku,on_hand\n" + b"".join(f"A-{n},{n}\n".encode() for n in range(1000))
    with pytest.raises(OmsError) as caught:
        read_csv(content, SheetLimits(wait_s=0.2))
    assert caught.value.code == "upload_too_slow"


async def test_a_burst_of_uploads_is_read_two_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten uploads at once take two worker threads, not every core: the others wait for a slot."""
    running: list[int] = [0]
    most: list[int] = [0]
    lock = threading.Lock()

    def slow_read(content: bytes, limits: SheetLimits) -> Sheet:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return Sheet(header=("sku",))

    monkeypatch.setattr(spreadsheets, "read_xlsx", slow_read)
    sheets = await asyncio.gather(*(read_upload(b"", SheetLimits()) for _ in range(10)))
    assert len(sheets) == 10 and most[0] == spreadsheets.PARALLEL_READS == 2
