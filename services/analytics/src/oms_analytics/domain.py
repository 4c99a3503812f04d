"""Pure analytics domain: the per-order read model, how events update it, and report parameters."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from oms_shared import money as rules

STATUSES = (
    "new",
    "editing",
    "awaiting_approval",
    "agreed",
    "confirmed",
    "shipped",
    "rejected",
    "cancelled",
)
GROUP_BYS = ("none", "buyer", "manager")
INTERVALS = ("day", "week", "month")
MAX_RANGE_YEARS = 5
CENT = Decimal("0.01")

# A version stamp of one field group: (per-aggregate sequence, occurred_at as ISO text).
# Comparing stamps makes updates order-insensitive: an older event never overwrites a newer fact.
Stamp = tuple[int, str]
ZERO_STAMP: Stamp = (-1, "")


class ReportError(ValueError):
    """Bad report parameters; ``code`` is the machine-readable reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def to_minor(value: Decimal | int | str | float | None) -> int:
    """Money as integer hundredths: exact sums on SQLite and PostgreSQL alike."""
    if value is None:
        return 0
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    return int(rules.kopecks(amount) * 100)


def from_minor(value: int | None) -> Decimal:
    return rules.kopecks(Decimal(value or 0) / 100)


def money(value: int | None) -> str:
    """Money for JSON: a string with two decimals."""
    return str(from_minor(value))


def stamp_of(sequence: int, occurred_at: datetime) -> Stamp:
    return (sequence, occurred_at.astimezone(UTC).isoformat())


@dataclass(frozen=True)
class OrderChange:
    """What one order event says about an order; ``None`` means "this event does not say"."""

    order_id: str
    tenant_id: str
    stamp: Stamp
    number: str | None = None
    buyer_id: str | None = None
    buyer_name: str | None = None
    price_list_id: str | None = None
    parent_order_id: str | None = None
    placed_at: datetime | None = None
    status: str | None = None
    status_at: datetime | None = None
    total_minor: int | None = None
    paid_minor: int | None = None
    responsible_known: bool = False
    responsible_user_id: str | None = None
    overdue: bool | None = None
    deleted_by_supplier: bool | None = None


@dataclass
class OrderFacts:
    """One row of the order read model, kept current from events."""

    order_id: str
    tenant_id: str
    number: str = ""
    buyer_id: str | None = None
    buyer_name: str = ""
    responsible_user_id: str | None = None
    price_list_id: str | None = None
    parent_order_id: str | None = None
    status: str = "new"
    total_minor: int = 0
    paid_minor: int = 0
    placed_at: datetime | None = None
    confirmed_at: datetime | None = None
    shipped_at: datetime | None = None
    rejected_at: datetime | None = None
    cancelled_at: datetime | None = None
    overdue: bool = False
    deleted_by_supplier: bool = False
    versions: dict[str, Stamp] = field(default_factory=dict)

    @property
    def placed_day(self) -> date | None:
        return self.placed_at.astimezone(UTC).date() if self.placed_at else None

    @property
    def hours_to_confirm(self) -> float | None:
        return _hours(self.placed_at, self.confirmed_at)

    @property
    def hours_to_ship(self) -> float | None:
        return _hours(self.confirmed_at, self.shipped_at)


def _hours(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0) / 3600


def _earliest(current: datetime | None, candidate: datetime | None) -> datetime | None:
    """Milestones keep the first time the order reached a status, whatever order events arrive in."""
    if candidate is None:
        return current
    if current is None:
        return candidate
    return min(current, candidate)


MILESTONES = {
    "confirmed": "confirmed_at",
    "shipped": "shipped_at",
    "rejected": "rejected_at",
    "cancelled": "cancelled_at",
}


