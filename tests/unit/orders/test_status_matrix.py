"""The status matrix (R-ST-1): every (from, to, side) is either allowed for exactly the right side or refused."""

from __future__ import annotations

import itertools

import pytest

from oms_orders.domain import IllegalTransition, Side, Status, check_transition, next_statuses

N, E, AA, AG, C, SH, R, X = (
    Status.NEW,
    Status.EDITING,
    Status.AWAITING_APPROVAL,
    Status.AGREED,
    Status.CONFIRMED,
    Status.SHIPPED,
    Status.REJECTED,
    Status.CANCELLED,
)
SUP, BUY = Side.SUPPLIER, Side.BUYER

# The guide's matrix written out by hand: the supplier confirms, rejects, edits, sends for
# approval and ships; the buyer agrees or cancels.
LEGAL: set[tuple[Status, Status, Side]] = {
    (N, C, SUP), (N, R, SUP), (N, E, SUP), (N, X, BUY),
    (E, AA, SUP), (E, R, SUP), (E, X, BUY),
    (AA, AG, BUY), (AA, X, BUY), (AA, E, SUP), (AA, R, SUP),
    (AG, C, SUP), (AG, E, SUP), (AG, R, SUP), (AG, X, BUY),
    (C, SH, SUP), (C, E, SUP), (C, R, SUP), (C, X, BUY),
}  # fmt: skip

CASES = list(itertools.product(Status, Status, (SUP, BUY)))


@pytest.mark.parametrize(("current", "target", "side"), CASES, ids=[f"{a}->{b}:{s}" for a, b, s in CASES])
def test_status_matrix_allows_only_legal_moves_for_the_right_side(current: Status, target: Status, side: Side) -> None:
    """R-ST-1: the table covers every (from, to, side)."""
    if (current, target, side) in LEGAL:
        check_transition(current, target, side)
    else:
        with pytest.raises(IllegalTransition) as refused:
            check_transition(current, target, side)
        assert refused.value.code == "illegal_transition"
        assert refused.value.message  # a sentence a person can read


def test_final_statuses_never_move() -> None:
    """R-ST-1: shipped, rejected and cancelled are final for both sides."""
    for final in (SH, R, X):
        assert next_statuses(final, SUP) == [] and next_statuses(final, BUY) == []


def test_refusal_names_the_side_that_may_move() -> None:
    """R-ST-1: the buyer trying to confirm learns only the supplier may."""
    with pytest.raises(IllegalTransition, match="only the supplier"):
        check_transition(N, C, BUY)


def test_erp_and_system_act_with_supplier_rights() -> None:
    """R-ST-3: auto-confirmation (system) and the ERP follow the supplier's column."""
    check_transition(N, C, Side.SYSTEM)
    check_transition(C, SH, Side.ERP)
    with pytest.raises(IllegalTransition):
        check_transition(AA, AG, Side.SYSTEM)
