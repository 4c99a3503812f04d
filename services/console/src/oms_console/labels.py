"""Names of the services' codes (statuses, payment states) in the user's language."""

from __future__ import annotations

from oms_console.i18n import _


def status_name(code: str | None) -> str:
    names = {
        "new": _("New"),
        "editing": _("Being edited"),
        "awaiting_approval": _("Awaiting approval"),
        "agreed": _("Agreed"),
        "confirmed": _("Confirmed"),
        "shipped": _("Shipped"),
        "rejected": _("Rejected"),
        "cancelled": _("Cancelled"),
    }
    return names.get(code or "", code or "")


def payment_name(code: str | None) -> str:
    names = {
        "unpaid": _("Not paid"),
        "partial": _("Partly paid"),
        "partially_paid": _("Partly paid"),
        "paid": _("Paid"),
        "overpaid": _("Overpaid"),
    }
    return names.get(code or "", code or "")


def transition_name(code: str) -> str:
    """The button that moves an order to status ``code``."""
    names = {
        "new": _("Back to new"),
        "editing": _("Start editing"),
        "awaiting_approval": _("Send for approval"),
        "agreed": _("Agree"),
        "confirmed": _("Confirm"),
        "shipped": _("Mark shipped"),
        "rejected": _("Reject"),
        "cancelled": _("Cancel the order"),
    }
    return names.get(code, code)
