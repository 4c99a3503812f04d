"""R-UI-4: the order page — everything of the order, its parts, timeline, comments, documents, and only the
status changes the orders service offers this user; writes send If-Match and an Idempotency-Key (R-ED-4)."""

from __future__ import annotations

import json
import re
from html import unescape

import httpx
import respx
from fastapi.testclient import TestClient

from oms_console.app import create_app
from oms_console.settings import Settings
from tests.unit.console.builders import ORDER_ID, PART_ID, a_line, an_order
from tests.unit.console.conftest import CONSOLE, Console, Services, me_answers_after

ORDER = f"/api/v1/orders/{ORDER_ID}"


def answer_order(console: Console, order: dict[str, object] | None = None, *, version: int = 3) -> respx.Route:
    """The order, its changes, comments and documents; returns the order's route."""
    services = console.services
    route = services.orders.get(ORDER).respond(200, json=order or an_order(), headers={"ETag": f'"{version}"'})
    services.orders.get(f"{ORDER}/changes").respond(200, json={"items": []})
    services.orders.get(f"{ORDER}/comments").respond(200, json={"items": []})
    services.orders.get(f"{ORDER}/documents").respond(200, json={"items": []})
    return route


def form_value(html: str, name: str, form_action: str) -> str:
    form = html.split(f'action="{form_action}"', 1)[1].split("</form>", 1)[0]
    match = re.search(rf'name="{name}" value="([^"]*)"', form)
    assert match, name
    return match.group(1).replace("&#34;", '"').replace("&quot;", '"')


def test_the_page_shows_the_order_lines_people_dates_payment_and_history(console: Console) -> None:
    """R-UI-4: header, buyer/supplier, responsible by name, dates, payment, lines with product names, units,
    prices, VAT and sums; the history with people's names; comments and documents."""
    console.signed_in_as_staff()
    answer_order(
        console,
        an_order(
            paid_amount="600",
            history=[
                {"from": None, "to": "new", "by_user_name": "Иван Смирнов", "by_side": "buyer",
                 "at": "2026-12-01T09:15:00+00:00", "comment": ""},
                {"from": "new", "to": "editing", "by_user_name": "Мария Менеджер", "by_side": "supplier",
                 "at": "2026-12-01T10:00:00+00:00", "comment": "уточняем цены"},
            ],
        ),
    )  # fmt: skip
    console.services.orders.get(f"{ORDER}/changes").respond(
        200,
        json={"items": [{"line_id": "l", "sku": "A-100", "field": "quantity", "old": "12", "new": "10",
                         "by_user_name": "Мария Менеджер", "by_side": "supplier", "at": "2026-12-01T10:05:00+00:00"}]},
    )  # fmt: skip
    console.services.orders.get(f"{ORDER}/comments").respond(
        200,
        json={"items": [{"comment_id": "c", "author_name": "Иван Смирнов", "author_side": "buyer",
                         "text": "Прошу отгрузить до 22-го", "at": "2026-12-01T11:00:00+00:00"}]},
    )  # fmt: skip
    console.services.orders.get(f"{ORDER}/documents").respond(
        200,
        json={"items": [{"document_id": "5b3c2b1a-8f7e-4d6c-b5a4-3e2d1c0b9a8f", "file_name": "счёт.pdf",
                         "uploaded_by_name": "Мария Менеджер", "at": "2026-12-01T12:00:00+00:00"}]},
    )  # fmt: skip
    page = console.get(f"/orders/{ORDER_ID}")
    assert page.status_code == 200
    text = page.text.replace("\u00a0", " ").replace("\u202f", " ")
    for expected in (
        "Заказ 42",
        "ИП Смирнов",
        "ООО Ромашка",
        "Мария Менеджер",  # responsible, by name
        "Склад Москва",  # the line's warehouse, by name
        "Болт М8",
        "шт",
        "120,00 ₽",
        "1 200,00 ₽",
        "1 000,00 ₽",  # without VAT
        "200,00 ₽",  # VAT
        "22.12.2026",  # desired shipment date
        "600,00 ₽",
        "Оплачен частично",
        "Статус: Новый → Редактируется",
        "уточняем цены",
        "Прошу отгрузить до 22-го",
        "счёт.pdf",
        "<del>12</del>",
        "<ins>10</ins>",
    ):
        assert expected in text, expected


