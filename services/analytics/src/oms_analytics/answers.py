"""The success answer of ``GET /summary`` for the OpenAPI document: its schema, and an example built by the
very code that builds the real answer (``figures.summary``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from oms_analytics.domain import STATUSES, ReportQuery
from oms_analytics.figures import OUTCOMES, Bucket, Medians, summary
from oms_shared.openapi import DATE, DECIMAL, INTEGER, NUMBER, STRING, array, nullable, obj, success

MONEY: dict[str, Any] = {**DECIMAL, "description": "money as text with two decimals"}
COUNT_SUM = obj({"count": INTEGER, "sum": MONEY})
OUTCOME = obj({"count": INTEGER, "sum": MONEY, "share": {**NUMBER, "description": "of all orders, 0..1"}})
FIGURES: dict[str, dict[str, Any]] = {
    "orders_count": INTEGER,
    "orders_sum": MONEY,
    "by_status": obj(dict.fromkeys(STATUSES, COUNT_SUM)),
    **dict.fromkeys(OUTCOMES, OUTCOME),
    "paid_sum": MONEY,
    "average_order": MONEY,
    "median_hours_to_confirm": nullable(NUMBER),
    "median_hours_to_ship": nullable(NUMBER),
    "overdue_count": INTEGER,
}
PERIOD = obj({"period": DATE, "count": INTEGER, "sum": MONEY, "confirmed": INTEGER, "shipped": INTEGER})
GROUP = obj({"key": nullable(STRING), "name": STRING, **FIGURES})
SUMMARY = obj(
    {
        "date_from": DATE,
        "date_to": DATE,
        "group_by": {"type": "string", "enum": ["none", "buyer", "manager"]},
        "interval": {"type": "string", "enum": ["day", "week", "month"]},
        **FIGURES,
        "series": {**array(PERIOD), "description": "one entry per period of the range, empty ones as zero"},
        "groups": {**array(GROUP), "description": "with group_by buyer or manager: biggest sum first"},
        "group_medians_omitted": {"type": "boolean", "description": "with group_by: groups left without medians"},
    },
    optional=("groups", "group_medians_omitted"),
)


def _example() -> dict[str, Any]:
    query = ReportQuery(date(2026, 3, 2), date(2026, 3, 15), group_by="buyer", interval="week")
    days = [
        Bucket("shipped", True, True, False, 3, 3_600_000, 3_600_000, day=date(2026, 3, 3)),
        Bucket("confirmed", True, False, True, 1, 1_200_000, 0, day=date(2026, 3, 10)),
    ]
    buyer = "7e6d5c4b-3a2f-4e1d-9c8b-a7f6e5d4c3b2"
    groups = [
        Bucket("shipped", True, True, False, 3, 3_600_000, 3_600_000, key=buyer),
        Bucket("confirmed", True, False, True, 1, 1_200_000, 0, key=buyer),
    ]
    medians = Medians(hours_to_confirm=2.5, hours_to_ship=30.0)
    body = summary(query, days, medians, groups, {buyer: medians}, {buyer: "ИП Покупатель"})
    body["group_medians_omitted"] = False
    return body


SUMMARY_ANSWER = success("The summary: figures, a series per period and, when grouped, the groups", SUMMARY, _example())
