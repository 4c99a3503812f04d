"""Business figures of the orders service on its Prometheus registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

# How an order came in: placed by a buyer, or imported from a spreadsheet by a manager for a buyer.
HOW = ("placed", "imported")


class OrdersMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.orders = Counter(
            "oms_orders_placed_total",
            "Orders that came in, by how: placed by a buyer or imported",
            ["how"],
            registry=registry,
        )
        for how in HOW:  # at zero from the start: a rate or an alert sees the first order after a restart
            self.orders.labels(how)

    def placed(self, how: str) -> None:
        self.orders.labels(how).inc()
