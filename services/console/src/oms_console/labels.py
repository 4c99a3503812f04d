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


def change_name(field: str | None) -> str:
    """What a per-line change was (R-ED-3)."""
    names = {
        "quantity": _("Quantity"),
        "price": _("Price"),
        "vat_rate": _("VAT rate"),
        "warehouse_id": _("Warehouse"),
        "added": _("Line added"),
        "deleted": _("Line deleted"),
        "cancelled": _("Cancelled in the ERP"),
        "shipped": _("Shipped"),
        "copied": _("Copied to part"),
        "moved": _("Moved to part"),
    }
    return names.get(field or "", field or "")


def side_name(side: str | None) -> str:
    names = {"buyer": _("buyer"), "supplier": _("supplier"), "erp": _("ERP"), "system": _("system")}
    return names.get(side or "", side or "")


def reserve_name(code: str | None) -> str:
    names = {
        "none": _("Not reserved"),
        "partial": _("Partly reserved"),
        "full": _("Reserved"),
        "reserved": _("Reserved"),
        "released": _("Released"),
    }
    return names.get(code or "", code or "")


def vat_mode_name(code: str | None) -> str:
    names = {"included": _("VAT included in prices"), "on_top": _("VAT on top of prices")}
    return names.get(code or "", code or "")


def needs_reason(status: str) -> bool:
    """Moving to these statuses asks for the reason (sent as the transition's comment)."""
    return status in ("rejected", "cancelled")
