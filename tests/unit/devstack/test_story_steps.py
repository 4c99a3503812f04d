"""Demo steps show what their titles say: the shipped bad-rows file refused row by row, the status after the
buyer agrees, and status shares that add up."""

from __future__ import annotations

import io
import json
from importlib import resources
from typing import Any

import httpx
from openpyxl import load_workbook

from oms_devstack.story import BAD_ROWS, Actor, Story, chapter_excel_import, whole_percents


def test_the_bad_rows_file_ships_with_the_demo_and_is_a_real_spreadsheet() -> None:
    content = (resources.files("oms_devstack") / "data" / BAD_ROWS).read_bytes()
    sheet = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("SKU", "Warehouse", "Quantity")
    assert len(rows) == 6  # a header, a good row and four bad ones


def test_the_import_steps_show_each_refused_row_and_the_status_after_the_buyer_agrees() -> None:
    shipped = (resources.files("oms_devstack") / "data" / BAD_ROWS).read_bytes()
    status = {"o1": "editing"}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v1/imports/template.xlsx":
            return httpx.Response(200, content=b"PK", headers={"content-type": "application/vnd.ms-excel"})
        if path == "/api/v1/orders" and request.method == "GET":
            return httpx.Response(200, json={"total": 0, "items": []})
        if path == "/api/v1/orders/import":
            if shipped in request.content:
                details = [
                    {"row": 3, "sku": "BOLT-M8", "reasons": ["listed twice"]},
                    {"row": 6, "sku": "NOPE-404", "reasons": ["not in this price list"]},
                ]
                body = {"error": {"code": "invalid_lines", "message": "4 rows are not valid", "details": details}}
                return httpx.Response(422, json=body)
            if b"this is not a spreadsheet" in request.content:
                return httpx.Response(422, json={"error": {"code": "not_a_spreadsheet", "message": "no"}})
            return httpx.Response(201, json={"order_id": "o1", "number": "1005", "status": "editing", "lines": []})
        if path == "/api/v1/orders/o1" and request.method == "GET":
            return httpx.Response(200, json={"number": "1005", "status": status["o1"]}, headers={"etag": '"1"'})
        if path == "/api/v1/orders/o1/transitions":
            status["o1"] = json.loads(request.content)["to"]
            return httpx.Response(200, json={"number": "1005", "status": status["o1"]})
        raise AssertionError(f"unexpected {request.method} {path}")

    said: list[str] = []
    facts: dict[str, Any] = {"buyer_id": "b", "price_list_id": "p"}
    for who in ("supplier", "buyer"):
        actor = Actor(name=who, email=f"{who}@example.com", password="p")
        actor.signed_in({"access_token": who, "expires_in": 3600})
        facts[who] = actor
    client = httpx.Client(transport=httpx.MockTransport(handler))
    story = Story(urls={"orders": "http://orders"}, client=client, say=said.append, facts=facts)
    chapter_excel_import(story)

    text = "\n".join(said)
    assert "refused: row 3 (BOLT-M8): listed twice" in text
    assert "refused: row 6 (NOPE-404): not in this price list" in text
    assert "the buyer is asked to approve order 1005 ('awaiting_approval')" in text
    assert said[-1].strip() == "the buyer agreed: order 1005 is now 'agreed'"


def test_status_shares_add_up_to_a_hundred() -> None:
    """Three orders in three statuses are 33 + 33 + 34, never 99; nothing is 0 of 0."""
    assert sum(whole_percents({"new": 1, "confirmed": 1, "shipped": 1}).values()) == 100
    assert whole_percents({"new": 3, "shipped": 4}) == {"new": 43, "shipped": 57}
    assert whole_percents({}) == {} and whole_percents({"new": 0}) == {"new": 0}
