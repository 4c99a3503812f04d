"""Counters an alert watches have a series at 0 from the start, so the first increase after a restart is seen."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from oms_inventory.handlers.support import InventoryMetrics
from oms_notifications.mailer import MailerMetrics
from oms_orders.metrics import OrdersMetrics
from oms_shared.consumer import OUTCOMES, ConsumerMetrics


def test_consumer_counters_start_at_zero_for_every_subscribed_topic_and_event() -> None:
    """Oms_dlq_messages_total exists per subscribed topic before the first dead letter."""
    registry = CollectorRegistry()
    ConsumerMetrics(registry, "inventory").initialise(["order.placed", "stock.updated"], ["order.placed"])
    for topic in ("order.placed", "stock.updated"):
        assert registry.get_sample_value("oms_dlq_messages_total", {"service": "inventory", "topic": topic}) == 0
    for outcome in OUTCOMES:
        labels = {"service": "inventory", "event_type": "order.placed", "outcome": outcome}
        assert registry.get_sample_value("oms_consumer_events_total", labels) == 0
    assert registry.get_sample_value("oms_parked_events", {"service": "inventory"}) == 0


def test_business_counters_start_at_zero_for_every_known_outcome() -> None:
    """Reservations by outcome and failed e-mails by reason are series before their first event."""
    registry = CollectorRegistry()
    InventoryMetrics(registry)
    MailerMetrics(registry)
    OrdersMetrics(registry)
    for how in ("placed", "imported"):
        assert registry.get_sample_value("oms_orders_placed_total", {"how": how}) == 0
    for outcome in ("full", "partial", "none"):
        assert registry.get_sample_value("oms_inventory_reservations_total", {"outcome": outcome}) == 0
    for reason in ("template", "message", "connect", "error"):
        assert registry.get_sample_value("oms_notifications_emails_failed_total", {"reason": reason}) == 0
