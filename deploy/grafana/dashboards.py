"""Writes the Grafana dashboards of OMS: an overview and one per service (``python deploy/grafana/dashboards.py``).

RED for HTTP (rate, errors, duration) and for messages (FastStream's consumer metrics), consumer lag, outbox
age, dead letters, parked events, and each service's business figures. The JSON files are committed; a test
checks they are what this script writes and that every query names a metric the services export.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
SERVICES = ("orders", "inventory", "notifications", "erp-bridge", "analytics", "console")
CONSUMERS = ("orders", "inventory", "notifications", "erp-bridge", "analytics")


def panel(title: str, exprs: list[tuple[str, str]], unit: str = "short", kind: str = "timeseries") -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + n), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
            for n, (expr, legend) in enumerate(exprs)
        ],
    }


def http_panels(sel: str, by: str) -> list[dict[str, Any]]:
    return [
        panel(
            "HTTP requests per second",
            [(f"sum by ({by}) (rate(oms_http_requests_total{{{sel}}}[5m]))", f"{{{{{by}}}}}")],
            "reqps",
        ),
        panel(
            "HTTP 5xx ratio",
            [
                (
                    f'sum by ({by}) (rate(oms_http_requests_total{{{sel}{"," if sel else ""}status=~"5.."}}[5m]))'
                    f" / sum by ({by}) (rate(oms_http_requests_total{{{sel}}}[5m]))",
                    f"{{{{{by}}}}}",
                )
            ],
            "percentunit",
        ),
        panel(
            "HTTP duration p95",
            [
                (
                    f"histogram_quantile(0.95, sum by ({by}, le) "
                    f"(rate(oms_http_request_duration_seconds_bucket{{{sel}}}[5m])))",
                    f"{{{{{by}}}}}",
                )
            ],
            "s",
        ),
    ]


def message_panels(app_sel: str, svc_sel: str, group_sel: str, by_app: str, by_svc: str) -> list[dict[str, Any]]:
    return [
        panel(
            "Messages processed per second",
            [
                (
                    f"sum by ({by_app}, status) (rate(faststream_received_processed_messages_total{{{app_sel}}}[5m]))",
                    f"{{{{{by_app}}}}} {{{{status}}}}",
                )
            ],
            "ops",
        ),
        panel(
            "Message handling errors per second",
            [
                (
                    f"sum by ({by_app}) "
                    f"(rate(faststream_received_processed_messages_exceptions_total{{{app_sel}}}[5m]))",
                    f"{{{{{by_app}}}}}",
                )
            ],
            "ops",
        ),
        panel(
            "Message handling duration p95",
            [
                (
                    f"histogram_quantile(0.95, sum by ({by_app}, le) "
                    f"(rate(faststream_received_processed_messages_duration_seconds_bucket{{{app_sel}}}[5m])))",
                    f"{{{{{by_app}}}}}",
                )
            ],
            "s",
        ),
        panel(
            "Consumer lag (messages)",
            [(f"sum by (group, topic) (oms_consumer_lag{{{group_sel}}})", "{{group}} {{topic}}")],
        ),
        panel(
            "Oldest unpublished outbox row",
            [(f"max by ({by_svc}) (oms_outbox_oldest_age_seconds{{{svc_sel}}})", f"{{{{{by_svc}}}}}")],
            "s",
        ),
        panel(
            "Dead letters (last hour)",
            [
                (
                    f"sum by ({by_svc}, topic) (increase(oms_dlq_messages_total{{{svc_sel}}}[1h]))",
                    f"{{{{{by_svc}}}}} {{{{topic}}}}",
                )
            ],
        ),
        panel("Parked events", [(f"sum by ({by_svc}) (oms_parked_events{{{svc_sel}}})", f"{{{{{by_svc}}}}}")]),
        panel(
            "Consumers waiting for the database",
            [(f"max by ({by_svc}) (oms_consumer_waiting_for_database{{{svc_sel}}})", f"{{{{{by_svc}}}}}")],
        ),
    ]


BUSINESS: dict[str, list[dict[str, Any]]] = {
    "orders": [
        panel(
            "Orders per hour, placed or imported", [("sum by (how) (increase(oms_orders_placed_total[1h]))", "{{how}}")]
        ),
        panel(
            "Events published per second",
            [('sum(rate(oms_outbox_published_total{service="orders"}[5m]))', "published")],
            "ops",
        ),
    ],
    "inventory": [
        panel(
            "Reservations per second by outcome",
            [("sum by (outcome) (rate(oms_inventory_reservations_total[5m]))", "{{outcome}}")],
            "ops",
        ),
        panel(
            "Reserve drift",
            [
                ("max(oms_inventory_reserve_drift_items)", "items"),
                ("max(oms_inventory_reserve_drift_lines)", "lines"),
                ("max(oms_inventory_reserve_drift_units)", "units"),
            ],
        ),
    ],
    "notifications": [
        panel(
            "E-mails",
            [
                ("sum(rate(oms_notifications_emails_sent_total[5m]))", "sent/s"),
                ("sum by (reason) (rate(oms_notifications_emails_failed_total[5m]))", "failed/s {{reason}}"),
                ("sum(rate(oms_notifications_emails_retried_total[5m]))", "retried/s"),
            ],
            "ops",
        ),
        panel(
            "E-mail queue",
            [
                ("max(oms_notifications_email_queue_depth)", "waiting"),
                ("max(oms_notifications_emails_failed_current)", "failed"),
            ],
        ),
        panel("Oldest e-mail waiting", [("max(oms_notifications_email_oldest_pending_age_seconds)", "age")], "s"),
    ],
    "erp-bridge": [
        panel(
            "ERP changes applied per hour",
            [
                (
                    'sum by (event_type) (increase(oms_consumer_events_total{service="orders", '
                    'event_type=~"erp\\\\..*", outcome="processed"}[1h]))',
                    "{{event_type}}",
                )
            ],
        ),
    ],
    "analytics": [
        panel(
            "Events applied per second by type",
            [
                (
                    "sum by (event_type) "
                    '(rate(oms_consumer_events_total{service="analytics", outcome="processed"}[5m]))',
                    "{{event_type}}",
                )
            ],
            "ops",
        ),
        panel(
            "Report duration p95",
            [
                (
                    "histogram_quantile(0.95, sum by (kind, le) (rate(oms_analytics_report_seconds_bucket[5m])))",
                    "{{kind}}",
                )
            ],
            "s",
        ),
    ],
    # The console has no business data of its own: what it asks of the services, and how it fares.
    "console": [
        panel(
            "Service calls per second",
            [("sum by (service, status) (rate(oms_console_service_calls_total[5m]))", "{{service}} {{status}}")],
            "ops",
        ),
        panel(
            "Failed service calls per second (unreachable or 5xx)",
            [('sum by (service) (rate(oms_console_service_calls_total{status=~"0|5.."}[5m]))', "{{service}}")],
            "ops",
        ),
        panel(
            "Service calls per page p95",
            [("histogram_quantile(0.95, sum by (le) (rate(oms_console_service_calls_per_request_bucket[5m])))", "p95")],
        ),
    ],
}


def layout(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for n, p in enumerate(panels):
        p["id"] = n + 1
        p["gridPos"] = {"x": (n % 3) * 8, "y": (n // 3) * 8, "w": 8, "h": 8}
    return panels


def dashboard(uid: str, title: str, panels: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["oms"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "panels": layout(panels),
    }


def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard."""
    overview = [
        panel("Ready replicas", [("sum by (service) (oms_ready)", "{{service}}")], kind="stat"),
        *http_panels("", "service"),
        *message_panels("", "", "", "app_name", "service"),
        BUSINESS["orders"][0],
        BUSINESS["inventory"][0],
        BUSINESS["notifications"][0],
    ]
    result = {"oms-overview.json": dashboard("oms-overview", "OMS overview", overview)}
    for name in SERVICES:
        sel = f'service="{name}"'
        panels: list[dict[str, Any]] = []
        if name in CONSUMERS:
            panels += [panel("Ready replicas", [(f"sum(oms_ready{{{sel}}})", "ready")], kind="stat")]
            panels += http_panels(sel, "route")
            panels += message_panels(f'app_name="oms-{name}"', sel, f'group="oms-{name}"', "handler", "service")
        panels += [dict(p) for p in BUSINESS[name]]
        result[f"oms-{name}.json"] = dashboard(f"oms-{name}", f"OMS {name}", json.loads(json.dumps(panels)))
    return result


def render(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, board in dashboards().items():
        (OUT / name).write_text(render(board))


if __name__ == "__main__":
    main()
