"""Use cases of the inventory service: event handlers and HTTP commands over one database."""

from __future__ import annotations

from oms_inventory.handlers.commands import Commands
from oms_inventory.handlers.events import EventHandlers
from oms_inventory.handlers.support import InventoryMetrics, parse_upload
from oms_shared.db import Database


class Inventory(EventHandlers, Commands):
    """The service's use cases with their dependencies (database, metrics)."""

    def __init__(self, db: Database, metrics: InventoryMetrics) -> None:
        self.db = db
        self.metrics = metrics


__all__ = ["Inventory", "InventoryMetrics", "parse_upload"]
