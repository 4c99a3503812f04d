"""Who may do what: the authorization table of every route of every service (SPEC R-ACC-1..4).

This table is the documentation of access rights; the test beside it (``test_matrix.py``) calls every route as
every role and fails when an answer differs from the table, or when a route has no row. Adding a route means
adding its row here: one line.

Roles (two tenants, A and Z):
  owner        the owner of supplier A (all rights, R-ACC-1)
  restricted   a manager of A with full access to orders, change to buyers, restricted to their own buyers
               (R-ACC-1); the order under test belongs to a buyer that is not theirs
  reader       a manager of A with read access to buyers and orders
  buyer        the user of buyer B1, whose order is under test (R-ACC-4)
  other_buyer  the user of buyer B2, another buyer of A (R-ACC-4)
  stranger     the owner of supplier Z, another tenant (R-ACC-4)
  anonymous    no token; expired: A's owner with an expired token; forged: A's owner signed by another key

Answers are classes: 2xx, 401, 403, 404 (also for what exists but is not the caller's: its existence is not
told), 4xx (the caller got past the access check and the request was refused on its merits: 400, 409, 412,
413, 415, 422).

Another account's ids answer 404 everywhere, exactly as unknown ones (R-ACC-4; ADR 012): the stranger, and a
buyer given its supplier's or another buyer's ids. A 403 says what the caller's role or level may not do, and is
the same whatever the id: a buyer on a supplier's route, a manager below the level the route needs, a manager
restricted to their own buyers on another buyer of the same supplier (orders says ``not_your_buyer``; inventory
hides those orders, 404). Ids in a body that are not the caller's are unknown too (404, or the row's 422).
"""

from __future__ import annotations

from typing import NamedTuple

ROLES = ("anonymous", "expired", "forged", "stranger", "other_buyer", "buyer", "reader", "restricted", "owner")
# Columns of a row's ``answers``: the roles that carry a valid token; the three others answer ``anonymous``.
COLUMNS = ("owner", "restricted", "reader", "buyer", "other_buyer", "stranger")


def status_class(status: int) -> str:
    if 200 <= status < 300:
        return "2xx"
    if status in (401, 403, 404):
        return str(status)
    return "4xx" if 400 <= status < 500 else str(status)


class Row(NamedTuple):
    service: str
    method: str
    path: str
    rule: str  # the SPEC requirement the row documents
    answers: str  # one class per COLUMNS entry, space-separated
    anonymous: str = "401"  # no token, an expired one, one signed by another key

    def expected(self) -> dict[str, str]:
        values = self.answers.split()
        assert len(values) == len(COLUMNS), f"{self.path}: {len(COLUMNS)} answers expected"
        return {**dict(zip(COLUMNS, values, strict=True)), **{r: self.anonymous for r in ("anonymous", "expired",
                                                                                           "forged")}}  # fmt: skip


R = Row
PUBLIC = "2xx"