def apply_change(facts: OrderFacts | None, change: OrderChange) -> OrderFacts:
    """The order after ``change``; applying the same change twice, or an older one late, changes nothing."""
    current = facts or OrderFacts(order_id=change.order_id, tenant_id=change.tenant_id)
    new = replace(current, versions=dict(current.versions))

    def newer(group: str) -> bool:
        if change.stamp > new.versions.get(group, ZERO_STAMP):
            new.versions[group] = change.stamp
            return True
        return False

    # Identity fields do not change over an order's life: fill them from whichever event has them.
    if change.number:
        new.number = change.number
    if change.buyer_id:
        new.buyer_id = change.buyer_id
    if change.buyer_name:
        new.buyer_name = change.buyer_name
    if change.price_list_id:
        new.price_list_id = change.price_list_id
    if change.parent_order_id:
        new.parent_order_id = change.parent_order_id
    new.placed_at = _earliest(new.placed_at, change.placed_at)

    if change.status is not None:
        if change.status in MILESTONES:
            attr = MILESTONES[change.status]
            setattr(new, attr, _earliest(getattr(new, attr), change.status_at))
        if newer("status"):
            new.status = change.status
        # A status change ends the time limit of the previous status; a later overdue event sets it again.
        if change.overdue is None and change.status_at is not None and newer("overdue"):
            new.overdue = False
    if change.total_minor is not None and newer("total"):
        new.total_minor = change.total_minor
    if change.paid_minor is not None and newer("paid"):
        new.paid_minor = change.paid_minor
    if change.responsible_known and newer("responsible"):
        new.responsible_user_id = change.responsible_user_id
    if change.overdue is not None and newer("overdue"):
        new.overdue = change.overdue
    if change.deleted_by_supplier is not None:
        new.deleted_by_supplier = new.deleted_by_supplier or change.deleted_by_supplier
    return new


def lines_total_minor(lines: list[tuple[Decimal, Decimal]]) -> int:
    """Order total from (quantity, price) pairs, prices VAT included, by the shared money rules (half-up kopecks)."""
    return to_minor(rules.order_total(lines))


def first_present(attributes: dict[str, object], *names: str) -> tuple[bool, object]:
    """The first of ``names`` present in an event's kind-specific attributes."""
    for name in names:
        if name in attributes:
            return True, attributes[name]
    return False, None


# ---------------------------------------------------------------- daily rollups

# Summaries over a year of a big supplier read these rollups instead of every order: per day and
# status the count and sums, and histograms of the hours to confirm and to ship for the medians.
DailyKey = tuple[date, str, bool, bool, bool]  # day, status, reached confirmed, reached shipped, overdue
# The same per buyer and per responsible manager, so grouped summaries read rollups too.
GroupKey = tuple[date, str, str, bool, bool, bool]  # day, buyer or manager id (NO_GROUP), status, flags as above
NO_GROUP = ""  # the key of orders without a responsible manager (a primary key column cannot be NULL)
HoursKey = tuple[date, str, int]  # day, "confirm" | "ship", bin
HOURS_BIN_RATIO = 1.05  # bins 5 % wide: a histogram median is within 2.5 % of the exact one


def hours_bin(hours: float) -> int:
    """Logarithmic bin of a duration: fine for minutes, coarse for weeks, few bins per day."""
    return int(math.log1p(max(hours, 0.0) * 60) / math.log(HOURS_BIN_RATIO))


def bin_hours(bin_: int) -> float:
    """The duration a bin stands for (its geometric middle), in hours."""
    return max(math.pow(HOURS_BIN_RATIO, bin_ + 0.5) - 1, 0.0) / 60


K = TypeVar("K", DailyKey, GroupKey)


def _count(rows: dict[K, list[int]], key: K, facts: OrderFacts, sign: int) -> None:
    slot = rows.setdefault(key, [0, 0, 0])
    slot[0] += sign
    slot[1] += sign * facts.total_minor
    slot[2] += sign * facts.paid_minor


