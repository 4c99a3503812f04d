"""R-UI-8: the inbox, its read marks, the badge that agrees with it, and the e-mail preferences."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.unit.console.builders import ORDER_ID, a_line, a_page, a_summary, an_order, names_answers
from tests.unit.console.conftest import Console

ORDER = "9d3c2b1a-8f7e-4d6c-b5a4-3e2d1c0b9a8f"
LINE = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"


def a_notification(n: int, *, read: bool = False, lines: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "notification_id": f"00000000-0000-4000-8000-{n:012d}",
        "order_id": ORDER,
        "order_number": "42",
        "kind": "lines_edited" if lines else "status_changed",
        "title": f"Заказ 42: изменение {n}",
        "body": "Поставщик изменил заказ 42.",
        "changed_line_ids": lines or [],
        "created_at": "2026-03-02T10:00:00+00:00",
        "read": read,
        **extra,
    }


def an_inbox(items: list[dict[str, Any]], *, total: int | None = None, unread: int = 0, offset: int = 0) -> dict:
    return {
        "items": items,
        "total": len(items) if total is None else total,
        "limit": 20,
        "offset": offset,
        "unread": unread,
        "unread_orders": 1 if unread else 0,
    }


def badge(html: str) -> str | None:
    found = re.search(r'id="inbox-badge">.*?(?:<span class="badge"[^>]*>(\d+)</span>)?\s*</a>', html, re.S)
    assert found is not None, "no badge in the header"
    return found.group(1)


def test_inbox_lists_notifications_with_links_to_the_order_and_line(console: Console) -> None:
    """R-UI-8, R-NT-2: each notification links to its order (at the changed line), unread ones are marked."""
    console.signed_in_as_staff(unread=2)
    console.services.notifications.get("/api/v1/notifications").respond(
        200, json=an_inbox([a_notification(1, lines=[LINE]), a_notification(2), a_notification(3, read=True)], unread=2)
    )
    page = console.get("/inbox")
    assert page.status_code == 200
    assert f'href="/orders/{ORDER}#line-{LINE}"' in page.text
    assert f'href="/orders/{ORDER}"' in page.text
    assert "Заказ 42: изменение 1" in page.text
    assert page.text.count('class="unread"') == 2
    assert page.text.count('class="read"') == 1
    assert "Изменение строк" in page.text  # the kind, in Russian
    assert "Отметить все прочитанными" in page.text


def test_the_badge_shows_the_same_count_as_the_inbox(console: Console) -> None:
    """R-UI-8: the header's badge and the inbox agree, even if the counts moved between the two calls."""
    console.signed_in_as_staff(unread=5)  # what the badge call answered a moment earlier
    console.services.notifications.get("/api/v1/notifications").respond(
        200, json=an_inbox([a_notification(1), a_notification(2), a_notification(3)], unread=3)
    )
    page = console.get("/inbox")
    assert badge(page.text) == "3"
    assert "3 непрочитанных уведомления" in page.text


def test_inbox_pages_and_filters_unread_in_the_url(console: Console) -> None:
    """R-UI-8: pages of 20, the "unread" filter kept in the links of the pager."""
    console.signed_in_as_staff(unread=45)
    route = console.services.notifications.get("/api/v1/notifications").respond(
        200, json=an_inbox([a_notification(n) for n in range(21, 41)], total=45, unread=45, offset=20)
    )
    page = console.get("/inbox?unread=1&page=2")
    sent = route.calls.last.request.url.params
    assert (sent["limit"], sent["offset"], sent["unread"]) == ("20", "20", "true")
    assert 'href="/inbox?unread=1" rel="prev"' in page.text
    assert 'href="/inbox?unread=1&amp;page=3" rel="next"' in page.text
    assert "21–40 из 45" in page.text