# fmt: off
TABLE: list[Row] = [
    # R(service, method, path, SPEC id, answers of: owner restricted reader buyer other_buyer stranger)
    # Operations: no data, no token read (probes and scrapers call them).
    R("analytics", "GET", "/asyncapi.json", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("analytics", "GET", "/drained", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("analytics", "GET", "/health", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("analytics", "GET", "/metrics", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("analytics", "GET", "/ready", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("erp-bridge", "GET", "/asyncapi.json", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("erp-bridge", "GET", "/drained", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("erp-bridge", "GET", "/health", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("erp-bridge", "GET", "/metrics", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("erp-bridge", "GET", "/ready", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("inventory", "GET", "/asyncapi.json", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("inventory", "GET", "/drained", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("inventory", "GET", "/health", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("inventory", "GET", "/metrics", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("inventory", "GET", "/ready", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("notifications", "GET", "/asyncapi.json", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("notifications", "GET", "/drained", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("notifications", "GET", "/health", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("notifications", "GET", "/metrics", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("notifications", "GET", "/ready", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("orders", "GET", "/asyncapi.json", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("orders", "GET", "/drained", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("orders", "GET", "/health", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("orders", "GET", "/metrics", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("orders", "GET", "/ready", "R-OPS", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    # Public by design: sign-up, sign-in, the order template, price-list links, and the 1C endpoint
    # (it authenticates 1C itself and answers every call with HTTP 200 and success/failure, R-ERP-1).
    R("erp-bridge", "GET", "/exchange/1c", "public", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("erp-bridge", "POST", "/exchange/1c", "public", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("orders", "GET", "/api/v1/imports/template.xlsx", "public", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("orders", "GET", "/api/v1/links/{token}", "public", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("orders", "POST", "/api/v1/accounts", "public", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("orders", "POST", "/api/v1/auth/token", "public", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("orders", "POST", "/api/v1/links/{token}/register", "public", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    # Sessions and passwords (ADR 011): the refresh token, the reset token and the e-mail are the credentials,
    # not the bearer header. A reset request answers 202 for any address; an unknown reset token is 400.
    R("orders", "GET", "/.well-known/jwks.json", "public", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("orders", "POST", "/api/v1/auth/refresh", "public", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("orders", "POST", "/api/v1/auth/password-reset", "public", "2xx 2xx 2xx 2xx 2xx 2xx", anonymous=PUBLIC),
    R("orders", "POST", "/api/v1/auth/password-reset/confirm", "public", "4xx 4xx 4xx 4xx 4xx 4xx", anonymous="4xx"),
    # Every signed-in user ends their own session and changes their own password (the old one required).
    R("orders", "POST", "/api/v1/auth/logout", "R-ACC-1", "2xx 2xx 2xx 2xx 2xx 2xx"),
    R("orders", "POST", "/api/v1/auth/password", "R-ACC-1", "2xx 2xx 2xx 2xx 2xx 2xx"),
    # Invitation links: the token is the key (the harness's is a price-list link's, no invitation's: 404 to all).
    R("orders", "GET", "/api/v1/invitations/{token}", "public", "404 404 404 404 404 404", anonymous="404"),
    R("orders", "POST", "/api/v1/invitations/{token}/register", "public", "404 404 404 404 404 404", anonymous="404"),
    R("orders", "GET", "/api/v1/employee-invitations/{token}", "public", "404 404 404 404 404 404", anonymous="404"),
    R("orders", "POST", "/api/v1/employee-invitations/{token}/accept", "public", "404 404 404 404 404 404",
      anonymous="404"),
    # R-ACC-1: access levels per section; the owner has all; employees, buyers, price lists, settings,
    # stock and the ERP configuration are the supplier's (a buyer gets 403). The reserve drift is the owner's
    # alone, of their own tenant (the stranger gets theirs); an employee's access is changed by the owner or a
    # user manager only, never by the employee (the row sets the read-only manager's own access).
    R("inventory", "GET", "/api/v1/reserves/drift", "R-ACC-1", "2xx 403 403 403 403 2xx"),
    R("erp-bridge", "GET", "/api/v1/erp/connection", "R-ACC-1", "2xx 2xx 403 403 403 2xx"),
    R("erp-bridge", "GET", "/api/v1/erp/exchanges", "R-ACC-1", "2xx 403 403 403 403 2xx"),
    R("erp-bridge", "GET", "/api/v1/erp/products", "R-ACC-1", "2xx 2xx 2xx 403 403 2xx"),
    R("erp-bridge", "GET", "/api/v1/erp/warehouses", "R-ACC-1", "2xx 2xx 2xx 403 403 2xx"),
    R("erp-bridge", "POST", "/api/v1/erp/stock", "R-ACC-1", "2xx 2xx 403 403 403 4xx"),
    R("erp-bridge", "PUT", "/api/v1/erp/connection", "R-ACC-1", "2xx 2xx 403 403 403 4xx"),
    R("erp-bridge", "PUT", "/api/v1/erp/warehouses/{warehouse_id}", "R-ACC-1", "2xx 2xx 403 403 403 404"),
    R("inventory", "DELETE", "/api/v1/manual-reserves", "R-ACC-1", "2xx 2xx 403 403 403 404"),
    R("inventory", "GET", "/api/v1/incoming", "R-ACC-1", "2xx 2xx 2xx 403 403 2xx"),
    R("inventory", "GET", "/api/v1/manual-reserves", "R-ACC-1", "2xx 2xx 2xx 403 403 2xx"),
    R("inventory", "GET", "/api/v1/products", "R-ACC-1", "2xx 2xx 2xx 403 403 2xx"),
    R("inventory", "GET", "/api/v1/stock", "R-ACC-1", "2xx 2xx 2xx 403 403 2xx"),
    R("inventory", "GET", "/api/v1/warehouses", "R-ACC-1", "2xx 2xx 2xx 403 403 2xx"),
    R("inventory", "POST", "/api/v1/incoming", "R-ACC-1", "2xx 2xx 403 403 403 4xx"),
    R("inventory", "POST", "/api/v1/incoming/{incoming_id}/receive", "R-ACC-1", "4xx 2xx 403 403 403 404"),
    R("inventory", "POST", "/api/v1/products", "R-ACC-1", "2xx 2xx 403 403 403 2xx"),
    R("inventory", "POST", "/api/v1/stock/upload", "R-ACC-1", "2xx 2xx 403 403 403 4xx"),
    R("inventory", "POST", "/api/v1/warehouses", "R-ACC-1", "2xx 2xx 403 403 403 2xx"),
    R("inventory", "PUT", "/api/v1/manual-reserves", "R-ACC-1", "2xx 2xx 403 403 403 404"),
    R("inventory", "PUT", "/api/v1/stock", "R-ACC-1", "2xx 2xx 403 403 403 4xx"),
    R("inventory", "PUT", "/api/v1/warehouses/{warehouse_id}/stock-source", "R-ACC-1", "2xx 2xx 403 403 403 404"),
    R("notifications", "GET", "/api/v1/emails", "R-ACC-1", "2xx 403 403 403 403 2xx"),
    R("notifications", "GET", "/api/v1/emails/{email_id}", "R-ACC-1", "2xx 403 403 403 403 404"),
    R("notifications", "POST", "/api/v1/emails/{email_id}/retry", "R-ACC-1", "2xx 403 403 403 403 404"),
    R("orders", "GET", "/api/v1/buyers", "R-ACC-1", "2xx 2xx 2xx 403 403 2xx"),
    R("orders", "GET", "/api/v1/buyers/{buyer_id}", "R-ACC-1", "2xx 403 2xx 403 403 404"),
    R("orders", "GET", "/api/v1/buyers/{buyer_id}/invitations", "R-ACC-1", "2xx 403 2xx 403 403 404"),
    R("orders", "GET", "/api/v1/me", "R-ACC-1", "2xx 2xx 2xx 2xx 2xx 2xx"),
    R("orders", "GET", "/api/v1/price-lists", "R-ACC-1", "2xx 2xx 2xx 2xx 2xx 2xx"),
    R("orders", "GET", "/api/v1/price-lists/{price_list_id}", "R-ACC-1", "2xx 2xx 2xx 2xx 2xx 404"),
    R("orders", "GET", "/api/v1/price-lists/{price_list_id}/items", "R-UI-2", "2xx 2xx 2xx 2xx 2xx 404"),
    R("orders", "GET", "/api/v1/price-lists/{price_list_id}/import-template.xlsx", "R-IN-3", "2xx 2xx 2xx 403 403 404"),
    R("orders", "GET", "/api/v1/settings/time-limits", "R-ACC-1", "2xx 2xx 2xx 403 403 2xx"),
    R("orders", "GET", "/api/v1/account", "R-ACC-1", "2xx 403 403 2xx 2xx 2xx"),  # own company; owner or user manager
    R("orders", "GET", "/api/v1/users", "R-ACC-1", "2xx 2xx 2xx 2xx 2xx 2xx"),
    R("orders", "PATCH", "/api/v1/buyers/{buyer_id}", "R-ACC-1", "2xx 403 403 403 403 404"),
    # The buyer under test has its account already: the owner's invitation is refused on its merits (409).
    R("orders", "POST", "/api/v1/buyers/{buyer_id}/invitations", "R-ACC-1", "4xx 403 403 403 403 404"),
    R("orders", "PATCH", "/api/v1/price-lists/{price_list_id}/buyers", "R-ACC-1", "2xx 2xx 403 403 403 404"),
    R("orders", "PATCH", "/api/v1/users/{user_id}", "R-ACC-1", "2xx 403 403 404 404 404"),
    R("orders", "POST", "/api/v1/buyers", "R-ACC-1", "2xx 2xx 403 403 403 2xx"),
    R("orders", "POST", "/api/v1/price-lists", "R-ACC-1", "2xx 2xx 403 403 403 404"),
    R("orders", "POST", "/api/v1/price-lists/{price_list_id}/link", "R-ACC-1", "2xx 2xx 403 403 403 404"),
    R("orders", "DELETE", "/api/v1/price-lists/{price_list_id}/link", "R-ACC-1", "2xx 2xx 403 403 403 404"),
    R("orders", "POST", "/api/v1/users", "R-ACC-1", "2xx 403 403 2xx 2xx 2xx"),
    # Employees are invited by e-mail under the same rules (each account's owner invites into their own).
    R("orders", "POST", "/api/v1/users/invitations", "R-ACC-1", "2xx 403 403 2xx 2xx 2xx"),
    R("orders", "GET", "/api/v1/users/invitations", "R-ACC-1", "2xx 403 403 2xx 2xx 2xx"),
    R("orders", "PUT", "/api/v1/price-lists/{price_list_id}", "R-ACC-1", "2xx 2xx 403 403 403 404"),
    R("orders", "PUT", "/api/v1/settings/time-limits", "R-ACC-1", "2xx 2xx 403 403 403 2xx"),
    R("orders", "PATCH", "/api/v1/account", "R-ACC-1", "2xx 403 403 2xx 2xx 2xx"),
    # R-ACC-1: a manager restricted to their own buyers sees nothing of another buyer's order (404); the
    # ERP order API takes the ERP's credential or the owner's token only (ADR 012).
    R("erp-bridge", "GET", "/api/v1/erp/orders", "R-ACC-1", "2xx 403 403 403 403 2xx"),
    R("erp-bridge", "POST", "/api/v1/erp/orders/ack", "R-ACC-1", "2xx 403 403 403 403 404"),
    R("erp-bridge", "POST", "/api/v1/erp/orders/{order_id}/changes", "R-ACC-1", "2xx 403 403 403 403 404"),
    R("inventory", "GET", "/api/v1/orders/{order_id}/lines/{line_id}/reserves", "R-ACC-1", "2xx 404 2xx 403 403 404"),
    R("inventory", "GET", "/api/v1/orders/{order_id}/reserves", "R-ACC-1", "2xx 404 2xx 403 403 404"),
    R("inventory", "GET", "/api/v1/stock/reserves", "R-ACC-1", "2xx 2xx 2xx 403 403 404"),
    # R-ACC-2: commenting needs at least change on both buyers and orders (or the buyer's own order).
    R("orders", "POST", "/api/v1/orders/{order_id}/comments", "R-ACC-2", "2xx 403 403 2xx 404 404"),
    # R-ACC-3: analytics needs read on orders, scoped to a restricted manager's buyers; rebuilds are the owner's.
    R("analytics", "GET", "/api/v1/admin/rebuild/{rebuild_id}", "R-ACC-3", "2xx 2xx 2xx 403 403 404"),
    R("analytics", "GET", "/api/v1/summary", "R-ACC-3", "2xx 2xx 2xx 403 403 2xx"),
    R("analytics", "GET", "/api/v1/summary/chart.png", "R-ACC-3", "2xx 2xx 2xx 403 403 2xx"),
    R("analytics", "GET", "/api/v1/summary/chart.svg", "R-ACC-3", "2xx 2xx 2xx 403 403 2xx"),
    R("analytics", "GET", "/api/v1/summary/details", "R-ACC-3", "2xx 2xx 2xx 403 403 2xx"),
    R("analytics", "GET", "/api/v1/summary/export.xlsx", "R-ACC-3", "2xx 2xx 2xx 403 403 2xx"),
    R("analytics", "POST", "/api/v1/admin/rebuild", "R-ACC-3", "2xx 403 403 403 403 2xx"),
    # R-ACC-4: no tenant sees another's data; a buyer sees only its own orders (and the price lists open to it).
    R("inventory", "GET", "/api/v1/price-lists/{price_list_id}/availability", "R-ACC-4", "2xx 2xx 2xx 2xx 2xx 404"),
    R("notifications", "GET", "/api/v1/notifications", "R-ACC-4", "2xx 2xx 2xx 2xx 2xx 2xx"),
    R("notifications", "GET", "/api/v1/notifications/unread", "R-ACC-4", "2xx 2xx 2xx 2xx 2xx 2xx"),
    R("notifications", "GET", "/api/v1/preferences", "R-ACC-4", "2xx 2xx 2xx 2xx 2xx 2xx"),
    R("notifications", "POST", "/api/v1/notifications/read", "R-ACC-4", "404 404 404 2xx 404 404"),
    R("notifications", "PUT", "/api/v1/preferences", "R-ACC-4", "2xx 2xx 2xx 2xx 2xx 2xx"),
    R("orders", "DELETE", "/api/v1/orders/{order_id}", "R-ACC-4", "4xx 403 403 4xx 404 404"),
    R("orders", "GET", "/api/v1/orders", "R-ACC-4", "2xx 2xx 2xx 2xx 2xx 2xx"),
    R("orders", "GET", "/api/v1/orders/export.xlsx", "R-UI-3", "2xx 2xx 2xx 2xx 2xx 2xx"),
    R("orders", "GET", "/api/v1/orders/{order_id}", "R-ACC-4", "2xx 403 2xx 2xx 404 404"),
    R("orders", "GET", "/api/v1/orders/{order_id}/changes", "R-ACC-4", "2xx 403 2xx 2xx 404 404"),
    R("orders", "GET", "/api/v1/orders/{order_id}/comments", "R-ACC-4", "2xx 403 2xx 2xx 404 404"),
    R("orders", "GET", "/api/v1/orders/{order_id}/documents", "R-ACC-4", "2xx 403 2xx 2xx 404 404"),
    R("orders", "GET", "/api/v1/orders/{order_id}/documents/{document_id}", "R-ACC-4", "2xx 403 2xx 2xx 404 404"),
    R("orders", "GET", "/api/v1/orders/{order_id}/split-preview", "R-ACC-4", "2xx 403 2xx 2xx 404 404"),
    R("orders", "PATCH", "/api/v1/orders/{order_id}/profile", "R-ACC-4", "2xx 403 403 403 403 404"),
    R("orders", "POST", "/api/v1/links/{token}/join", "R-ACC-4", "403 403 403 2xx 2xx 403"),
    R("orders", "POST", "/api/v1/invitations/{token}/accept", "R-ACC-4", "403 403 403 404 404 403"),
    R("orders", "POST", "/api/v1/orders", "R-ACC-4", "403 403 403 2xx 2xx 403"),
    R("orders", "POST", "/api/v1/orders/import", "R-ACC-4", "2xx 403 403 403 403 404"),
    R("orders", "POST", "/api/v1/orders/{order_id}/documents", "R-ACC-4", "2xx 403 403 2xx 404 404"),
    R("orders", "POST", "/api/v1/orders/{order_id}/lines", "R-ACC-4", "4xx 403 403 403 403 404"),
    R("orders", "POST", "/api/v1/orders/{order_id}/parts", "R-ACC-4", "2xx 403 403 403 403 404"),
    R("orders", "POST", "/api/v1/orders/{order_id}/transitions", "R-ACC-4", "4xx 403 403 4xx 404 404"),
]
# fmt: on
