"""Names of the services' codes (statuses, payment states) in the user's language.

The tables hold the English names, marked for extraction with ``N_``; only the one name asked for is translated
(a list page asks for a few per row).
"""

from __future__ import annotations

from oms_console.i18n import N_, _

STATUSES = {
    "new": N_("New"),
    "editing": N_("Being edited"),
    "awaiting_approval": N_("Awaiting approval"),
    "agreed": N_("Agreed"),
    "confirmed": N_("Confirmed"),
    "shipped": N_("Shipped"),
    "rejected": N_("Rejected"),
    "cancelled": N_("Cancelled"),
}
PAYMENTS = {
    "unpaid": N_("Not paid"),
    "partial": N_("Partly paid"),
    "partially_paid": N_("Partly paid"),
    "paid": N_("Paid"),
    "overpaid": N_("Overpaid"),
}
TRANSITIONS = {
    "new": N_("Back to new"),
    "editing": N_("Start editing"),
    "awaiting_approval": N_("Send for approval"),
    "agreed": N_("Agree"),
    "confirmed": N_("Confirm"),
    "shipped": N_("Mark shipped"),
    "rejected": N_("Reject"),
    "cancelled": N_("Cancel the order"),
}
CHANGES = {
    "quantity": N_("Quantity"),
    "price": N_("Price"),
    "vat_rate": N_("VAT rate"),
    "warehouse_id": N_("Warehouse"),
    "added": N_("Line added"),
    "deleted": N_("Line deleted"),
    "cancelled": N_("Cancelled in the ERP"),
    "shipped": N_("Shipped"),
    "copied": N_("Copied to part"),
    "moved": N_("Moved to part"),
}
SIDES = {"buyer": N_("buyer"), "supplier": N_("supplier"), "erp": N_("ERP"), "system": N_("system")}
RESERVES = {
    "none": N_("Not reserved"),
    "partial": N_("Partly reserved"),
    "full": N_("Reserved"),
    "reserved": N_("Reserved"),
    "released": N_("Released"),
}
VAT_MODES = {"included": N_("VAT included in prices"), "on_top": N_("VAT on top of prices")}


def _named(names: dict[str, str], code: str | None) -> str:
    """The translated name of ``code``, or the code itself when it has none."""
    name = names.get(code or "")
    return _(name) if name is not None else code or ""


def status_name(code: str | None) -> str:
    return _named(STATUSES, code)


def payment_name(code: str | None) -> str:
    return _named(PAYMENTS, code)


def transition_name(code: str) -> str:
    """The button that moves an order to status ``code``."""
    return _named(TRANSITIONS, code)


def change_name(field: str | None) -> str:
    """What a per-line change was (R-ED-3)."""
    return _named(CHANGES, field)


def side_name(side: str | None) -> str:
    return _named(SIDES, side)


def reserve_name(code: str | None) -> str:
    return _named(RESERVES, code)


def vat_mode_name(code: str | None) -> str:
    return _named(VAT_MODES, code)


def needs_reason(status: str) -> bool:
    """Moving to these statuses asks for the reason (sent as the transition's comment)."""
    return status in ("rejected", "cancelled")