def test_the_order_is_asked_for_together_with_the_user(console: Console) -> None:
    """R-UI-4: the order, its changes, comments and documents do not wait for the user's own answer."""
    console.signed_in_as_staff()
    asked = me_answers_after(console, answer_order(console))
    page = console.get(f"/orders/{ORDER_ID}")
    assert page.status_code == 200 and "Болт М8" in page.text
    assert sorted(asked) == sorted(["/api/v1/me", ORDER])


def test_only_the_transitions_the_service_allows_are_offered(console: Console) -> None:
    """R-UI-4 / R-ST-1: the console offers exactly the order's next_statuses for this user — nothing else."""
    console.signed_in_as_buyer()
    answer_order(console, an_order(next_statuses=["cancelled"]))
    html = console.get(f"/orders/{ORDER_ID}").text
    offered = re.findall(r'name="to" value="([a-z_]+)"', html)
    assert offered == ["cancelled"]
    assert "Отменить заказ" in html and "Причина" in html

    answer_order(console, an_order(status="shipped", next_statuses=[]))
    html = console.get(f"/orders/{ORDER_ID}").text
    assert 'name="to"' not in html


def test_a_status_change_sends_if_match_idempotency_key_and_reason(console: Console) -> None:
    """R-UI-4: the button sends the version the page showed (If-Match), an Idempotency-Key made with the form,
    and the reason; then the page again with a confirmation."""
    console.signed_in_as_staff()
    answer_order(console)
    html = console.get(f"/orders/{ORDER_ID}").text
    action = f"/orders/{ORDER_ID}/transitions"
    etag, key = form_value(html, "etag", action), form_value(html, "idempotency_key", action)
    transition = console.services.orders.post(f"{ORDER}/transitions").respond(200, json=an_order(status="rejected"))
    answer = console.post(action, {"to": "rejected", "comment": "нет товара", "etag": etag, "idempotency_key": key})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/orders/{ORDER_ID}?done=status"
    sent = transition.calls.last.request
    assert sent.headers["If-Match"] == '"3"'
    assert sent.headers["Idempotency-Key"] == key
    assert json.loads(sent.content) == {"to": "rejected", "comment": "нет товара"}
    assert "Статус изменён." in console.get(answer.headers["location"]).text


def test_a_rejection_without_a_reason_is_asked_for_it_and_nothing_is_sent(console: Console) -> None:
    """R-UI-4: reject and cancel ask for the reason; the page says so next to the field."""
    console.signed_in_as_staff()
    answer_order(console)
    transition = console.services.orders.post(f"{ORDER}/transitions").respond(200, json=an_order())
    answer = console.post(f"/orders/{ORDER_ID}/transitions", {"to": "rejected", "comment": " ", "etag": '"3"'})
    assert answer.status_code == 422
    assert "Укажите причину." in answer.text
    assert not transition.called


def test_someone_elses_change_is_a_conflict_with_a_reload(console: Console) -> None:
    """R-ED-4: a 412 from the service says someone changed the order, offers a reload and keeps the text."""
    console.signed_in_as_staff()
    answer_order(console)
    console.services.orders.post(f"{ORDER}/transitions").respond(
        412,
        json={"error": {"code": "stale_version", "message": "the order changed", "details": {"current_version": 4}}},
    )
    answer = console.post(
        f"/orders/{ORDER_ID}/transitions", {"to": "confirmed", "comment": "подтверждаю", "etag": '"3"'}
    )
    assert answer.status_code == 412
    assert "Пока вы смотрели заказ, его изменил кто-то другой" in answer.text
    assert f'href="/orders/{ORDER_ID}"' in answer.text
    assert "подтверждаю" in answer.text


def test_a_refused_transition_keeps_the_page_and_says_why(console: Console) -> None:
    """R-UI-4: the status matrix refused (409): the page stays, with a message; nothing half-done."""
    console.signed_in_as_staff()
    answer_order(console)
    console.services.orders.post(f"{ORDER}/transitions").respond(
        409, json={"error": {"code": "illegal_transition", "message": "cannot go", "details": None}}
    )
    answer = console.post(f"/orders/{ORDER_ID}/transitions", {"to": "confirmed", "comment": "", "etag": '"3"'})
    assert answer.status_code == 422
    assert "Сейчас так изменить статус нельзя." in answer.text


