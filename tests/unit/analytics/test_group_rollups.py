"""The per-buyer and per-manager rollup deltas, without I/O (R-AN-1 grouped summaries)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from oms_analytics.domain import NO_GROUP, OrderChange, RollupDelta, apply_change


def t(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def a_change(seq: int, **kw: object) -> OrderChange:
    return OrderChange(order_id="o1", tenant_id="t1", stamp=(seq, t(1).isoformat()), **kw)  # type: ignore[arg-type]


def history_delta(*changes: OrderChange) -> RollupDelta:
    delta, facts = RollupDelta(), None
    for change in changes:
        new = apply_change(facts, change)
        delta.change(facts, new)
        facts = new
    return delta


PLACED = a_change(
    1,
    placed_at=t(2, 8),
    buyer_id="b1",
    status="new",
    status_at=t(2, 8),
    total_minor=10_000,
    responsible_known=True,
    responsible_user_id="m1",
)


def test_an_order_counts_for_its_buyer_and_its_manager_on_its_day() -> None:
    by_buyer, by_manager = history_delta(PLACED, a_change(2, status="confirmed", status_at=t(3))).nonzero_groups()
    assert by_buyer == {(date(2026, 11, 2), "b1", "confirmed", True, False, False): [1, 10_000, 0]}
    assert by_manager == {(date(2026, 11, 2), "m1", "confirmed", True, False, False): [1, 10_000, 0]}


def test_a_reassigned_order_leaves_its_old_manager_and_joins_the_new_one() -> None:
    delta = history_delta(
        PLACED,
        a_change(2, responsible_known=True, responsible_user_id="m2"),
        a_change(3, paid_minor=2_500),
    )
    _, by_manager = delta.nonzero_groups()
    assert by_manager == {(date(2026, 11, 2), "m2", "new", False, False, False): [1, 10_000, 2_500]}
    # Rows of the old manager that went back to zero are not written at all.
    assert delta.by_manager[(date(2026, 11, 2), "m1", "new", False, False, False)] == [0, 0, 0]


def test_an_order_without_a_manager_counts_under_no_group() -> None:
    delta = history_delta(PLACED, a_change(2, responsible_known=True, responsible_user_id=None))
    _, by_manager = delta.nonzero_groups()
    assert list(by_manager) == [(date(2026, 11, 2), NO_GROUP, "new", False, False, False)]


def test_an_order_moved_to_another_buyer_leaves_the_old_one() -> None:
    by_buyer, _ = history_delta(PLACED, a_change(2, buyer_id="b2")).nonzero_groups()
    assert by_buyer == {(date(2026, 11, 2), "b2", "new", False, False, False): [1, 10_000, 0]}


def test_an_order_not_placed_yet_is_in_no_rollup() -> None:
    delta = history_delta(a_change(2, status="confirmed", status_at=t(3), responsible_known=True))
    assert delta.nonzero_groups() == ({}, {})
