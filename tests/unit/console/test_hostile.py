"""Bad input never makes a 500 or a trace: every answer is a page (or a redirect) in the user's language."""

from __future__ import annotations

import pytest

from tests.unit.console.builders import ORDER_ID, a_page, a_summary
from tests.unit.console.conftest import Console


@pytest.mark.parametrize(
    "path",
    [
        "/orders?page=-3&per_page=abc&sort=;drop&status=nonsense,new",
        "/orders?page=999999",
        "/orders?created_from=2026-13-45&total_max=1e999999&overdue=maybe",
        "/orders/not-a-uuid",
        "/orders/export.xlsx?created_to=yesterday",
        f"/orders/{ORDER_ID}/documents/not-a-uuid",
        "/nowhere",
    ],
)
def test_hostile_queries_get_pages_not_errors(console: Console, path: str) -> None:
    console.signed_in_as_staff()
    console.services.orders.get("/api/v1/orders").respond(200, json=a_page(a_summary()))
    answer = console.get(path)
    assert answer.status_code in (200, 404, 422), answer.status_code
    assert answer.headers["content-type"].startswith("text/html")
    assert "Traceback" not in answer.text


def test_an_overlong_form_field_is_a_page_and_nothing_is_sent(console: Console) -> None:
    console.signed_in_as_staff()
    added = console.services.orders.post(f"/api/v1/orders/{ORDER_ID}/comments").respond(201, json={})
    answer = console.post(f"/orders/{ORDER_ID}/comments", {"text": "я" * 5001})
    assert answer.status_code == 422
    assert "Не удалось прочитать форму" in answer.text
    assert not added.called


def test_a_form_over_the_body_limit_is_refused_before_it_is_read(console: Console) -> None:
    console.signed_in_as_staff()
    answer = console.post(f"/orders/{ORDER_ID}/comments", {"text": "x" * (2 * 1024 * 1024)})
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