def test_comments_are_added_and_an_empty_one_is_refused_with_the_text_kept(console: Console) -> None:
    """R-UI-4: comments (list + add); a refusal keeps what the user typed next to the field."""
    console.signed_in_as_buyer()
    answer_order(console)
    added = console.services.orders.post(f"{ORDER}/comments").respond(201, json={"comment_id": "c"})
    answer = console.post(f"/orders/{ORDER_ID}/comments", {"text": "  Когда отгрузка?  ", "idempotency_key": "k-1"})
    assert answer.status_code == 303
    assert json.loads(added.calls.last.request.content) == {"text": "Когда отгрузка?"}
    assert added.calls.last.request.headers["Idempotency-Key"] == "k-1"

    refused = console.post(f"/orders/{ORDER_ID}/comments", {"text": "   "})
    assert refused.status_code == 422
    assert "Напишите комментарий." in refused.text

    console.services.orders.post(f"{ORDER}/comments").respond(
        403, json={"error": {"code": "forbidden", "message": "no rights", "details": None}}
    )
    denied = console.post(f"/orders/{ORDER_ID}/comments", {"text": "Мой вопрос"})
    assert denied.status_code == 422
    assert "Мой вопрос" in denied.text and "У вас нет к этому доступа." in denied.text


def test_documents_are_uploaded_and_downloaded_through_the_console(console: Console) -> None:
    """R-UI-4: documents: upload to the orders service, download with its name and type."""
    console.signed_in_as_staff()
    answer_order(console)
    upload = console.services.orders.post(f"{ORDER}/documents").respond(201, json={"document_id": "d"})
    answer = console.post(
        f"/orders/{ORDER_ID}/documents",
        {"idempotency_key": "k-2"},
        files={"file": ("акт.pdf", b"%PDF-1.4", "application/pdf")},
    )
    assert answer.status_code == 303
    sent = upload.calls.last.request
    assert b"%PDF-1.4" in sent.content and "акт.pdf".encode() in sent.content
    assert sent.headers["Idempotency-Key"] == "k-2"

    doc = "5b3c2b1a-8f7e-4d6c-b5a4-3e2d1c0b9a8f"
    console.services.orders.get(f"{ORDER}/documents/{doc}").respond(
        200,
        content=b"%PDF-1.4",
        headers={"Content-Type": "application/pdf", "Content-Disposition": "attachment; filename*=UTF-8''%D0%B0.pdf"},
    )
    download = console.get(f"/orders/{ORDER_ID}/documents/{doc}")
    assert download.status_code == 200
    assert download.content == b"%PDF-1.4"
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''%D0%B0.pdf"

    empty = console.post(f"/orders/{ORDER_ID}/documents", {}, files={"file": ("пусто.txt", b"", "text/plain")})
    assert empty.status_code == 422 and "Выберите файл." in empty.text


def test_parts_are_shown_with_their_lines(console: Console) -> None:
    """R-UI-4: an order split into parts shows each part, its status and its lines."""
    console.signed_in_as_staff()
    answer_order(console, an_order(part_ids=[PART_ID]))
    console.services.orders.get(f"/api/v1/orders/{PART_ID}").respond(
        200,
        json=an_order(order_id=PART_ID, number="42-2", status="confirmed", lines=[a_line(name="Гайка М8")]),
        headers={"ETag": '"1"'},
    )
    html = console.get(f"/orders/{ORDER_ID}").text
    assert "Заказ 42-2" in html and "Гайка М8" in html and f'href="/orders/{PART_ID}"' in html


def test_an_order_of_another_account_is_not_found(console: Console) -> None:
    """R-UI-4: the service answers 404 for another account's order; the page says "not found"."""
    console.signed_in_as_staff()
    for path in ("", "/changes", "/comments", "/documents"):
        console.services.orders.get(f"{ORDER}{path}").respond(
            404, json={"error": {"code": "order_not_found", "message": "no such order", "details": None}}
        )
    page = console.get(f"/orders/{ORDER_ID}")
    assert page.status_code == 404
    assert "Не найдено" in page.text