@dataclass
class RollupDelta:
    """What one batch of order changes adds to (or takes from) the daily, per-buyer and per-manager rollups.

    A change is the old facts taken away and the new ones added, so an order whose buyer or responsible
    manager changes leaves its old group and joins the new one.
    """

    daily: dict[DailyKey, list[int]] = field(default_factory=dict)  # [orders, total_minor, paid_minor]
    hours: dict[HoursKey, int] = field(default_factory=dict)
    by_buyer: dict[GroupKey, list[int]] = field(default_factory=dict)
    by_manager: dict[GroupKey, list[int]] = field(default_factory=dict)

    def add(self, facts: OrderFacts | None, sign: int) -> None:
        if facts is None or facts.placed_day is None:
            return  # an order seen only through later events until its order.placed arrives
        day = facts.placed_day
        status, confirmed, shipped = facts.status, facts.confirmed_at is not None, facts.shipped_at is not None
        _count(self.daily, (day, status, confirmed, shipped, facts.overdue), facts, sign)
        buyer = facts.buyer_id or NO_GROUP
        _count(self.by_buyer, (day, buyer, status, confirmed, shipped, facts.overdue), facts, sign)
        manager = facts.responsible_user_id or NO_GROUP
        _count(self.by_manager, (day, manager, status, confirmed, shipped, facts.overdue), facts, sign)
        for metric, hours in (("confirm", facts.hours_to_confirm), ("ship", facts.hours_to_ship)):
            if hours is not None:
                hkey: HoursKey = (day, metric, hours_bin(hours))
                self.hours[hkey] = self.hours.get(hkey, 0) + sign

    def change(self, old: OrderFacts | None, new: OrderFacts) -> None:
        self.add(old, -1)
        self.add(new, +1)

    def nonzero(self) -> tuple[dict[DailyKey, list[int]], dict[HoursKey, int]]:
        daily = {k: v for k, v in self.daily.items() if any(v)}
        hours = {k: v for k, v in self.hours.items() if v}
        return daily, hours

    def nonzero_groups(self) -> tuple[dict[GroupKey, list[int]], dict[GroupKey, list[int]]]:
        """The per-buyer and per-manager rows that change."""
        by_buyer = {k: v for k, v in self.by_buyer.items() if any(v)}
        by_manager = {k: v for k, v in self.by_manager.items() if any(v)}
        return by_buyer, by_manager


