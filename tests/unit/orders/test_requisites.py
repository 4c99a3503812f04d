"""The company profile's requisites are checked with their control digits (R-UI-11)."""

from __future__ import annotations

from oms_orders.requisites import account_problem, bic_problem, correspondent_problem, inn_problem, kpp_problem

BIC = "044525225"


def test_real_requisites_pass_and_one_wrong_digit_is_caught() -> None:
    """R-UI-11: an organisation's INN, an entrepreneur's INN, a KPP, a BIC and both accounts of a real bank."""
    assert inn_problem("7707083893") is None
    assert inn_problem("500100732259") is None
    assert kpp_problem("773601001") is None
    assert bic_problem(BIC) is None
    assert account_problem("40702810938000012345", BIC) is None
    assert correspondent_problem("30101810400000000225", BIC) is None

    assert inn_problem("7707083894") is not None
    assert inn_problem("500100732258") is not None
    assert account_problem("40702810038000012345", BIC) is not None
    assert correspondent_problem("30101810400000000226", BIC) is not None


def test_wrong_shapes_are_refused_and_empty_values_are_allowed() -> None:
    """R-UI-11: lengths and characters are checked; a profile may be filled in step by step."""
    assert inn_problem("77070838") is not None and inn_problem("77070838ab") is not None
    assert kpp_problem("77360100") is not None
    assert bic_problem("04452522") is not None
    assert account_problem("4070281093800001234", BIC) is not None
    assert correspondent_problem("40702810938000012345", BIC) is not None  # not a 301… account
    assert all(check("") is None for check in (inn_problem, kpp_problem, bic_problem))
    assert account_problem("", BIC) is None and correspondent_problem("", BIC) is None