def test_mark_all_read_marks_and_the_badge_drops(console: Console) -> None:
    """R-UI-8: "mark all read" marks every notification of the user; the inbox then shows none unread."""
    console.signed_in_as_staff(unread=2)
    marked = console.services.notifications.post("/api/v1/notifications/read").respond(200, json={"marked": 2})
    answer = console.post("/inbox/read", {"all_read": "1", "back": "/inbox"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/inbox?done=all-read"
    assert json.loads(marked.calls.last.request.content) == {"all": True}
    assert marked.calls.last.request.headers["Idempotency-Key"]

    console.services.notifications.get("/api/v1/notifications").respond(
        200, json=an_inbox([a_notification(1, read=True), a_notification(2, read=True)], unread=0)
    )
    page = console.get(answer.headers["location"])
    assert badge(page.text) is None
    assert "Все уведомления отмечены прочитанными." in page.text
    assert 'class="unread"' not in page.text


def test_mark_one_read_sends_its_id(console: Console) -> None:
    """R-UI-8: one notification marked read, the user stays on the inbox page they were on."""
    console.signed_in_as_buyer(unread=1)
    marked = console.services.notifications.post("/api/v1/notifications/read").respond(200, json={"marked": 1})
    nid = a_notification(7)["notification_id"]
    answer = console.post("/inbox/read", {"notification_id": nid, "back": "/inbox?unread=1"})
    assert answer.headers["location"] == "/inbox?unread=1&done=read"
    assert json.loads(marked.calls.last.request.content) == {"notification_ids": [nid]}


def test_marking_read_goes_back_only_to_the_inbox(console: Console) -> None:
    """R-UI-8: the form's return address cannot send the user elsewhere."""
    console.signed_in_as_staff()
    console.services.notifications.post("/api/v1/notifications/read").respond(200, json={"marked": 0})
    answer = console.post("/inbox/read", {"all_read": "1", "back": "https://evil.example/inbox"})
    assert answer.headers["location"] == "/inbox?done=all-read"


def test_mark_read_needs_the_csrf_token(console: Console) -> None:
    """R-UI-8: the inbox's writes are CSRF-checked like every form."""
    console.signed_in_as_staff()
    marked = console.services.notifications.post("/api/v1/notifications/read").respond(200, json={"marked": 2})
    answer = console.client.post(
        "/inbox/read", data={"all_read": "1"}, headers={"Origin": "http://console.test"}, follow_redirects=False
    )
    assert answer.status_code == 403
    assert not marked.called


def test_english_inbox_is_english(console: Console) -> None:
    """R-UI-8, R-UI-1: the inbox in English."""
    console.client.cookies.set("oms_locale", "en", domain="console.test", path="/")
    console.signed_in_as_staff(unread=0)
    console.services.notifications.get("/api/v1/notifications").respond(200, json=an_inbox([]))
    page = console.get("/inbox")
    assert "No notifications yet." in page.text
    assert '<html lang="en">' in page.text


PREFS = {"email": {"new_order": True, "status_changed": True, "comment": False}}


def test_unsubscribe_link_asks_to_confirm_and_changes_nothing_on_get(console: Console) -> None:
    """R-UI-8, R-NT-2: the e-mail's link shows which kind is switched off, with a confirm button; GET writes
    nothing."""
    console.signed_in_as_buyer()
    console.services.notifications.get("/api/v1/preferences").respond(200, json=PREFS)
    written = console.services.notifications.put("/api/v1/preferences").respond(200, json=PREFS)
    page = console.get("/settings/notifications?unsubscribe=status_changed")
    assert page.status_code == 200
    assert "Отключить письма такого вида?" in page.text
    assert "Изменение статуса" in page.text
    assert 'name="unsubscribe" value="status_changed"' in page.text
    assert not written.called


def test_confirming_unsubscribe_turns_only_that_kind_off(console: Console) -> None:
    """R-UI-8: the confirm button turns off e-mails of that one kind."""
    console.signed_in_as_buyer()
    console.services.notifications.get("/api/v1/preferences").respond(200, json=PREFS)
    written = console.services.notifications.put("/api/v1/preferences").respond(200, json=PREFS)
    answer = console.post("/settings/notifications", {"unsubscribe": "status_changed"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/settings/notifications?done=unsubscribed"
    assert json.loads(written.calls.last.request.content) == {"email": {"status_changed": False}}
    page = console.get(answer.headers["location"])
    assert "Вы больше не будете получать письма такого вида." in page.text


def test_preferences_form_saves_every_switch(console: Console) -> None:
    """R-UI-8: the form shows each kind's switch as it is and saves all of them."""
    console.signed_in_as_staff()
    console.services.notifications.get("/api/v1/preferences").respond(200, json=PREFS)
    written = console.services.notifications.put("/api/v1/preferences").respond(200, json=PREFS)
    page = console.get("/settings/notifications")
    assert re.search(r'id="f-email_new_order" name="email_new_order" checked', page.text)
    assert re.search(r'id="f-email_comment" name="email_comment">', page.text)
    assert '<label for="f-email_comment">' in page.text
    answer = console.post("/settings/notifications", {"email_comment": "on"})
    assert answer.headers["location"] == "/settings/notifications?done=saved"
    assert json.loads(written.calls.last.request.content) == {
        "email": {"new_order": False, "status_changed": False, "comment": True}
    }


def test_unknown_kind_in_the_link_is_said_and_nothing_offered(console: Console) -> None:
    """R-UI-8: a link with a kind we do not send shows the form without a confirm button."""
    console.signed_in_as_buyer()
    console.services.notifications.get("/api/v1/preferences").respond(200, json=PREFS)
    page = console.get("/settings/notifications?unsubscribe=spam")
    assert page.status_code == 200
    assert 'name="unsubscribe"' not in page.text
    assert "Эта ссылка не называет вид писем" in page.text


def test_a_refused_unsubscribe_shows_the_reason(console: Console) -> None:
    """R-UI-8: an unknown kind posted is a message on the form in the user's language, nothing written."""
    console.signed_in_as_buyer()
    console.services.notifications.get("/api/v1/preferences").respond(200, json=PREFS)
    written = console.services.notifications.put("/api/v1/preferences").respond(200, json=PREFS)
    answer = console.post("/settings/notifications", {"unsubscribe": "spam"})
    assert answer.status_code == 422
    assert "Эта ссылка не называет вид писем" in answer.text
    assert not written.called


def test_every_form_carries_the_pages_csrf_token(console: Console) -> None:
    """R-UI-1: a form rendered by the ``csrf()`` macro carries the token of the browser's CSRF cookie, so a
    real browser's sign-in (and every other write) is accepted."""
    page = console.get("/login")
    token = console.client.cookies.get("oms_csrf")
    assert token
    login_form = page.text.split('action="/login"', 1)[1]
    assert f'name="csrf_token" value="{token}"' in login_form.split("</form>", 1)[0]


def unseen_answer(order_id: str = ORDER, line_id: str = LINE) -> dict[str, Any]:
    return {
        "unread": 2,
        "unread_orders": 1,
        "orders": [
            {
                "order_id": order_id,
                "order_number": "42",
                "unread": 2,
                "kinds": ["lines_edited"],
                "changed_line_ids": [line_id],
            }
        ],
    }


def test_order_list_marks_the_orders_changed_since_the_user_looked(console: Console) -> None:
    """R-UI-8, R-NT-2: a row of the order list carries a marker when its order has unseen changes; the badge
    and the markers come from one answer of the notifications service."""
    console.signed_in_as_staff()
    badge_route = console.services.notifications.get("/api/v1/notifications/unread").respond(
        200, json=unseen_answer(ORDER_ID)
    )
    other = "11111111-2222-4333-8444-555555555555"
    names_answers(console.services)
    console.services.orders.get("/api/v1/orders").respond(
        200, json=a_page(a_summary(order_id=ORDER_ID, number="42"), a_summary(order_id=other, number="43"))
    )
    page = console.get("/orders")
    assert page.status_code == 200
    rows = {r.split('href="/orders/')[1][:36]: r for r in page.text.split("<tr")[1:] if 'href="/orders/' in r}
    assert "2 непросмотренных изменения" in rows[ORDER_ID].split("</tr>")[0]
    assert 'data-marker="order"' not in rows[other].split("</tr>")[0]
    assert badge(page.text) == "2"
    assert badge_route.call_count == 1


def test_order_page_marks_the_lines_changed_since_the_user_looked(console: Console) -> None:
    """R-UI-8, R-NT-2: on the order page, the changed line carries "changed since you looked", the others not;
    having looked, the order's notifications are read."""
    console.signed_in_as_buyer()
    changed_line = a_line()["line_id"]
    still = "22222222-3333-4444-8555-666666666666"
    console.services.notifications.get("/api/v1/notifications/unread").respond(
        200, json=unseen_answer(ORDER_ID, changed_line)
    )
    names_answers(console.services)
    path = f"/api/v1/orders/{ORDER_ID}"
    order = an_order(lines=[a_line(), a_line(line_id=still, sku="NUT-M8")])
    console.services.orders.get(path).respond(200, json=order, headers={"ETag": '"3"'})
    for part in ("changes", "comments", "documents"):
        console.services.orders.get(f"{path}/{part}").respond(200, json={"items": []})
    marked = console.services.notifications.post("/api/v1/notifications/read").respond(200, json={"marked": 2})
    page = console.get(f"/orders/{ORDER_ID}")
    assert page.status_code == 200, page.text[:500]
    # Looking at the order reads its notifications: the badge drops, this page still shows what had changed.
    assert json.loads(marked.calls.last.request.content) == {"order_id": ORDER_ID}
    assert badge(page.text) is None
    changed = page.text.split(f'id="line-{changed_line}"')[1].split("</tr>")[0]
    unchanged = page.text.split(f'id="line-{still}"')[1].split("</tr>")[0]
    assert "Изменено с вашего последнего просмотра" in changed
    assert 'data-marker="line"' not in unchanged


def test_an_order_without_unseen_changes_is_not_marked_read_again(console: Console) -> None:
    """R-UI-8: opening an order with nothing unseen writes nothing to the notifications service."""
    console.signed_in_as_staff()
    names_answers(console.services)
    path = f"/api/v1/orders/{ORDER_ID}"
    console.services.orders.get(path).respond(200, json=an_order(), headers={"ETag": '"1"'})
    for part in ("changes", "comments", "documents"):
        console.services.orders.get(f"{path}/{part}").respond(200, json={"items": []})
    marked = console.services.notifications.post("/api/v1/notifications/read").respond(200, json={"marked": 0})
    assert console.get(f"/orders/{ORDER_ID}").status_code == 200
    assert not marked.called