def histogram_median(bins: dict[int, int]) -> float | None:
    """Median of durations known only by their bins."""
    total = sum(n for n in bins.values() if n > 0)
    if total == 0:
        return None
    ordered = sorted((b, n) for b, n in bins.items() if n > 0)

    def nth(k: int) -> float:  # the k-th smallest value, 0-based
        seen = 0
        for b, n in ordered:
            seen += n
            if k < seen:
                return bin_hours(b)
        return bin_hours(ordered[-1][0])

    if total % 2:
        return nth(total // 2)
    return (nth(total // 2 - 1) + nth(total // 2)) / 2


# ---------------------------------------------------------------- report parameters


@dataclass(frozen=True)
class ReportQuery:
    date_from: date
    date_to: date
    group_by: str = "none"
    interval: str = "day"


def _parse_day(value: str | None, name: str) -> date:
    if value is None or not value.strip():
        raise ReportError("date_range_missing", f"{name} is required (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ReportError("invalid_date", f"{name} is not a date in the form YYYY-MM-DD: {value!r}") from exc


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def parse_report_query(
    date_from: str | None, date_to: str | None, group_by: str | None = None, interval: str | None = None
) -> ReportQuery:
    """Validate report parameters; every refusal names its reason."""
    start = _parse_day(date_from, "date_from")
    end = _parse_day(date_to, "date_to")
    if end < start:
        raise ReportError("date_range_inverted", f"date_to {end} is before date_from {start}")
    if end >= add_years(start, MAX_RANGE_YEARS):
        raise ReportError("date_range_too_long", f"the range may span at most {MAX_RANGE_YEARS} years")
    group = (group_by or "none").strip().lower()
    if group not in GROUP_BYS:
        raise ReportError("unknown_group_by", f"group_by must be one of {', '.join(GROUP_BYS)}; got {group_by!r}")
    step = (interval or "day").strip().lower()
    if step not in INTERVALS:
        raise ReportError("unknown_interval", f"interval must be one of {', '.join(INTERVALS)}; got {interval!r}")
    return ReportQuery(start, end, group, step)


def period_start(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def period_end(start: date, interval: str) -> date:
    if interval == "week":
        return start + timedelta(days=6)
    if interval == "month":
        nxt = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
        return nxt - timedelta(days=1)
    return start


def periods(start: date, end: date, interval: str) -> list[date]:
    """Every period start touching [start, end], so charts show empty periods as zero."""
    out: list[date] = []
    current = period_start(start, interval)
    while current <= end:
        out.append(current)
        current = period_end(current, interval) + timedelta(days=1)
    return out


# ---------------------------------------------------------------- details (the orders behind a figure)

FIGURES = (
    "all",
    "confirmed",
    "shipped",
    "rejected",
    "cancelled",
    "overdue",
    "paid",
    *(f"status:{s}" for s in STATUSES),
)
SORTS = ("placed_at", "number", "total", "paid", "status", "buyer")
MAX_LIMIT = 500


@dataclass(frozen=True)
class DetailsQuery:
    report: ReportQuery
    figure: str = "all"
    buyer_id: str | None = None
    manager_id: str | None = None  # "none": orders without a responsible manager
    period_from: date | None = None
    period_to: date | None = None
    sort: str = "placed_at"
    descending: bool = True
    limit: int = 50
    offset: int = 0


def _parse_int(value: str | int | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ReportError("invalid_paging", f"{name} must be an integer; got {value!r}") from exc


def parse_details_query(
    report: ReportQuery,
    *,
    figure: str | None = None,
    buyer_id: str | None = None,
    manager_id: str | None = None,
    period: str | None = None,
    sort: str | None = None,
    limit: str | int | None = None,
    offset: str | int | None = None,
) -> DetailsQuery:
    """Validate a details request: which figure, which group, which period, order and page."""
    fig = (figure or "all").strip().lower()
    if fig in STATUSES and fig not in ("confirmed", "shipped", "rejected", "cancelled"):
        fig = f"status:{fig}"
    if fig not in FIGURES:
        raise ReportError("unknown_figure", f"figure must be one of {', '.join(FIGURES)}; got {figure!r}")
    raw_sort = (sort or "-placed_at").strip()
    descending = raw_sort.startswith("-")
    key = raw_sort.lstrip("-+")
    if key not in SORTS:
        raise ReportError("unknown_sort", f"sort must be one of {', '.join(SORTS)} (prefix - for descending)")
    lim = _parse_int(limit, "limit", 50)
    off = _parse_int(offset, "offset", 0)
    if not 1 <= lim <= MAX_LIMIT or off < 0:
        raise ReportError("invalid_paging", f"limit must be 1..{MAX_LIMIT} and offset at least 0")
    p_from = p_to = None
    if period:
        try:
            day = date.fromisoformat(period.strip())
        except ValueError as exc:
            raise ReportError("invalid_period", f"period is not a date YYYY-MM-DD: {period!r}") from exc
        p_from = max(period_start(day, report.interval), report.date_from)
        p_to = min(period_end(period_start(day, report.interval), report.interval), report.date_to)
        if p_from > p_to:
            raise ReportError("invalid_period", "the period lies outside the date range")
    for name, value in (("buyer_id", buyer_id), ("manager_id", manager_id)):
        if value and value != "none" and not _is_uuid(value):
            raise ReportError("invalid_id", f"{name} is not an id: {value!r}")
    return DetailsQuery(
        report=report,
        figure=fig,
        buyer_id=buyer_id or None,
        manager_id=manager_id or None,
        period_from=p_from,
        period_to=p_to,
        sort=key,
        descending=descending,
        limit=lim,
        offset=off,
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
