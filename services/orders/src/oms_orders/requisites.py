"""Checks of a Russian company's requisites: INN, KPP, BIC and bank account numbers (control digits included).

Pure functions; each returns the reason a value is wrong, or None when it is right (an empty value is allowed:
a profile is filled in step by step).
"""

from __future__ import annotations

import re

_INN10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_ACCOUNT_WEIGHTS = ((7, 1, 3) * 8)[:23]
_KPP = re.compile(r"^\d{4}[\dA-Z]{2}\d{3}$")


def _check_digit(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def inn_problem(inn: str) -> str | None:
    """10 digits (an organisation) or 12 (an individual entrepreneur), with valid control digits."""
    if not inn:
        return None
    if not inn.isdigit() or len(inn) not in (10, 12):
        return "INN must be 10 or 12 digits"
    if len(inn) == 10 and _check_digit(inn[:9], _INN10) != int(inn[9]):
        return "INN control digit does not match"
    if len(inn) == 12 and (
        _check_digit(inn[:10], _INN11) != int(inn[10]) or _check_digit(inn[:11], _INN12) != int(inn[11])
    ):
        return "INN control digits do not match"
    return None


def kpp_problem(kpp: str) -> str | None:
    """9 characters: 4 digits, 2 digits or capital letters, 3 digits."""
    if not kpp or _KPP.match(kpp):
        return None
    return "KPP must be 9 characters: 4 digits, 2 digits or letters, 3 digits"


def bic_problem(bic: str) -> str | None:
    if not bic or (bic.isdigit() and len(bic) == 9):
        return None
    return "BIC must be 9 digits"


def _account_key_ok(prefix: str, account: str) -> bool:
    digits = prefix + account
    return sum(int(d) * w % 10 for d, w in zip(digits, _ACCOUNT_WEIGHTS, strict=True)) % 10 == 0


def account_problem(account: str, bic: str) -> str | None:
    """A settlement account: 20 digits whose control key matches the bank's BIC."""
    if not account:
        return None
    if not account.isdigit() or len(account) != 20:
        return "the account number must be 20 digits"
    if bic and bic_problem(bic) is None and not _account_key_ok(bic[-3:], account):
        return "the account number does not match the bank's BIC"
    return None


def correspondent_problem(account: str, bic: str) -> str | None:
    """The bank's correspondent account: 20 digits starting 301, its key matching the BIC."""
    if not account:
        return None
    if not account.isdigit() or len(account) != 20 or not account.startswith("301"):
        return "the correspondent account must be 20 digits starting with 301"
    if bic and bic_problem(bic) is None and not _account_key_ok("0" + bic[4:6], account):
        return "the correspondent account does not match the bank's BIC"
    return None
