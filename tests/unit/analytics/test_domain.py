"""The analytics read model and report parameters, without I/O."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from oms_analytics.domain import (
    OrderChange,
    ReportError,
    RollupDelta,
    apply_change,
    histogram_median,
    hours_bin,
    parse_details_query,
    parse_report_query,
    periods,
    to_minor,
)
from oms_analytics.figures import Bucket, Medians, figures, median, series


def t(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def a_change(seq: int, **kw: object) -> OrderChange:
    return OrderChange(order_id="o1", tenant_id="t1", stamp=(seq, t(1).isoformat()), **kw)  # type: ignore[arg-type]


def test_a_placed_then_confirmed_order_has_its_milestones_and_hours() -> None:
    facts = apply_change(None, a_change(1, placed_at=t(2, 8), status="new", status_at=t(2, 8), total_minor=10_000))
    facts = apply_change(facts, a_change(2, status="confirmed", status_at=t(2, 20)))
    facts = apply_change(facts, a_change(3, status="shipped", status_at=t(4, 20)))
    assert facts.status == "shipped"
    assert facts.hours_to_confirm == 12.0
    assert facts.hours_to_ship == 48.0
    assert facts.placed_day == date(2026, 11, 2)


def test_events_in_any_order_give_the_same_order() -> None:
    """Order-insensitive updates: a late older event never overwrites a newer fact."""
    changes = [
        a_change(1, placed_at=t(2), status="new", status_at=t(2), total_minor=500),
        a_change(2, status="confirmed", status_at=t(3)),
        a_change(3, paid_minor=200),
        a_change(4, status="rejected", status_at=t(4)),
        a_change(5, overdue=True),
    ]
    forward = None
    for c in changes:
        forward = apply_change(forward, c)
    backward = None
    for c in reversed(changes):
        backward = apply_change(backward, c)
    assert forward == backward
    assert forward is not None
    assert (forward.status, forward.paid_minor, forward.overdue) == ("rejected", 200, True)
    assert forward.confirmed_at == t(3)


def test_a_repeated_event_changes_nothing() -> None:
    once = apply_change(None, a_change(1, placed_at=t(2), status="new", status_at=t(2), total_minor=500))
    once = apply_change(once, a_change(2, paid_minor=300))
    assert apply_change(once, a_change(2, paid_minor=300)) == once


def test_a_status_change_clears_overdue_until_the_next_overdue_event() -> None:
    facts = apply_change(None, a_change(1, status="confirmed", status_at=t(2)))
    facts = apply_change(facts, a_change(2, overdue=True))
    assert facts.overdue
    facts = apply_change(facts, a_change(3, status="shipped", status_at=t(5)))
    assert not facts.overdue


def test_money_is_kept_in_exact_hundredths() -> None:
    assert to_minor(Decimal("0.1") + Decimal("0.2")) == 30
    assert to_minor("125.505") == 12551


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((None, "2026-11-30"), "date_range_missing"),
        (("", "2026-11-30"), "date_range_missing"),
        (("2026-02-30", "2026-11-30"), "invalid_date"),
        (("2026-11-30", "2026-11-01"), "date_range_inverted"),
        (("2021-11-01", "2026-11-01"), "date_range_too_long"),
        (("2026-11-01", "2026-11-30", "region"), "unknown_group_by"),
        (("2026-11-01", "2026-11-30", "buyer", "year"), "unknown_interval"),
    ],
)
def test_bad_report_parameters_are_refused_with_a_reason(args: tuple[str | None, ...], code: str) -> None:
    with pytest.raises(ReportError) as err:
        parse_report_query(*args)
    assert err.value.code == code


def test_five_years_less_a_day_is_allowed() -> None:
    q = parse_report_query("2021-11-01", "2026-10-31", "MANAGER", "month")
    assert (q.group_by, q.interval) == ("manager", "month")


def test_periods_cover_the_range_by_week_and_month() -> None:
    assert periods(date(2026, 11, 25), date(2026, 12, 3), "week") == [date(2026, 11, 23), date(2026, 11, 30)]
    assert periods(date(2026, 11, 25), date(2027, 1, 1), "month") == [
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
    ]


def test_a_details_period_is_clipped_to_the_range() -> None:
    q = parse_report_query("2026-11-05", "2026-11-30", interval="month")
    dq = parse_details_query(q, figure="new", period="2026-11-01", sort="-total")
    assert (dq.figure, dq.period_from, dq.period_to, dq.sort, dq.descending) == (
        "status:new",
        date(2026, 11, 5),
        date(2026, 11, 30),
        "total",
        True,
    )


def test_figures_count_reached_and_final_statuses() -> None:
    buckets = [
        Bucket("shipped", True, True, False, 2, 30_000, 30_000, day=date(2026, 11, 2)),
        Bucket("cancelled", True, False, False, 1, 5_000, 0, day=date(2026, 11, 3)),
        Bucket("new", False, False, True, 1, 1_000, 0, day=date(2026, 11, 10)),
    ]
    f = figures(buckets, Medians(1.234, None))
    assert (f["orders_count"], f["orders_sum"], f["paid_sum"], f["average_order"]) == (4, "360.00", "300.00", "90.00")
    assert f["confirmed"] == {"count": 3, "sum": "350.00", "share": 0.75}
    assert f["shipped"] == {"count": 2, "sum": "300.00", "share": 0.5}
    assert f["cancelled"]["count"] == 1
    assert f["overdue_count"] == 1
    assert f["median_hours_to_confirm"] == 1.23
    assert f["median_hours_to_ship"] is None
    weekly = series(buckets, parse_report_query("2026-11-01", "2026-11-15", interval="week"))
    assert [(p["period"], p["count"]) for p in weekly] == [("2026-10-26", 0), ("2026-11-02", 3), ("2026-11-09", 1)]


def test_an_empty_summary_has_zero_figures() -> None:
    f = figures([], Medians())
    assert (f["orders_count"], f["orders_sum"], f["average_order"], f["confirmed"]["share"]) == (0, "0.00", "0.00", 0.0)
    assert median([3.0, 1.0, 2.0, 10.0]) == 2.5


def test_rollup_deltas_of_an_order_history_add_up_to_its_final_state() -> None:
    """The daily rollups follow every change of an order: after all deltas only its final state counts."""
    history = [
        a_change(1, placed_at=t(2, 8), status="new", status_at=t(2, 8), total_minor=10_000),
        a_change(2, status="confirmed", status_at=t(2, 20)),
        a_change(3, paid_minor=4_000),
        a_change(4, status="shipped", status_at=t(4, 20)),
    ]
    delta, facts = RollupDelta(), None
    for change in history:
        new = apply_change(facts, change)
        delta.change(facts, new)
        facts = new
    daily, hours = delta.nonzero()
    assert daily == {(date(2026, 11, 2), "shipped", True, True, False): [1, 10_000, 4_000]}
    assert hours == {
        (date(2026, 11, 2), "confirm", hours_bin(12.0)): 1,
        (date(2026, 11, 2), "ship", hours_bin(48.0)): 1,
    }


def test_a_histogram_median_is_within_two_and_a_half_percent() -> None:
    rng = random.Random(1)
    values = [rng.uniform(0.1, 200) for _ in range(5001)]
    bins: dict[int, int] = {}
    for v in values:
        bins[hours_bin(v)] = bins.get(hours_bin(v), 0) + 1
    exact = median(values)
    approx = histogram_median(bins)
    assert exact is not None and approx is not None
    assert abs(approx - exact) / exact < 0.025
    assert histogram_median({}) is None