def test_the_russian_order_page_has_no_english(console: Console) -> None:
    """R-UI-4: every word the console itself writes on the page is Russian."""
    console.signed_in_as_staff()
    answer_order(console)
    html = console.get(f"/orders/{ORDER_ID}").text
    visible = unescape(re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", html, flags=re.S))
    words = set(re.findall(r"[A-Za-z]{3,}", visible))
    assert words <= {"OMS", "PDF"}, words  # names, not English words


def test_a_service_down_while_loading_the_order_is_a_friendly_page(console: Console) -> None:
    """R-UI-4: the orders service not answering is a page that says so, never a trace."""
    console.signed_in_as_staff()
    answer_order(console)
    console.services.orders.get(f"{ORDER}/comments").mock(side_effect=httpx.ReadTimeout("slow"))
    page = console.get(f"/orders/{ORDER_ID}")
    assert page.status_code == 503 and "Часть системы не отвечает" in page.text


def test_a_file_over_the_limit_is_refused_with_a_page_not_json(services: Services, console_settings: Settings) -> None:
    """R-UI-4: a file above the upload limit never reaches the service: said next to the field, or (far above
    the limit, refused before it is read) on a page in the user's language."""
    settings = console_settings.model_copy(update={"max_upload_bytes": 1000})
    with TestClient(create_app(settings), base_url=CONSOLE, raise_server_exceptions=False) as client:
        console = Console(client, services).signed_in_as_staff()
        answer_order(console)
        upload = services.orders.post(f"{ORDER}/documents").respond(201, json={"document_id": "d"})
        near = console.post(f"/orders/{ORDER_ID}/documents", {}, files={"file": ("a.bin", b"x" * 2000, "x/y")})
        assert near.status_code == 422 and "Файл больше 1 КБ." in near.text
        far = console.post(f"/orders/{ORDER_ID}/documents", {}, files={"file": ("a.bin", b"x" * 200_000, "x/y")})
        assert far.status_code == 413
        assert far.headers["content-type"].startswith("text/html")
        assert "Файл слишком большой." in far.text
        assert not upload.called


def test_staff_set_shipment_date_payment_and_responsible_with_if_match(console: Console) -> None:
    """R-UI-4 / R-PF-2/3: only what changed is sent, with the page's version as If-Match."""
    console.signed_in_as_staff()
    answer_order(console)
    html = console.get(f"/orders/{ORDER_ID}").text
    assert "Мария Менеджер" in html.split('id="f-responsible"', 1)[1]
    profile = console.services.orders.patch(f"{ORDER}/profile").respond(200, json=an_order())
    form = {
        "shipment_date": "2026-12-20",
        "paid_amount": "1 200,5",
        "responsible_user_id": "0b7e6c1a-3f2d-4e5a-9b8c-7d6e5f4a3b2c",
        "orig_shipment_date": "",
        "orig_paid_amount": "0",
        "orig_responsible_user_id": "0b7e6c1a-3f2d-4e5a-9b8c-7d6e5f4a3b2c",
        "etag": '"3"',
        "idempotency_key": "k-3",
    }
    answer = console.post(f"/orders/{ORDER_ID}/profile", form)
    assert answer.status_code == 303
    sent = profile.calls.last.request
    assert json.loads(sent.content) == {"shipment_date": "2026-12-20", "paid_amount": "1200.50"}
    assert sent.headers["If-Match"] == '"3"'

    wrong = console.post(f"/orders/{ORDER_ID}/profile", {**form, "paid_amount": "-5"})
    assert wrong.status_code == 422
    assert "Введите сумму." in wrong.text and 'value="-5"' in wrong.text
    assert profile.call_count == 1


def test_buyers_get_no_profile_form(console: Console) -> None:
    """R-PF-2: shipment date and payment are the supplier's."""
    console.signed_in_as_buyer()
    answer_order(console)
    assert "/profile" not in console.get(f"/orders/{ORDER_ID}").text


def test_a_finished_order_can_be_hidden_from_ones_list(console: Console) -> None:
    """R-LS-2: cancelled, shipped or rejected orders offer "hide from my list"; others do not."""
    console.signed_in_as_buyer()
    answer_order(console)
    assert "/hide" not in console.get(f"/orders/{ORDER_ID}").text
    answer_order(console, an_order(status="cancelled", next_statuses=[]))
    assert "/hide" in console.get(f"/orders/{ORDER_ID}").text
    hide = console.services.orders.delete(ORDER).respond(204)
    answer = console.post(f"/orders/{ORDER_ID}/hide", {"etag": '"3"', "idempotency_key": "k-4"})
    assert answer.status_code == 303 and answer.headers["location"] == "/orders?done=hidden"
    assert hide.calls.last.request.headers["If-Match"] == '"3"'
