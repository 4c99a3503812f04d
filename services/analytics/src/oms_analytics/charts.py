"""Charts of a summary as PNG or SVG (matplotlib, Agg backend, no global pyplot state)."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

STATUS_LABELS = {
    "new": "New",
    "editing": "Editing",
    "awaiting_approval": "Awaiting approval",
    "agreed": "Agreed",
    "confirmed": "Confirmed",
    "shipped": "Shipped",
    "rejected": "Rejected",
    "cancelled": "Cancelled",
}
MAX_GROUPS_SHOWN = 15


def _money_axis(value: float, _pos: int) -> str:
    return f"{value:,.0f}".replace(",", " ")


def render_chart(body: dict[str, Any], fmt: str) -> bytes:
    """Series of orders (count and sum), statuses, and the groups when grouped; ``fmt`` is png or svg."""
    grouped = bool(body.get("groups"))
    fig = Figure(figsize=(11, 9.5 if grouped else 7), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    rows = 3 if grouped else 2
    title = f"Orders {body['date_from']} — {body['date_to']}"
    if body.get("group_by", "none") != "none":
        title += f", by {body['group_by']}"
    fig.suptitle(f"{title}: {body['orders_count']} orders, {body['orders_sum']}", fontsize=13)

    # 1. The series: bars for the number of orders, a line for their sum on a second axis.
    ax = fig.add_subplot(rows, 1, 1)
    series = body.get("series", [])
    labels = [p["period"] for p in series]
    xs = list(range(len(series)))
    ax.bar(xs, [p["count"] for p in series], color="#4C78A8", label="Orders")
    ax.set_ylabel("Orders")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax2 = ax.twinx()
    ax2.plot(xs, [float(Decimal(p["sum"])) for p in series], color="#F58518", marker="o", markersize=3, label="Sum")
    ax2.set_ylabel("Sum")
    ax2.yaxis.set_major_formatter(FuncFormatter(_money_axis))
    step = max(1, len(labels) // 12)
    ax.set_xticks(xs[::step], labels[::step], rotation=30, ha="right", fontsize=8)
    ax.set_title(f"Orders per {body.get('interval', 'day')}")
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles, ["Orders", "Sum"], loc="upper left")
    ax.grid(axis="y", alpha=0.3)

    # 2. Orders by status (count), with the sum written on each bar.
    ax = fig.add_subplot(rows, 1, 2)
    statuses = list(STATUS_LABELS)
    counts = [body["by_status"][s]["count"] for s in statuses]
    bars = ax.barh([STATUS_LABELS[s] for s in statuses], counts, color="#54A24B", label="Orders")
    for bar, status in zip(bars, statuses, strict=True):
        ax.annotate(
            body["by_status"][status]["sum"],
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.invert_yaxis()
    ax.set_xlabel("Orders")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("By status (label: sum)")
    ax.legend(loc="lower right")

    # 3. Groups: the biggest buyers or managers by sum.
    if grouped:
        ax = fig.add_subplot(rows, 1, 3)
        groups = body["groups"][:MAX_GROUPS_SHOWN]
        names = [str(g["name"])[:40] for g in groups]
        ax.barh(names, [float(Decimal(g["orders_sum"])) for g in groups], color="#B279A2", label="Sum")
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(FuncFormatter(_money_axis))
        ax.set_xlabel("Sum")
        ax.set_title(f"By {body['group_by']} (top {len(groups)} by sum)")
        ax.legend(loc="lower right")

    buf = io.BytesIO()
    # Real text in SVG (not glyph outlines): searchable, selectable, readable by screen readers.
    with rc_context({"svg.fonttype": "none"}):
        fig.savefig(buf, format=fmt)
    return buf.getvalue()
